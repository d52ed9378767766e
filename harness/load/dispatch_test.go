package load

import (
	"sync"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// Due agrees with At everywhere, on a constant rate and on ramps.
func TestDueAgreesWithAt(t *testing.T) {
	for _, a := range []scenario.Arrival{
		{Rate: 4},
		{Rate: 1000},
		{Stages: []scenario.RateStage{
			{Duration: scenario.Duration(2 * time.Second), Target: 300},
			{Duration: scenario.Duration(time.Second), Target: 300},
			{Duration: scenario.Duration(2 * time.Second), Target: 0},
		}},
	} {
		const d = 5 * time.Second
		all := arrivals(a, d)
		it := NewArrivals(a, d)
		for _, probe := range []time.Duration{-1, 0, 1, 249 * time.Millisecond, 250 * time.Millisecond, time.Second, 2500 * time.Millisecond, d - 1, d, 2 * d} {
			want := 0
			for _, off := range all {
				if off <= probe {
					want++
				}
			}
			if got := it.Due(probe); got != want {
				t.Errorf("%+v: Due(%v) = %d, want %d", a, probe, got, want)
			}
		}
		// At every slot's own offset, that slot is due and the next is not.
		for i, off := range all {
			if got := it.Due(off); got < i+1 || (i+1 < len(all) && all[i+1] > off && got != i+1) {
				t.Fatalf("%+v: Due(At(%d)=%v) = %d", a, i, off, got)
			}
		}
	}
}

// 10 slots a second (one every 100ms) over 2s: 20 slots.
func tenPerSecond() *Arrivals { return NewArrivals(scenario.Arrival{Rate: 10}, 2*time.Second) }

func TestDispatcherBounds(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name  string
		queue int
		// takes are the offsets at which a free client asks for a slot.
		takes []time.Duration
		// want are the slots (by offset) they get.
		want []time.Duration
		// at 2s: scheduled, dropped.
		dropped int
	}{
		{"an early client claims the next slot ahead of its time", 0,
			[]time.Duration{0, 0, 50 * ms}, []time.Duration{0, 100 * ms, 200 * ms}, 17},
		{"no queue: a client free late drops what came due meanwhile", 0,
			[]time.Duration{0, 550 * ms}, []time.Duration{0, 600 * ms}, 18},
		{"a queue of 2 keeps the newest two due", 2,
			[]time.Duration{0, 550 * ms, 560 * ms, 570 * ms}, []time.Duration{0, 400 * ms, 500 * ms, 600 * ms}, 14},
		{"unbounded: every due slot waits, oldest first", Unbounded,
			[]time.Duration{0, 550 * ms, 560 * ms}, []time.Duration{0, 100 * ms, 200 * ms}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDispatcher(tenPerSecond(), tc.queue)
			for i, now := range tc.takes {
				got, ok := d.Take(now)
				if !ok || got != tc.want[i] {
					t.Fatalf("take %d at %v: %v %v, want %v", i, now, got, ok, tc.want[i])
				}
			}
			sched, dropped := d.Tally(2 * time.Second)
			if sched != 20 || dropped != tc.dropped {
				t.Fatalf("tally at 2s: scheduled %d dropped %d, want 20 and %d", sched, dropped, tc.dropped)
			}
			// The books balance: every slot is taken, dropped or still queued.
			if queued := sched - dropped - len(tc.takes); queued < 0 || (tc.queue != Unbounded && queued > tc.queue) {
				t.Fatalf("%d slots left queued with a queue of %d", queued, tc.queue)
			}
		})
	}
}

func TestDispatcherRunsOut(t *testing.T) {
	d := NewDispatcher(NewArrivals(scenario.Arrival{Rate: 10}, 300*time.Millisecond), Unbounded)
	for i := range 3 {
		if _, ok := d.Take(0); !ok {
			t.Fatalf("slot %d missing", i)
		}
	}
	if off, ok := d.Take(time.Second); ok {
		t.Fatalf("a fourth slot at %v in a 300ms run of 10/s", off)
	}
	if s, dr := d.Tally(time.Hour); s != 3 || dr != 0 {
		t.Fatalf("tally %d/%d, want 3/0", s, dr)
	}
}

// Clients taking slots at once each get a different one, and none is lost.
func TestDispatcherConcurrent(t *testing.T) {
	d := NewDispatcher(NewArrivals(scenario.Arrival{Rate: 1000}, 2*time.Second), Unbounded)
	var mu sync.Mutex
	seen := map[time.Duration]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				off, ok := d.Take(time.Second)
				if !ok {
					return
				}
				mu.Lock()
				if seen[off] {
					t.Errorf("slot %v taken twice", off)
				}
				seen[off] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 2000 {
		t.Fatalf("%d slots taken, want 2000", len(seen))
	}
}
