package harness

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

func TestLiveFaults(t *testing.T) {
	sever, _ := fault.Lookup("sever")
	latency, _ := fault.Lookup("latency")
	r := &run{timeline: timeline{specs: []*fault.Spec{{Index: 0, Kind: sever}, {Index: 1, Kind: latency}}}}
	ev := func(at float64, kind, name string) reports.Event {
		return reports.Event{Offset: at, Kind: kind, Fault: name}
	}
	steps := []struct {
		name string
		evs  []reports.Event
		now  time.Duration
		want []string
	}{
		{"nothing yet", nil, time.Second, nil},
		{"a latency window opens", []reports.Event{ev(2, "fault_start", "faults[1] latency #1")}, 2500 * time.Millisecond,
			[]string{"faults[1] latency #1"}},
		{"a sever fires while it is open", []reports.Event{ev(3, "fault_start", "faults[0] sever")}, 3200 * time.Millisecond,
			[]string{"faults[1] latency #1", "faults[0] sever"}},
		{"the sever is shown for a second only", nil, 4500 * time.Millisecond, []string{"faults[1] latency #1"}},
		{"an error event changes nothing", []reports.Event{ev(5, "fault_error", "faults[1] latency #1")}, 5 * time.Second,
			[]string{"faults[1] latency #1"}},
		{"the window closes", []reports.Event{ev(6, "fault_end", "faults[1] latency #1")}, 6 * time.Second, nil},
		{"the next repetition", []reports.Event{ev(8, "fault_start", "faults[1] latency #2")}, 8 * time.Second,
			[]string{"faults[1] latency #2"}},
	}
	var l liveFaults
	seen := 0
	for _, s := range steps {
		got := l.update(s.evs, s.now, r.instantFault)
		if !slices.Equal(got, s.want) && !(len(got) == 0 && len(s.want) == 0) {
			t.Errorf("%s: active = %q, want %q", s.name, got, s.want)
		}
		seen += len(s.evs)
		if l.seen != seen {
			t.Errorf("%s: seen = %d, want %d", s.name, l.seen, seen)
		}
	}
}

func TestLastWindows(t *testing.T) {
	r := &run{wiring: wiring{groups: []*group{{}, {}}}}
	if got, span := r.lastWindows(); got != nil || span != 0 {
		t.Fatalf("no window yet: got %v over %vs", got, span)
	}
	r.windows = []reports.Window{
		{Offset: 1, Group: "a", Received: 100}, {Offset: 1, Group: "b", Received: 10},
		{Offset: 2.5, Group: "a", Received: 300}, {Offset: 2.5, Group: "b", Received: 30},
	}
	got, span := r.lastWindows()
	if span != 1.5 || got["a"].Received != 300 || got["b"].Received != 30 {
		t.Errorf("latest = %v over %vs, want a=300 and b=30 over 1.5s", got, span)
	}
	r.windows = r.windows[:2]
	if got, span = r.lastWindows(); span != 1 || got["a"].Received != 100 {
		t.Errorf("first window = %v over %vs, want a=100 over 1s", got, span)
	}
}

// TestProgressEndToEnd runs a small scenario with a latency window and
// checks what the progress callback saw: last-second rate and p99 once the
// first window exists, the fault while it is applied, none at the end.
func TestProgressEndToEnd(t *testing.T) {
	sc, err := scenario.Parse("progress.yaml", []byte(`name: progress
seed: 1
duration: 3s
target:
  builtin:
    feed: {rate: 50/s, payload: 64B}
groups:
  - {name: subs, rpc: Longlived/Subscribe, clients: 4}
faults:
  - {at: 500ms, for: 2s, kind: latency, latency: 5ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		all []Progress
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Run(ctx, sc, WithProgress(func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		all = append(all, p)
	}, 100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var rated, faulted bool
	for _, p := range all {
		if p.Window == 0 && (p.Groups[0].Rate != 0 || p.Groups[0].P99 != 0) {
			t.Errorf("at %v: rate %v and p99 %v before any window", p.Elapsed, p.Groups[0].Rate, p.Groups[0].P99)
		}
		if p.Window > 0 && p.Groups[0].Rate > 0 && p.Groups[0].P99 > 0 {
			rated = true
		}
		if slices.Contains(p.Faults, "faults[0] latency") {
			faulted = true
		}
	}
	if !rated {
		t.Errorf("no progress had a last-second rate and p99: %+v", all)
	}
	if !faulted {
		t.Errorf("no progress listed the latency fault during its 2 s window")
	}
	if last := all[len(all)-1]; last.Phase != "done" || len(last.Faults) != 0 {
		t.Errorf("last progress: phase %q, faults %q; want done with none", last.Phase, last.Faults)
	}
}
