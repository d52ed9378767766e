package harness

import (
	"reflect"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/reports"
)

func applied(t *testing.T, index int, kind string, began, ended time.Duration) fault.Applied {
	t.Helper()
	k, ok := fault.Lookup(kind)
	if !ok {
		t.Fatalf("no fault kind %q", kind)
	}
	return fault.Applied{Occurrence: fault.Occurrence{Spec: &fault.Spec{Index: index, Kind: k}, Start: began, End: ended}, Began: began, Ended: ended}
}

// TestFaultWindowsBlameTheCause: a latency window [10s, 20s] overlaps a
// server_restart at 15s. The restart's Unavailable ends fall inside both
// windows and are charged to the restart alone; the latency window keeps
// the idle timeouts it can cause; each names the other as overlapping.
func TestFaultWindowsBlameTheCause(t *testing.T) {
	faults := []fault.Applied{
		applied(t, 0, "latency", 10*time.Second, 20*time.Second),
		applied(t, 1, "server_restart", 15*time.Second, 16*time.Second),
		applied(t, 2, "sever", 40*time.Second, 40*time.Second),
	}
	windows := []reports.Window{
		{Start: 11, Offset: 12, Group: "a", Ends: map[string]uint64{"idle_timeout": 2}},
		{Start: 15, Offset: 16, Group: "a", Ends: map[string]uint64{"status:Unavailable": 505, "complete": 3}},
		{Start: 15, Offset: 16, Group: "b", Ends: map[string]uint64{"status:Unavailable": 5}},
		{Start: 19, Offset: 20, Group: "a", Ends: map[string]uint64{"idle_timeout": 1}},       // after the restart's effects
		{Start: 29, Offset: 30, Group: "a", Ends: map[string]uint64{"status:Unavailable": 7}}, // no fault's
		{Start: 40, Offset: 41, Group: "a", Ends: map[string]uint64{"status:Unavailable": 40}},
	}
	got := faultWindows(faults, windows)
	want := []reports.FaultWindow{
		{Name: "faults[0] latency", Kind: "latency", Start: 10, End: 20,
			Ends: map[string]uint64{"idle_timeout": 3}, Overlaps: []string{"faults[1] server_restart"}},
		{Name: "faults[1] server_restart", Kind: "server_restart", Start: 15, End: 16,
			Ends: map[string]uint64{"status:Unavailable": 510}, Overlaps: []string{"faults[0] latency"}},
		{Name: "faults[2] sever", Kind: "sever", Start: 40, End: 40,
			Ends: map[string]uint64{"status:Unavailable": 40}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fault windows:\n got %+v\nwant %+v", got, want)
	}
}

// TestFaultWindowsJoinEndsNothing: a backend joins at 20s and a round of
// max_connection_age recycling ends streams two seconds later: the join
// is charged with none of them (it only adds a backend).
func TestFaultWindowsJoinEndsNothing(t *testing.T) {
	faults := []fault.Applied{applied(t, 0, "backend_join", 20*time.Second, 20*time.Second)}
	windows := []reports.Window{{Start: 21, Offset: 22, Group: "a", Ends: map[string]uint64{"status:Unavailable": 1400}}}
	got := faultWindows(faults, windows)
	if len(got) != 1 || len(got[0].Ends) != 0 {
		t.Fatalf("fault windows %+v: the join is charged with ends", got)
	}
}

// TestFaultWindowsSameKindLatestWins: two breaking faults whose windows
// both contain an end: the later one, the likelier cause, is charged.
func TestFaultWindowsSameKindLatestWins(t *testing.T) {
	faults := []fault.Applied{
		applied(t, 0, "sever", 5*time.Second, 5*time.Second),
		applied(t, 1, "sever", 6*time.Second, 6*time.Second),
	}
	got := faultWindows(faults, []reports.Window{
		{Start: 5, Offset: 6, Group: "a", Ends: map[string]uint64{"status:Unavailable": 4}},
		{Start: 6, Offset: 7, Group: "a", Ends: map[string]uint64{"status:Unavailable": 9}},
	})
	if got[0].Ends["status:Unavailable"] != 4 || got[1].Ends["status:Unavailable"] != 9 {
		t.Fatalf("ends %v / %v, want 4 to the first (before the second began) and 9 to the second", got[0].Ends, got[1].Ends)
	}
}
