package assert

import (
	"strings"
	"testing"

	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// hist builds a histogram from microsecond values. HDR reports a value as
// the top of its bucket (3 significant digits): 50000µs reads as 50.015ms.
func hist(t *testing.T, us ...int64) reports.Histogram {
	t.Helper()
	h := record.NewHistogram()
	for _, v := range us {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := reports.FromHDR(h, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testReport(t *testing.T) *reports.Report {
	many := make([]int64, 0, 100)
	for i := int64(1); i <= 100; i++ {
		many = append(many, i*1000) // 1ms .. 100ms
	}
	return &reports.Report{
		Elapsed: 10,
		Groups: []reports.Group{
			{
				Name: "pow", Latency: hist(t, many...), StreamDuration: hist(t, 5_000_000),
				Streams:    reports.StreamCounts{Opened: 10, Ended: 10, Failed: 2},
				Messages:   reports.MessageCounts{Sent: 0, Received: 1000},
				Ends:       map[string]uint64{"complete": 8, "premature_eof": 1, "status:Unavailable": 1},
				Violations: map[string]uint64{},
				Samples:    []reports.Sample{{End: "premature_eof", Detail: "clean EOF after 9 of 10 messages"}},
			},
			{
				Name: "subscribe", Latency: hist(t, 200_000), StreamDuration: hist(t),
				Streams:    reports.StreamCounts{Opened: 5, Ended: 5},
				Messages:   reports.MessageCounts{Received: 500},
				Ends:       map[string]uint64{"complete": 5},
				Violations: map[string]uint64{"gap": 3, "duplicate": 1},
			},
		},
	}
}

var groups = []string{"pow", "subscribe", "idle"}

func TestThresholds(t *testing.T) {
	rep := testReport(t)
	for _, tc := range []struct {
		expr   string
		pass   bool
		actual string
	}{
		{"pow.latency.p50 < 51ms", true, "50.015ms"},
		{"pow.latency.p50 < 50ms", false, "50.015ms"},
		{"pow.latency.p99 <= 99.1ms", true, "99.007ms"},
		{"pow.latency.p99.9 > 99ms", true, "100.031ms"},
		{"pow.latency.p999 == 100.031ms", true, "100.031ms"},
		{"pow.latency.max < 100ms", false, "100.031ms"},
		{"pow.latency.min >= 1ms", true, "1ms"},
		{"latency.max < 150ms", false, "200.063ms"}, // merged over every group
		{"pow.stream_duration.p50 > 4s", true, "5.001215s"},
		{"errors == 0", false, "2"},
		{"subscribe.errors == 0", true, "0"},
		{"pow.streams.completed == 8", true, "8"},
		{"pow.ends.premature_eof != 0", true, "1"},
		{"pow.ends.Unavailable == 1", true, "1"},
		{"ends.status:Unavailable == 1", true, "1"},
		{"violations == 4", true, "4"},
		{"subscribe.violations.gap > 3", false, "3"},
		{"pow.error_rate < 10%", false, "20%"},
		{"pow.error_rate <= 0.2", true, "20%"},
		{"messages.rate >= 150/s", true, "150/s"},
		{"messages.received > 1500", false, "1500"},
		{"pow.latency_corrected.p99 < 1s", false, "no data"}, // nothing measured never passes
	} {
		t.Run(tc.expr, func(t *testing.T) {
			a, err := CompileOne(scenario.Assertion{Expr: tc.expr}, groups)
			if err != nil {
				t.Fatal(err)
			}
			v := a.Check(rep)
			if v.Pass != tc.pass || v.Actual != tc.actual {
				t.Errorf("pass=%v actual=%q, want pass=%v actual=%q (%+v)", v.Pass, v.Actual, tc.pass, tc.actual, v)
			}
			if v.Name != tc.expr {
				t.Errorf("name = %q, want the expression as written", v.Name)
			}
		})
	}
}

func TestChecks(t *testing.T) {
	rep := testReport(t)
	for _, tc := range []struct {
		a      scenario.Assertion
		pass   bool
		detail string
	}{
		{scenario.Assertion{Key: "eof", Value: "clean"}, false, "pow: 1; e.g. pow: clean EOF after 9 of 10 messages"},
		{scenario.Assertion{Expr: "eof: clean"}, false, "pow: 1"},
		{scenario.Assertion{Key: "no_loss"}, false, "subscribe: 3"},
		{scenario.Assertion{Key: "no_loss", Value: "pow"}, true, ""},
		{scenario.Assertion{Expr: "no_duplicates"}, false, "subscribe: 1"},
		{scenario.Assertion{Key: "correct", Value: "all"}, true, ""},
	} {
		t.Run(tc.a.String(), func(t *testing.T) {
			a, err := CompileOne(tc.a, groups)
			if err != nil {
				t.Fatal(err)
			}
			v := a.Check(rep)
			if v.Pass != tc.pass || !strings.HasPrefix(v.Detail, tc.detail) {
				t.Errorf("pass=%v detail=%q, want pass=%v detail starting %q", v.Pass, v.Detail, tc.pass, tc.detail)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		a    scenario.Assertion
		want string
	}{
		{scenario.Assertion{Expr: "latency.p150 < 1s"}, "not between p0 and p100"},
		{scenario.Assertion{Expr: "latency.p99 < 20"}, "not a duration"},
		{scenario.Assertion{Expr: "latency.median < 20ms"}, "statistics: p50"},
		{scenario.Assertion{Expr: "errors == lots"}, "not a number"},
		{scenario.Assertion{Expr: "error_rate < 150%"}, ""},
		{scenario.Assertion{Expr: "error_rate < 2"}, "not a ratio"},
		{scenario.Assertion{Expr: "througput > 5"}, "unknown metric \"througput\""},
		{scenario.Assertion{Expr: "pow.latency.p99 ≈ 5ms"}, "want [group.]metric OP value"},
		{scenario.Assertion{Expr: "violations.lost == 0"}, "kinds: gap"},
		{scenario.Assertion{Key: "eof", Value: "dirty"}, `want "clean"`},
		{scenario.Assertion{Key: "no_loss", Value: "nobody"}, "groups: all, pow"},
		{scenario.Assertion{Key: "no_leaks"}, "checks: balance, correct, covers, eof, isolation, latency_shift, leaks, no_duplicates, no_loss, rebalance_time, recovered"},
		{scenario.Assertion{Expr: "  "}, "empty"},
	} {
		t.Run(tc.a.String(), func(t *testing.T) {
			_, err := CompileOne(tc.a, groups)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCompilePositions(t *testing.T) {
	sc := &scenario.Scenario{
		File:   "x.yaml",
		Groups: []scenario.Group{{Name: "pow"}},
		Assert: []scenario.Assertion{
			{Expr: "errors == 0", Pos: scenario.Pos{Line: 3, Column: 5}},
			{Expr: "latency.p999999 < 1s", Pos: scenario.Pos{Line: 4, Column: 5}},
		},
	}
	_, err := Compile(sc)
	if err == nil || !strings.Contains(err.Error(), "x.yaml:4:5") || !strings.Contains(err.Error(), "assert[1]") {
		t.Fatalf("error = %v, want it at x.yaml:4:5 naming assert[1]", err)
	}
}

// TestRateOverTheLoad: messages.rate is over the load, from the start to
// the stop, with the drain's messages and seconds left out. The old
// formula (every message over the whole elapsed time) gave 75/s for the
// second case's 100/s and passed the first's >= 90/s at 90.
func TestRateOverTheLoad(t *testing.T) {
	for _, tc := range []struct {
		name           string
		elapsed, drain float64
		received, late uint64
		expr           string
		pass           bool
		actual         string
	}{
		{"no drain", 10, 0, 900, 0, "messages.rate >= 90/s", true, "90/s"},
		{"a drain that received nothing", 20, 5, 1500, 0, "messages.rate >= 100/s", true, "100/s"},
		{"a drain that received some", 20, 5, 1600, 100, "messages.rate >= 100/s", true, "100/s"},
		{"the drain's messages do not count", 20, 5, 1600, 200, "messages.rate >= 100/s", false, "93.3/s"},
		{"an instant run rates nothing", 5, 5, 10, 0, "messages.rate >= 1/s", false, "no data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &reports.Report{Elapsed: tc.elapsed, DrainSeconds: tc.drain, Groups: []reports.Group{{
				Name: "watch", Streams: reports.StreamCounts{Opened: 10, Ended: 10},
				Messages: reports.MessageCounts{Received: tc.received, DrainReceived: tc.late},
			}}}
			a, err := CompileOne(scenario.Assertion{Expr: tc.expr}, []string{"watch"})
			if err != nil {
				t.Fatal(err)
			}
			v := a.Check(rep)
			if v.Pass != tc.pass || v.Actual != tc.actual {
				t.Errorf("pass=%v actual=%q, want pass=%v actual=%q", v.Pass, v.Actual, tc.pass, tc.actual)
			}
		})
	}
}
