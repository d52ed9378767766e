package assert

import (
	"fmt"
	"strings"
	"testing"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// backendsReport is a report of a target of several backends: rows[i]
// are the streams open on b0, b1, … (all in service) at offset 2+i
// seconds; a negative count is a backend out of service.
func backendsReport(events []reports.Event, rows [][]int64) *reports.Report {
	var ws []reports.BackendWindow
	names := map[string]bool{}
	for i, row := range rows {
		for j, n := range row {
			name := fmt.Sprintf("b%d", j)
			names[name] = true
			ws = append(ws, reports.BackendWindow{Offset: float64(2 + i), Backend: name, Up: n >= 0, Active: max(n, 0)})
		}
	}
	b := &reports.Backends{Balancing: "l4 round robin", Windows: ws, Spread: reports.SpreadOf(ws)}
	for j := range len(names) {
		b.Names = append(b.Names, fmt.Sprintf("b%d", j))
	}
	return &reports.Report{Backends: b, Events: events}
}

func TestBalance(t *testing.T) {
	join := func(at float64, name string) reports.Event {
		return reports.Event{Offset: at, Kind: "backend_join", Detail: name}
	}
	leave := func(at float64, name string) reports.Event {
		return reports.Event{Offset: at, Kind: "backend_leave", Detail: name + ": hard stop"}
	}
	for _, tc := range []struct {
		name   string
		args   map[string]string
		report *reports.Report
		pass   bool
		want   string // in Actual or Detail
	}{
		{"steady even", map[string]string{"max_ratio": "1.5"},
			backendsReport(nil, [][]int64{{1000, 1000, 1000}, {1100, 950, 950}}), true, "worst max/min 1.16"},
		{"steady uneven", map[string]string{"max_ratio": "1.5"},
			backendsReport(nil, [][]int64{{1000, 1000, 1000}, {1600, 700, 700}}), false, "b1 held 700 of 3000 streams"},
		{"newcomer gets nothing", map[string]string{"max_ratio": "1.5", "within": "3s"},
			backendsReport([]reports.Event{join(2.5, "b3")}, [][]int64{{1000, 1000, 1000, -1}, {1000, 1000, 1000, 0}, {1000, 1000, 1000, 0}, {1000, 1000, 1000, 0}, {1000, 1000, 1000, 0}}),
			false, "after backend_join b3 at 2.5s: never back within bound; at 6s max/min ∞: b3 held 0 of 3000 streams (0.0%)"},
		{"newcomer catches up in time", map[string]string{"max_ratio": "1.5", "within": "3s"},
			backendsReport([]reports.Event{join(2.5, "b3")}, [][]int64{{1000, 1000, 1000, -1}, {1000, 1000, 1000, 0}, {800, 800, 800, 600}, {750, 750, 750, 750}}),
			true, "worst max/min 1"},
		{"newcomer catches up too late", map[string]string{"max_ratio": "1.5", "within": "1s"},
			backendsReport([]reports.Event{join(2.5, "b3")}, [][]int64{{1000, 1000, 1000, -1}, {1000, 1000, 1000, 0}, {800, 800, 800, 600}, {750, 750, 750, 750}}),
			false, "b3 at 2.5s: back within bound only after 1.5s"},
		{"a leave displaces onto the rest evenly", map[string]string{"max_ratio": "1.5", "within": "2s"},
			backendsReport([]reports.Event{leave(2.5, "b2")}, [][]int64{{1000, 1000, 1000}, {1000, 1000, -1}, {1500, 1500, -1}}), true, "worst max/min 1"},
		{"no backends: no data", map[string]string{"max_ratio": "1.5"}, &reports.Report{}, false, noData},
		{"no stream open: no data", map[string]string{"max_ratio": "1.5"}, backendsReport(nil, [][]int64{{0, 0, 0}}), false, noData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := CompileOne(scenario.Assertion{Key: "balance", Args: tc.args}, nil)
			if err != nil {
				t.Fatal(err)
			}
			v := a.Check(tc.report)
			if v.Pass != tc.pass || !strings.Contains(v.Actual+" | "+v.Detail, tc.want) {
				t.Errorf("pass %v, want %v; %q | %q, want %q", v.Pass, tc.pass, v.Actual, v.Detail, tc.want)
			}
		})
	}
}

func TestRebalanceTime(t *testing.T) {
	joined := []reports.Event{{Offset: 2.5, Kind: "backend_join", Detail: "b3"}}
	for _, tc := range []struct {
		name   string
		args   map[string]string
		report *reports.Report
		pass   bool
		want   string
	}{
		{"in time: the number on pass", map[string]string{"max": "3s"},
			backendsReport(joined, [][]int64{{1000, 1000, 1000, -1}, {1000, 1000, 1000, 0}, {800, 800, 800, 600}}), true, "1.5s"},
		{"too slow", map[string]string{"max": "1s"},
			backendsReport(joined, [][]int64{{1000, 1000, 1000, -1}, {1000, 1000, 1000, 0}, {800, 800, 800, 600}}), false, "b3 (joined at 2.5s) balanced after 1.5s"},
		{"never", map[string]string{"max": "10s"},
			backendsReport(joined, [][]int64{{1000, 1000, 1000, -1}, {1000, 1000, 1000, 0}, {1000, 1000, 1000, 0}}), false, "never balanced"},
		{"no join: no data", map[string]string{"max": "10s"},
			backendsReport(nil, [][]int64{{1000, 1000, 1000}}), false, "no backend joined"},
		{"no backends: no data", map[string]string{"max": "10s"}, &reports.Report{Events: joined}, false, noData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := CompileOne(scenario.Assertion{Key: "rebalance_time", Args: tc.args}, nil)
			if err != nil {
				t.Fatal(err)
			}
			v := a.Check(tc.report)
			if v.Pass != tc.pass || !strings.Contains(v.Actual+" | "+v.Detail, tc.want) {
				t.Errorf("pass %v, want %v; %q | %q, want %q", v.Pass, tc.pass, v.Actual, v.Detail, tc.want)
			}
		})
	}
}

func TestBalanceCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		a    scenario.Assertion
		want string
	}{
		{scenario.Assertion{Key: "balance", Args: map[string]string{"max_ratio": "1"}}, "max_ratio: must be > 1"},
		{scenario.Assertion{Key: "balance", Args: map[string]string{"within": "-1s"}}, "within: must not be negative"},
		{scenario.Assertion{Key: "balance", Value: "all"}, "balance takes settings"},
		{scenario.Assertion{Key: "rebalance_time", Args: map[string]string{"max_ratio": "2"}}, "max is required"},
	} {
		if _, err := CompileOne(tc.a, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.a, err, tc.want)
		}
	}
}
