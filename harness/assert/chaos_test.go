package assert

import (
	"strings"
	"testing"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// isolationReport: fast subscribers alone for 5 s, then slow readers join.
// during scales the fast group's latency and delivery after they join.
func isolationReport(t *testing.T, latencyDuring int64, perClientDuring uint64, cutOff uint64) *reports.Report {
	t.Helper()
	r := &reports.Report{
		Scenario: reports.ScenarioEcho{DurationSeconds: 10},
		Server:   &reports.ServerStats{FeedRate: 100},
		Groups: []reports.Group{
			{Name: "fast", RPC: "Longlived/Subscribe", Clients: 10, Messages: reports.MessageCounts{Received: 10_000}, Streams: reports.StreamCounts{Opened: 10, Ended: 10}},
			{Name: "slow", Clients: 2, StartSeconds: 5, Read: "delay 20ms", Ends: map[string]uint64{"status:ResourceExhausted": cutOff}},
		},
	}
	for s := 1; s <= 10; s++ {
		lat, rec := int64(2000), uint64(1000) // 2ms, 100/s per client
		if s > 5 {
			lat, rec = latencyDuring, perClientDuring*10
		}
		h := hist(t, lat, lat, lat)
		// The feed publishes 100/s: seq 100 by the first second's end.
		r.Windows = append(r.Windows, reports.Window{Start: float64(s - 1), Offset: float64(s), Group: "fast", Received: rec, Latency: &h, MaxSeq: uint64(100 * s)})
	}
	return r
}

// observedOnly is r as an address target's report: no server figures, and
// the feed rate only in the sequence numbers the fast group saw.
func observedOnly(r *reports.Report) *reports.Report {
	r.Server = nil
	return r
}

// halfSeconds cuts every window after the first 6 s in two (as a
// sampler's windows are cut when it runs late and then catches up, their
// spans are not one second): the delivery rate is per second of the
// windows' real spans, not per window.
func halfSeconds(r *reports.Report) *reports.Report {
	var out []reports.Window
	for _, w := range r.Windows {
		if w.Offset <= 6 {
			out = append(out, w)
			continue
		}
		a, b := w, w
		a.Offset, b.Start = w.Start+0.5, w.Start+0.5
		a.Received, b.Received = w.Received/2, w.Received/2
		out = append(out, a, b)
	}
	r.Windows = out
	return r
}

// noSeqs drops the sequence numbers too: nothing says the feed's rate.
func noSeqs(r *reports.Report) *reports.Report {
	r.Server = nil
	for i := range r.Windows {
		r.Windows[i].MaxSeq = 0
	}
	return r
}

func TestIsolation(t *testing.T) {
	iso := func(args map[string]string) Assertion {
		a, err := CompileOne(scenario.Assertion{Key: "isolation", Args: args}, []string{"fast", "slow"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		name     string
		args     map[string]string
		rep      *reports.Report
		pass     bool
		inDetail string
	}{
		{"isolated", map[string]string{"group": "fast", "factor": "3"}, isolationReport(t, 3000, 100, 2), true, ""},
		{"latency blows up", map[string]string{"group": "fast", "factor": "3"}, isolationReport(t, 40000, 100, 2), false, "exceeds 3x"},
		{"bound", map[string]string{"group": "fast", "bound": "20ms"}, isolationReport(t, 40000, 100, 2), false, "exceeds the bound"},
		{"server stalled", map[string]string{"group": "fast", "bound": "1s"}, isolationReport(t, 3000, 20, 2), false, "the server stalled"},
		{"slow never cut off", map[string]string{"group": "fast", "bound": "1s"}, isolationReport(t, 3000, 100, 0), false, "never cut off"},
		{"cutoff not required", map[string]string{"group": "fast", "bound": "1s", "cutoff": "false"}, isolationReport(t, 3000, 100, 0), true, ""},
		// A target nobody here wrote: the feed rate from what the
		// subscribers saw before slow readers joined.
		{"observed rate, isolated", map[string]string{"group": "fast", "factor": "3"}, observedOnly(isolationReport(t, 3000, 100, 2)), true, ""},
		{"observed rate, server stalled", map[string]string{"group": "fast", "bound": "1s"}, observedOnly(isolationReport(t, 3000, 20, 2)), false, "the server stalled"},
		{"no rate at all", map[string]string{"group": "fast", "bound": "1s"}, noSeqs(isolationReport(t, 3000, 100, 2)), false, "no feed rate to judge delivery by"},
		{"half-second windows, isolated", map[string]string{"group": "fast", "bound": "1s"}, halfSeconds(isolationReport(t, 3000, 100, 2)), true, ""},
		{"half-second windows, server stalled", map[string]string{"group": "fast", "bound": "1s"}, halfSeconds(isolationReport(t, 3000, 20, 2)), false, "the server stalled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := iso(tc.args).Check(tc.rep)
			if v.Pass != tc.pass || !strings.Contains(v.Detail, tc.inDetail) {
				t.Fatalf("pass=%v detail=%q actual=%q; want pass=%v detail containing %q", v.Pass, v.Detail, v.Actual, tc.pass, tc.inDetail)
			}
		})
	}
}

func TestIsolationCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		args map[string]string
		want string
	}{
		{map[string]string{"factor": "3"}, "group (the fast group) is required"},
		{map[string]string{"group": "fast"}, "give factor"},
		{map[string]string{"group": "nope", "factor": "3"}, `no group "nope"`},
		{map[string]string{"group": "fast", "factor": "0.5"}, "factor must be >= 1"},
		{map[string]string{"group": "fast", "bound": "fast"}, "not a duration"},
		{map[string]string{"group": "fast", "bound": "1s", "colour": "red"}, "settings: group, slow"},
	} {
		_, err := CompileOne(scenario.Assertion{Key: "isolation", Args: tc.args}, []string{"fast", "slow"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestRecoveryAndServerEOF(t *testing.T) {
	rep := testReport(t)
	rep.Groups[1].Recovery = hist(t, 100_000, 300_000, 1_500_000)
	rep.Groups[1].Outages = reports.Outages{Opened: 3, Resumed: 3, Recovered: 2, Unrecovered: 1}
	rep.Groups[0].Outages = reports.Outages{Opened: 1, Resumed: 1, Recovered: 1}
	for _, tc := range []struct {
		a    scenario.Assertion
		pass bool
	}{
		{scenario.Assertion{Expr: "subscribe.recovery.p99 < 2s"}, true},
		{scenario.Assertion{Expr: "recovery.max < 1s"}, false},
		{scenario.Assertion{Expr: "subscribe.outages.unrecovered == 0"}, false},
		{scenario.Assertion{Key: "recovered", Value: "subscribe"}, false},
		{scenario.Assertion{Key: "recovered", Value: "pow"}, true},
		{scenario.Assertion{Key: "recovered", Args: map[string]string{"group": "subscribe", "min_outages": "4"}}, false},
	} {
		a, err := CompileOne(tc.a, groups)
		if err != nil {
			t.Fatal(err)
		}
		if v := a.Check(rep); v.Pass != tc.pass {
			t.Errorf("%s: pass=%v actual=%q, want %v", tc.a, v.Pass, v.Actual, tc.pass)
		}
	}
	// eof: clean also fails on the server side's evidence alone.
	clean := testReport(t)
	clean.Groups[0].Ends["premature_eof"] = 0
	eof, _ := CompileOne(scenario.Assertion{Key: "eof", Value: "clean"}, groups)
	if v := eof.Check(clean); !v.Pass {
		t.Fatalf("eof failed without evidence: %+v", v)
	}
	clean.Server = &reports.ServerStats{OKAfterCancel: 2}
	if v := eof.Check(clean); v.Pass || !strings.Contains(v.Detail, "returned OK after their stream was cancelled") {
		t.Fatalf("eof passed although 2 handlers returned OK after cancel: %+v", v)
	}
}

func TestLeaksCheck(t *testing.T) {
	a, err := CompileOne(scenario.Assertion{Key: "leaks", Value: "none"}, groups)
	if err != nil {
		t.Fatal(err)
	}
	clean := &reports.Report{Leaks: &reports.Leaks{Clean: true, Goroutines: reports.GoroutineLeaks{Baseline: 5, After: 5}}}
	if v := a.Check(clean); !v.Pass {
		t.Fatalf("clean evidence failed: %+v", v)
	}
	leaky := &reports.Report{Leaks: &reports.Leaks{
		Goroutines: reports.GoroutineLeaks{Baseline: 5, After: 8, Leaked: []reports.LeakedFunction{{Function: "faulty.(*sqrtLeak).heartbeat", Count: 3}}},
		Server:     &reports.ServerLeaks{Source: "registry", Subscribers: 2},
	}}
	v := a.Check(leaky)
	if v.Pass || !strings.Contains(v.Actual, "3 goroutines leaked") || !strings.Contains(v.Detail, "3× faulty.(*sqrtLeak).heartbeat") || !strings.Contains(v.Actual, "2 subscribers") {
		t.Fatalf("leaky evidence verdict: %+v", v)
	}
	if v := a.Check(&reports.Report{}); v.Pass {
		t.Fatal("no evidence passed")
	}
	for _, bad := range []scenario.Assertion{{Key: "leaks", Value: "some"}, {Key: "leaks", Args: map[string]string{"colour": "red"}}} {
		if _, err := CompileOne(bad, groups); err == nil {
			t.Errorf("%v compiled", bad)
		}
	}
}

func TestLatencyShift(t *testing.T) {
	rep := &reports.Report{
		Scenario: reports.ScenarioEcho{DurationSeconds: 20},
		Faults:   []reports.FaultWindow{{Name: "faults[0] latency", Start: 5, End: 12}, {Name: "faults[1] bandwidth", Start: 15, End: 17}},
		Groups:   []reports.Group{{Name: "pow", Messages: reports.MessageCounts{Received: 40}, Streams: reports.StreamCounts{Ended: 2}}},
	}
	for s := 1; s <= 20; s++ {
		us := int64(2000)
		switch {
		case s > 5 && s <= 12:
			us = 102_000
		case s > 15 && s <= 19:
			us = 900_000 // the bandwidth window and its aftermath: not a baseline
		}
		h := hist(t, us, us)
		rep.Windows = append(rep.Windows, reports.Window{Start: float64(s - 1), Offset: float64(s), Group: "pow", Latency: &h})
	}
	for _, tc := range []struct {
		args map[string]string
		pass bool
	}{
		{map[string]string{"group": "pow", "fault": "0", "by": "100ms"}, true},
		{map[string]string{"group": "pow", "fault": "faults[0]", "by": "100ms", "tolerance": "5%"}, true},
		{map[string]string{"group": "pow", "fault": "0", "by": "50ms"}, false},
		{map[string]string{"group": "pow", "fault": "0", "by": "200ms", "tolerance": "30%"}, false},
		{map[string]string{"group": "pow", "fault": "3", "by": "100ms"}, false},
	} {
		a, err := CompileOne(scenario.Assertion{Key: "latency_shift", Args: tc.args}, groups)
		if err != nil {
			t.Fatal(err)
		}
		if v := a.Check(rep); v.Pass != tc.pass {
			t.Errorf("%v: pass=%v actual=%q detail=%q, want %v", tc.args, v.Pass, v.Actual, v.Detail, tc.pass)
		}
	}
	if _, err := CompileOne(scenario.Assertion{Key: "latency_shift", Args: map[string]string{"group": "pow"}}, groups); err == nil {
		t.Error("latency_shift without fault and by compiled")
	}
}

// TestOpeningThresholds: all_open, open.<stat>, open_wait.peak and
// streams.established read the report's establishment figures; a group
// that never had all its streams established reads as never.
func TestOpeningThresholds(t *testing.T) {
	rep := testReport(t)
	open := hist(t, 2_000, 40_000, 900_000)
	rep.Groups[1].Open = &open
	rep.Groups[1].AllOpenSeconds = 4.2
	rep.Groups[1].Streams.Established = 3
	rep.Groups[1].OpenWait = &reports.OpenWait{PeakWaiting: 7}
	for _, tc := range []struct {
		expr   string
		pass   bool
		actual string
	}{
		{"subscribe.all_open < 5s", true, "4.2s"},
		{"subscribe.all_open < 4s", false, "4.2s"},
		{"all_open < 1h", false, "never"}, // the other groups never were
		{"subscribe.open.p99 < 1s", true, ""},
		{"subscribe.open.max < 500ms", false, ""},
		{"subscribe.open_wait.peak == 0", false, "7"},
		{"pow.open_wait.peak == 0", true, "0"},
		{"subscribe.streams.established >= 3", true, "3"},
	} {
		a, err := CompileOne(scenario.Assertion{Expr: tc.expr}, groups)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		v := a.Check(rep)
		if v.Pass != tc.pass || (tc.actual != "" && v.Actual != tc.actual) {
			t.Errorf("%s: pass=%v actual=%q, want %v %q", tc.expr, v.Pass, v.Actual, tc.pass, tc.actual)
		}
	}
}
