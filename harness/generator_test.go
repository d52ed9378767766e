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

// TestGenWarning: the warning comes once enough cuts of the duration had
// a group window marked generator_saturated, and never for the drain's
// windows, a few marked ones, or slow generator figures no window was
// marked for.
func TestGenWarning(t *testing.T) {
	gen := func(n int, sched float64) []reports.GeneratorWindow {
		var ws []reports.GeneratorWindow
		for i := 1; i <= n; i++ {
			ws = append(ws, reports.GeneratorWindow{Start: float64(i - 1), Offset: float64(i), SchedP99MS: sched, HiccupP99MS: 1})
		}
		return ws
	}
	marked := func(at ...int) []reports.Window {
		var ws []reports.Window
		for _, i := range at {
			ws = append(ws, reports.Window{Start: float64(i - 1), Offset: float64(i), Group: "g", Saturated: true},
				reports.Window{Start: float64(i - 1), Offset: float64(i), Group: "h"})
		}
		return ws
	}
	tests := []struct {
		name    string
		gen     []reports.GeneratorWindow
		windows []reports.Window
		want    bool
	}{
		{"nothing marked", gen(5, 1), nil, false},
		{"slow generator, nothing marked", gen(5, 40), marked(), false},
		{"no windows", nil, nil, false},
		{"two marked of five", gen(5, 40), marked(2, 4), false},
		{"three marked of five", gen(5, 40), marked(1, 3, 5), true},
		{"marked only in the drain", gen(8, 40), marked(6, 7, 8), false},
		{"three marked of twenty", gen(20, 40), marked(1, 2, 3), false}, // judged over 20 s below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			duration := 5.0
			if len(tt.gen) == 20 {
				duration = 20
			}
			got := genWarning(tt.gen, tt.windows, duration)
			if (got != "") != tt.want {
				t.Fatalf("warning %q, want one: %v", got, tt.want)
			}
			if tt.want && (!strings.Contains(got, "3 of 5 windows") || !strings.Contains(got, "40.0 ms")) {
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
// generator's scheduling delay or oversleep p99 is at least genMarkFloor
// and reports.SaturatedShare of the window's latency p99, and only then.
func TestWindowMarkedSaturated(t *testing.T) {
	for _, tc := range []struct {
		latency, sched time.Duration
		want           bool
	}{
		{20 * time.Millisecond, 15 * time.Millisecond, true},
		{20 * time.Millisecond, 4 * time.Millisecond, false},
		{100 * time.Millisecond, 15 * time.Millisecond, false},
		// Under the floor: a short burst's queueing, or the timer's own
		// slack, beside a millisecond latency is not saturation.
		{2 * time.Millisecond, 8 * time.Millisecond, false},
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
