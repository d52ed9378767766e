package assert

import (
	"strings"
	"testing"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// TestLatencySaysSaturatedWindows: a latency threshold judged over windows
// where streambench's own process was a large share of the latency says
// so in its verdict, whatever the verdict; over none it says nothing; and
// other metrics never say it.
func TestLatencySaysSaturatedWindows(t *testing.T) {
	h := hist(t, 2000, 3000, 40_000)
	rep := func(marked int) *reports.Report {
		r := &reports.Report{Groups: []reports.Group{{Name: "pow", Latency: h, Messages: reports.MessageCounts{Received: 3},
			Streams: reports.StreamCounts{Opened: 1, Ended: 1}}}}
		for s := 1; s <= 4; s++ {
			r.Windows = append(r.Windows, reports.Window{Start: float64(s - 1), Offset: float64(s), Group: "pow", Latency: &h, Saturated: s <= marked})
		}
		return r
	}
	for _, tc := range []struct {
		expr   string
		marked int
		pass   bool
		note   bool
	}{
		{"pow.latency.p99 < 1s", 2, true, true},
		{"pow.latency.p99 < 10ms", 2, false, true},
		{"pow.latency.p99 < 1s", 0, true, false},
		{"pow.errors == 0", 2, true, false},
	} {
		a, err := CompileOne(scenario.Assertion{Expr: tc.expr}, groups)
		if err != nil {
			t.Fatal(err)
		}
		v := a.Check(rep(tc.marked))
		if v.Pass != tc.pass || strings.Contains(v.Detail, "2 of 4 windows") != tc.note {
			t.Errorf("%s over %d marked windows: pass=%v detail=%q; want pass=%v, note %v", tc.expr, tc.marked, v.Pass, v.Detail, tc.pass, tc.note)
		}
	}
}
