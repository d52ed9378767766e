package reports_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/reporttest"
)

// TestHlogRoundTrip: the interval log holds one histogram per window and
// group with latency, tagged and stamped with the window's real bounds,
// and HdrHistogram's own log reader gets back every window's count and
// quantiles (in nanoseconds, the unit the log's tools assume).
func TestHlogRoundTrip(t *testing.T) {
	r := reporttest.Fixture(t, 1)
	// A window cut late: 2.5 s long.
	r.Windows[4].Offset, r.Windows[5].Offset = 3.5, 3.5
	r.Windows[6].Start, r.Windows[7].Start = 3.5, 3.5
	var b bytes.Buffer
	if err := r.WriteHlog(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "#[Histogram log format version 1.3]") || !strings.Contains(b.String(), "#[StartTime: ") {
		t.Fatalf("no header:\n%.400s", b.String())
	}
	type want struct {
		tag        string
		start, end float64
		h          reports.Histogram
	}
	var wants []want
	for _, w := range r.Windows {
		if w.Latency != nil {
			wants = append(wants, want{w.Group, w.Start, w.Offset, *w.Latency})
		}
		if w.LatencyCorrected != nil {
			wants = append(wants, want{w.Group + reports.HlogCorrectedSuffix, w.Start, w.Offset, *w.LatencyCorrected})
		}
	}
	rd := hdrhistogram.NewHistogramLogReader(&b)
	startMs := r.Start.UnixMilli()
	for i, w := range wants {
		got, err := rd.NextIntervalHistogram()
		if err != nil || got == nil {
			t.Fatalf("interval %d (%s at %gs): %v", i, w.tag, w.end, err)
		}
		if got.Tag() != w.tag {
			t.Errorf("interval %d: tag %q, want %q", i, got.Tag(), w.tag)
		}
		if s, e := got.StartTimeMs()-startMs, got.EndTimeMs()-startMs; s != int64(w.start*1e3) || e != int64(w.end*1e3) {
			t.Errorf("interval %d (%s): %d..%d ms after the start, want %g..%g s", i, w.tag, s, e, w.start, w.end)
		}
		if got.TotalCount() != w.h.Count {
			t.Errorf("interval %d (%s): %d values, want %d", i, w.tag, got.TotalCount(), w.h.Count)
		}
		for _, q := range []struct {
			q    float64
			inMS float64
		}{{50, w.h.P50MS}, {99, w.h.P99MS}, {100, w.h.MaxMS}} {
			gotMS := float64(got.ValueAtQuantile(q.q)) / 1e6
			if math.Abs(gotMS-q.inMS) > 0.002*q.inMS+0.001 {
				t.Errorf("interval %d (%s): p%g %.4f ms, want %.4f ms", i, w.tag, q.q, gotMS, q.inMS)
			}
		}
	}
	if h, err := rd.NextIntervalHistogram(); h != nil || err != nil && !errors.Is(err, io.EOF) {
		t.Errorf("after the last window: %v, %v", h, err)
	}
}

// TestReadV2: a v2 report's windows get the start they had (the group's
// previous window's end, 0 for the first) and read as v3.
func TestReadV2(t *testing.T) {
	r := reporttest.Fixture(t, 1)
	r.Windows[2].Offset, r.Windows[3].Offset = 2.7, 2.7 // the second window of each group ended late
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	v2 := bytes.Replace(b.Bytes(), []byte(`"`+reports.Schema+`"`), []byte(`"`+reports.SchemaV2+`"`), 1)
	v2 = bytes.ReplaceAll(v2, []byte(`"start_seconds"`), []byte(`"unknown_start"`))
	got, err := reports.ReadJSON(bytes.NewReader(v2))
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != reports.Schema {
		t.Errorf("schema %s", got.Schema)
	}
	for i, w := range got.Windows {
		want := 0.0
		if i >= 2 {
			want = got.Windows[i-2].Offset
		}
		if w.Start != want {
			t.Errorf("window %d (%s, ends %g): start %g, want %g", i, w.Group, w.Offset, w.Start, want)
		}
	}
}
