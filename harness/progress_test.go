package harness

import (
	"slices"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/fault"
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
		{Start: 1, Offset: 2.5, Group: "a", Received: 300}, {Start: 1, Offset: 2.5, Group: "b", Received: 30},
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
