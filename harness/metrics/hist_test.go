package metrics

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/streambench/streambench/harness/record"
)

// TestHistMatchesClientGolang: the histogram a Set builds from an HDR
// histogram, a bucket at a time, is the one client_golang builds observing
// the same values one by one (native schema, spans and deltas, classic
// buckets, count and sum).
func TestHistMatchesClientGolang(t *testing.T) {
	for _, c := range []struct {
		name   string
		values []int64 // µs, each recorded `times` times
		times  int64
	}{
		{"one", []int64{1500}, 1},
		{"bounds", []int64{100, 250, 10000, 10001, 60_000_000}, 3},
		{"spread", []int64{1, 2, 3, 7, 900, 1024, 2047, 2048, 5000, 77_777, 1_000_000, 3_000_000_000}, 5},
		{"gap", []int64{10, 11, 5_000_000}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			hdr := record.NewHistogram()
			for _, v := range c.values {
				if err := hdr.RecordValues(v, c.times); err != nil {
					t.Fatal(err)
				}
			}
			want := prometheus.NewHistogram(prometheus.HistogramOpts{
				Name: "x", Help: "x", Buckets: classicBuckets,
				NativeHistogramBucketFactor: 1.1, NativeHistogramZeroThreshold: prometheus.DefNativeHistogramZeroThreshold,
			})
			for _, b := range hdr.Distribution() {
				for range b.Count {
					want.Observe(float64(b.From) / 1e6)
				}
			}
			var h hist
			h.addHDR(hdr)
			got, err := h.metric(prometheus.NewDesc("x", "x", nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			var gm, wm dto.Metric
			if err := got.Write(&gm); err != nil {
				t.Fatal(err)
			}
			if err := want.Write(&wm); err != nil {
				t.Fatal(err)
			}
			g, w := gm.GetHistogram(), wm.GetHistogram()
			if g.GetSchema() != w.GetSchema() || g.GetSampleCount() != w.GetSampleCount() ||
				math.Abs(g.GetSampleSum()-w.GetSampleSum()) > 1e-9*math.Max(1, w.GetSampleSum()) {
				t.Errorf("schema/count/sum: got %d %d %g, want %d %d %g", g.GetSchema(), g.GetSampleCount(), g.GetSampleSum(), w.GetSchema(), w.GetSampleCount(), w.GetSampleSum())
			}
			if !equalSpans(g.GetPositiveSpan(), w.GetPositiveSpan()) || !equalInts(g.GetPositiveDelta(), w.GetPositiveDelta()) {
				t.Errorf("native buckets differ:\n got spans %v deltas %v\nwant spans %v deltas %v", g.GetPositiveSpan(), g.GetPositiveDelta(), w.GetPositiveSpan(), w.GetPositiveDelta())
			}
			if len(g.GetBucket()) != len(w.GetBucket()) {
				t.Fatalf("classic buckets: %d, want %d", len(g.GetBucket()), len(w.GetBucket()))
			}
			for i := range w.GetBucket() {
				if !proto.Equal(g.GetBucket()[i], w.GetBucket()[i]) {
					t.Errorf("classic bucket %d: got %v, want %v", i, g.GetBucket()[i], w.GetBucket()[i])
				}
			}
		})
	}
}

func equalSpans(a, b []*dto.BucketSpan) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].GetOffset() != b[i].GetOffset() || a[i].GetLength() != b[i].GetLength() {
			return false
		}
	}
	return true
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
