package load

import (
	"math"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

func arrivals(a scenario.Arrival, d time.Duration) []time.Duration {
	var out []time.Duration
	it := NewArrivals(a, d)
	for {
		off, ok := it.Next()
		if !ok {
			return out
		}
		out = append(out, off)
	}
}

func TestConstantArrivals(t *testing.T) {
	got := arrivals(scenario.Arrival{Rate: 4}, 2*time.Second)
	if len(got) != 8 {
		t.Fatalf("%d arrivals in 2s at 4/s, want 8: %v", len(got), got)
	}
	for i, off := range got {
		if want := time.Duration(i) * 250 * time.Millisecond; absDur(off-want) > time.Microsecond {
			t.Errorf("arrival %d at %v, want %v", i, off, want)
		}
	}
}

func TestRampingArrivals(t *testing.T) {
	// 0 -> 100/s over 10s (500 arrivals), hold 100/s for 5s (500 more),
	// then down to 0 over 10s (500 more).
	a := scenario.Arrival{Stages: []scenario.RateStage{
		{Duration: scenario.Duration(10 * time.Second), Target: 100},
		{Duration: scenario.Duration(5 * time.Second), Target: 100},
		{Duration: scenario.Duration(10 * time.Second), Target: 0},
	}}
	got := arrivals(a, 25*time.Second)
	if n := len(got); n < 1498 || n > 1501 {
		t.Fatalf("%d arrivals, want ~1500", n)
	}
	// Count per phase: ramp up, hold, ramp down.
	var up, hold, down int
	for i, off := range got {
		if i > 0 && off < got[i-1] {
			t.Fatalf("arrivals go back in time at %d: %v < %v", i, off, got[i-1])
		}
		switch {
		case off < 10*time.Second:
			up++
		case off < 15*time.Second:
			hold++
		default:
			down++
		}
	}
	if math.Abs(float64(up-500)) > 2 || math.Abs(float64(hold-500)) > 2 || math.Abs(float64(down-500)) > 2 {
		t.Fatalf("per phase %d/%d/%d, want ~500 each", up, hold, down)
	}
	// On the ramp up the rate grows: the first second holds ~5, the tenth ~95.
	first, tenth := 0, 0
	for _, off := range got {
		if off < time.Second {
			first++
		}
		if off >= 9*time.Second && off < 10*time.Second {
			tenth++
		}
	}
	if first > 7 || tenth < 90 {
		t.Fatalf("ramp shape: %d arrivals in the first second, %d in the tenth", first, tenth)
	}
	// The run's end cuts the schedule.
	if n := len(arrivals(a, 10*time.Second)); n < 498 || n > 501 {
		t.Fatalf("cut at 10s: %d arrivals, want ~500", n)
	}
}

func TestActive(t *testing.T) {
	stages := []scenario.ClientStage{
		{Duration: scenario.Duration(time.Second), Target: 10},
		{Duration: scenario.Duration(2 * time.Second), Target: 10},
		{Duration: scenario.Duration(time.Second), Target: 0},
	}
	got := Active(stages, 10, 5*time.Second)
	// Client 0 joins first and leaves last; client 9 joins last, leaves first.
	if len(got[0]) != 1 || got[0][0].From > 20*time.Millisecond || got[0][0].To < 3900*time.Millisecond {
		t.Fatalf("client 0: %v", got[0])
	}
	if len(got[9]) != 1 || got[9][0].From < 890*time.Millisecond || got[9][0].To > 3110*time.Millisecond {
		t.Fatalf("client 9: %v", got[9])
	}
	all := Active(nil, 3, time.Second)
	if len(all) != 3 || all[2][0] != (Interval{0, time.Second}) {
		t.Fatalf("without stages: %v", all)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
