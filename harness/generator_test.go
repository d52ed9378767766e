package harness

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// TestGenWarning: the warning comes once enough windows of the duration
// were slow for the generator, and never for the drain's windows or a few
// slow ones.
func TestGenWarning(t *testing.T) {
	win := func(off, sched, hiccup float64) reports.GeneratorWindow {
		return reports.GeneratorWindow{Start: off - 1, Offset: off, SchedP99MS: sched, HiccupP99MS: hiccup}
	}
	quiet := []reports.GeneratorWindow{win(1, 0.5, 1), win(2, 0.3, 0.9), win(3, 0.4, 1.1), win(4, 0.2, 0.8), win(5, 0.5, 1)}
	tests := []struct {
		name string
		ws   []reports.GeneratorWindow
		want bool
	}{
		{"quiet", quiet, false},
		{"no windows", nil, false},
		{"two slow of five", append(quiet[:3:3], win(4, 30, 1), win(5, 1, 30)), false},
		{"three slow of five, by either figure", []reports.GeneratorWindow{win(1, 30, 1), win(2, 1, 30), win(3, 6, 6), win(4, 0.2, 0.8), win(5, 0.5, 1)}, true},
		{"slow only in the drain", append(quiet, win(6, 50, 50), win(7, 50, 50), win(8, 50, 50)), false},
		{"three slow of twenty", append(append(append(quiet, quiet...), append(quiet, quiet...)...)[:17], win(18, 9, 9), win(19, 9, 9), win(20, 9, 9)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := genWarning(tt.ws, 5)
			if (got != "") != tt.want {
				t.Fatalf("warning %q, want one: %v", got, tt.want)
			}
			if tt.want && !strings.Contains(got, "3 of 5 windows") {
				t.Errorf("warning %q does not give the figures", got)
			}
		})
	}
}

// TestBucketQuantiles: the p99 and maximum of the counts between two
// cumulative readings, as bucket upper bounds (the last bucket's lower
// bound when it is unbounded).
func TestBucketQuantiles(t *testing.T) {
	buckets := []float64{0, 0.001, 0.002, 0.004, math.Inf(1)}
	before := []uint64{5, 5, 5, 5}
	now := []uint64{5 + 98, 5 + 1, 5 + 1, 5}
	p99, mx := bucketQuantiles(now, before, buckets)
	if p99 != 2 || mx != 4 {
		t.Errorf("p99 %v ms, max %v ms; want 2 and 4", p99, mx)
	}
	now[3] += 1
	if _, mx := bucketQuantiles(now, before, buckets); mx != 4 {
		t.Errorf("max in the unbounded bucket: %v ms, want its lower bound 4", mx)
	}
	if p99, mx := bucketQuantiles(before, before, buckets); p99 != 0 || mx != 0 {
		t.Errorf("nothing between the readings: %v, %v", p99, mx)
	}
}

// TestWindowMarkedSaturated: a group's window is marked when the
// generator's scheduling delay or oversleep p99 is at least
// reports.SaturatedShare of the window's latency p99, and only then.
func TestWindowMarkedSaturated(t *testing.T) {
	for _, tc := range []struct {
		latency, sched time.Duration
		want           bool
	}{
		{10 * time.Millisecond, 8 * time.Millisecond, true},
		{10 * time.Millisecond, 2 * time.Millisecond, false},
		{100 * time.Millisecond, 8 * time.Millisecond, false},
	} {
		start := time.Unix(100, 0)
		g := &group{spec: scenario.Group{Name: "g"}, rec: record.New(1, nil)}
		r := &run{}
		r.start, r.groups, r.gen = start, []*group{g}, newGenMeter(time.Now)
		for range 100 {
			g.rec.Client(0).Received(tc.latency)
		}
		b := &cutBatch{cuts: make([]record.Cut, 1), dropped: make([]int, 1), start: start, end: start.Add(time.Second),
			gen: genCut{hiccups: record.NewHistogram()}}
		g.rec.Cut(&b.cuts[0])
		// Every goroutine wake-up in the window waited about sched.
		s := tc.sched.Seconds()
		b.gen.buckets = []float64{0, s / 2, s, math.Inf(1)}
		b.gen.sched = []uint64{0, 0, 1000}
		r.window(b, &genCut{})
		if len(r.windows) != 1 || r.windows[0].Saturated != tc.want {
			t.Errorf("latency %v, scheduling p99 %v: windows %+v, want saturated %v", tc.latency, tc.sched, r.windows, tc.want)
		}
	}
}
