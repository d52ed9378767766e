package metrics

import (
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/common/expfmt"

	"github.com/streambench/streambench/harness/record"
)

// BenchmarkObserveSecond is the sampler's metrics work for one second of a
// busy group (one op): a window of 600,000 latencies spread from 50 µs to
// 50 ms (a log-uniform draw), added to the set. Its cost is per HDR
// bucket, so it is the same at 6,000 or 6,000,000 messages a second.
func BenchmarkObserveSecond(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	win := record.NewHistogram()
	for range 600_000 {
		v := int64(50 * math.Pow(1000, r.Float64())) // 50 µs .. 50 ms
		if err := win.RecordValue(v); err != nil {
			b.Fatal(err)
		}
	}
	s := New(Labels{Scenario: "bench"})
	smp := Sample{Groups: []Group{{Name: "pow", RPC: "Math/Pow", Received: 600_000, Latency: win, Ends: map[string]uint64{"complete": 10_000}}}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.Observe(smp)
	}
}

// BenchmarkScrape is one scrape of that set in the text format.
func BenchmarkScrape(b *testing.B) {
	win := record.NewHistogram()
	for v := int64(50); v < 50_000; v = v*101/100 + 1 {
		_ = win.RecordValues(v, 10)
	}
	s := New(Labels{Scenario: "bench"})
	s.Observe(Sample{Groups: []Group{{Name: "pow", RPC: "Math/Pow", Latency: win}}})
	b.ReportAllocs()
	for range b.N {
		mfs, err := s.Gatherer().Gather()
		if err != nil {
			b.Fatal(err)
		}
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(io.Discard, mf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
