package assert

import (
	"strings"
	"testing"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// emptyGroup is a group as a run against a dead target leaves it: streams
// attempted, none ended, nothing received.
func emptyGroup(name string) reports.Group {
	return reports.Group{
		Name: name, RPC: "Longlived/Subscribe", Clients: 10,
		Streams: reports.StreamCounts{Opened: 10},
		Ends:    map[string]uint64{}, Violations: map[string]uint64{},
	}
}

// healthyGroup received and ended streams without a fault.
func healthyGroup(t *testing.T, name string) reports.Group {
	return reports.Group{
		Name: name, RPC: "Longlived/Subscribe", Clients: 10,
		Streams:    reports.StreamCounts{Opened: 10, Ended: 10},
		Messages:   reports.MessageCounts{Received: 1000},
		Ends:       map[string]uint64{"complete": 10},
		Violations: map[string]uint64{},
		Latency:    hist(t, 1000, 2000, 3000),
		Outages:    reports.Outages{Opened: 2, Resumed: 2, Recovered: 2},
		Recovery:   hist(t, 100_000, 200_000),
	}
}

func oneGroup(g reports.Group) *reports.Report {
	return &reports.Report{Elapsed: 10, Scenario: reports.ScenarioEcho{DurationSeconds: 10}, Groups: []reports.Group{g}}
}

// shiftReport has group g's median latency 2ms outside faults[0] and
// 2ms+shift inside it.
func shiftReport(t *testing.T, g reports.Group, shiftUS int64) *reports.Report {
	r := oneGroup(g)
	r.Scenario.DurationSeconds = 20
	r.Faults = []reports.FaultWindow{{Name: "faults[0] latency", Start: 5, End: 12}}
	for s := 1; s <= 20; s++ {
		us := int64(2000)
		if s > 5 && s <= 12 {
			us += shiftUS
		}
		h := hist(t, us, us)
		r.Windows = append(r.Windows, reports.Window{Start: float64(s - 1), Offset: float64(s), Group: g.Name, Latency: &h})
	}
	return r
}

// TestEveryCheckNeedsEvidence: every registered check fails with "no data"
// on a run that measured nothing, passes on a correct run, and fails on a
// planted violation. A check added to the registry without a row here
// fails the test.
func TestEveryCheckNeedsEvidence(t *testing.T) {
	with := func(f func(g *reports.Group)) *reports.Report {
		g := healthyGroup(t, "subs")
		f(&g)
		return oneGroup(g)
	}
	cases := map[string]struct {
		a               scenario.Assertion
		empty, ok, fail *reports.Report
	}{
		"eof": {scenario.Assertion{Key: "eof", Value: "clean"}, oneGroup(emptyGroup("subs")),
			with(func(*reports.Group) {}), with(func(g *reports.Group) { g.Ends["premature_eof"] = 1 })},
		"correct": {scenario.Assertion{Expr: "correct"}, oneGroup(emptyGroup("subs")),
			with(func(*reports.Group) {}), with(func(g *reports.Group) { g.Violations["wrong_value"] = 1 })},
		"no_loss": {scenario.Assertion{Key: "no_loss", Value: "subs"}, oneGroup(emptyGroup("subs")),
			with(func(*reports.Group) {}), with(func(g *reports.Group) { g.Violations["gap"] = 3 })},
		"no_duplicates": {scenario.Assertion{Key: "no_duplicates"}, oneGroup(emptyGroup("subs")),
			with(func(*reports.Group) {}), with(func(g *reports.Group) { g.Violations["reorder"] = 1 })},
		"recovered": {scenario.Assertion{Key: "recovered"}, with(func(g *reports.Group) { g.Outages = reports.Outages{} }),
			with(func(*reports.Group) {}), with(func(g *reports.Group) {
				g.Outages = reports.Outages{Opened: 2, Resumed: 2, Recovered: 1, Unrecovered: 1}
			})},
		"isolation": {scenario.Assertion{Key: "isolation", Args: map[string]string{"group": "fast", "factor": "3"}},
			func() *reports.Report {
				r := isolationReport(t, 3000, 100, 2)
				r.Groups[0] = emptyGroup("fast")
				return r
			}(),
			isolationReport(t, 3000, 100, 2), isolationReport(t, 40000, 100, 2)},
		"latency_shift": {scenario.Assertion{Key: "latency_shift", Args: map[string]string{"group": "subs", "fault": "0", "by": "100ms"}},
			shiftReport(t, emptyGroup("subs"), 100_000), shiftReport(t, healthyGroup(t, "subs"), 100_000), shiftReport(t, healthyGroup(t, "subs"), 0)},
		"balance": {scenario.Assertion{Key: "balance", Args: map[string]string{"max_ratio": "1.5"}}, oneGroup(emptyGroup("subs")),
			backendsReport(nil, [][]int64{{100, 100, 100}, {100, 90, 110}}), backendsReport(nil, [][]int64{{100, 100, 100}, {150, 150, 0}})},
		"rebalance_time": {scenario.Assertion{Key: "rebalance_time", Args: map[string]string{"max": "2s"}},
			backendsReport(nil, [][]int64{{100, 100, 100}, {100, 100, 100}}),
			backendsReport([]reports.Event{{Offset: 2.5, Kind: "backend_join", Detail: "b2"}}, [][]int64{{150, 150, 0}, {150, 150, 0}, {100, 100, 100}}),
			backendsReport([]reports.Event{{Offset: 2.5, Kind: "backend_join", Detail: "b2"}}, [][]int64{{150, 150, 0}, {150, 150, 0}, {150, 150, 0}, {150, 150, 0}, {120, 120, 60}})},
		"covers": {scenario.Assertion{Key: "covers", Value: "subs"},
			with(func(g *reports.Group) { g.Covers = &reports.Covers{Group: "w", Watchers: 2, Started: 2} }),
			with(func(g *reports.Group) {
				g.Covers = &reports.Covers{Group: "w", Writes: 10, Watchers: 2, Started: 2, Covered: 20}
			}),
			with(func(g *reports.Group) {
				g.Covers = &reports.Covers{Group: "w", Writes: 10, Watchers: 2, Started: 2, Covered: 20, Missing: 1, FailingWatchers: 1,
					Failing: []reports.CoverWatcher{{Client: 1, Started: true, Covered: 10, Missing: 1, MissingFirst: []string{"7"}}}}
			})},
		"leaks": {scenario.Assertion{Key: "leaks", Value: "none"}, oneGroup(emptyGroup("subs")),
			&reports.Report{Leaks: &reports.Leaks{Clean: true}},
			&reports.Report{Leaks: &reports.Leaks{FDs: reports.FDLeaks{Leaked: []string{"socket:[1]"}}}}},
	}
	for _, c := range registry {
		if _, ok := cases[c.Name]; !ok {
			t.Errorf("check %s has no evidence test", c.Name)
		}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a, err := CompileOne(tc.a, []string{"subs", "fast", "slow"})
			if err != nil {
				t.Fatal(err)
			}
			if v := a.Check(tc.empty); v.Pass || v.Actual != noData {
				t.Errorf("empty report: %+v, want failed with %q", v, noData)
			}
			if v := a.Check(tc.ok); !v.Pass {
				t.Errorf("correct report: %+v, want pass", v)
			}
			if v := a.Check(tc.fail); v.Pass || v.Actual == noData {
				t.Errorf("planted violation: %+v, want failed on the figures", v)
			}
		})
	}
}

// TestEveryMetricNeedsEvidence: a threshold that would hold on zeros
// (>= 0) fails with "no data" for every metric when the group measured
// nothing, and is judged on a group that did.
func TestEveryMetricNeedsEvidence(t *testing.T) {
	for _, m := range Metrics() {
		name := strings.NewReplacer("<stat>", "p99", "<class>", "complete", "<kind>", "gap").Replace(m.Name)
		t.Run(name, func(t *testing.T) {
			a, err := CompileOne(scenario.Assertion{Expr: "subs." + name + " >= 0"}, []string{"subs"})
			if err != nil {
				t.Fatal(err)
			}
			if v := a.Check(oneGroup(emptyGroup("subs"))); v.Pass || v.Actual != noData {
				t.Errorf("empty group: %+v, want failed with %q", v, noData)
			}
			v := a.Check(oneGroup(healthyGroup(t, "subs")))
			if v.Actual == noData && !strings.Contains(v.Detail, "has no samples") {
				t.Errorf("healthy group refused for want of evidence: %+v", v)
			}
		})
	}
}

func TestEvidenceSettings(t *testing.T) {
	healthy := oneGroup(healthyGroup(t, "subs")) // 1000 messages, 10 streams
	for _, tc := range []struct {
		a    scenario.Assertion
		pass bool
	}{
		{scenario.Assertion{Key: "no_loss", Args: map[string]string{"group": "subs", "min_messages": "1000"}}, true},
		{scenario.Assertion{Key: "no_loss", Args: map[string]string{"group": "subs", "min_messages": "1001"}}, false},
		{scenario.Assertion{Key: "eof", Args: map[string]string{"min_streams": "11"}}, false},
		{scenario.Assertion{Key: "subs.errors == 0", Args: map[string]string{"min_streams": "10"}}, true},
		{scenario.Assertion{Key: "subs.errors == 0", Args: map[string]string{"min_messages": "5000"}}, false},
		{scenario.Assertion{Key: "recovered", Args: map[string]string{"min_outages": "3"}}, false},
	} {
		a, err := CompileOne(tc.a, []string{"subs"})
		if err != nil {
			t.Fatalf("%s: %v", tc.a, err)
		}
		v := a.Check(healthy)
		if v.Pass != tc.pass || !tc.pass && v.Actual != noData {
			t.Errorf("%s: %+v, want pass=%v (no data when failing)", tc.a, v, tc.pass)
		}
	}
	// Zero minimums accept a run that measured nothing, by choice.
	a, err := CompileOne(scenario.Assertion{Key: "recovered", Args: map[string]string{"min_outages": "0", "min_messages": "0", "min_streams": "0"}}, []string{"subs"})
	if err != nil {
		t.Fatal(err)
	}
	if v := a.Check(oneGroup(emptyGroup("subs"))); !v.Pass {
		t.Errorf("explicit zero minimums: %+v", v)
	}
	for _, bad := range []struct {
		a    scenario.Assertion
		want string
	}{
		{scenario.Assertion{Key: "no_loss", Args: map[string]string{"min_messages": "-1"}}, "min_messages: \"-1\" is not a whole number"},
		{scenario.Assertion{Key: "errors == 0", Args: map[string]string{"min_outages": "1"}}, "settings: min_messages, min_streams"},
		{scenario.Assertion{Key: "no_loss", Args: map[string]string{"min_outages": "1"}}, "settings: group, min_messages, min_streams"},
		{scenario.Assertion{Key: "errors == 0", Value: "x"}, "is not a check"},
	} {
		if _, err := CompileOne(bad.a, []string{"subs"}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err = %v, want %q", bad.a, err, bad.want)
		}
	}
}

// TestLeaksVerdictMatchesFigures: evidence that could not be taken is
// never shown as "none" beside a failed verdict.
func TestLeaksVerdictMatchesFigures(t *testing.T) {
	a, err := CompileOne(scenario.Assertion{Key: "leaks", Value: "none"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &reports.Report{Leaks: &reports.Leaks{Unchecked: []string{"channelz probe 127.0.0.1:1: connection refused"}}}
	v := a.Check(r)
	if v.Pass || strings.HasPrefix(v.Actual, "none") || !strings.Contains(v.Detail, "connection refused") {
		t.Fatalf("verdict %+v: want failed, saying what was not checked", v)
	}
}

// TestLeakSettings: the harness reads the compiled settings, so they are
// parsed once; bad ones are compile errors at the assertion's position.
func TestLeakSettings(t *testing.T) {
	sc := &scenario.Scenario{File: "x.yaml", Assert: []scenario.Assertion{
		{Key: "leaks", Args: map[string]string{"settle": "7s", "heap": "64MiB"}, Pos: scenario.Pos{Line: 9, Column: 5}},
	}}
	as, err := Compile(sc)
	if err != nil {
		t.Fatal(err)
	}
	if o := LeakSettings(as); o.Settle.String() != "7s" || o.HeapBound != 64<<20 {
		t.Fatalf("settings %+v", o)
	}
	if o := LeakSettings(nil); o.Settle != UnjudgedLeakSettle || o.HeapBound != 0 {
		t.Fatalf("settings without a leaks assertion %+v", o)
	}
	sc.Assert[0].Args, sc.Assert[0].Value = nil, "none"
	if as, err = Compile(sc); err != nil {
		t.Fatal(err)
	}
	if o := LeakSettings(as); o.Settle != DefaultLeakSettle || o.HeapBound != 0 {
		t.Fatalf("default settings of leaks: none %+v", o)
	}
	sc.Assert[0].Value = ""
	for _, bad := range []map[string]string{{"settle": "0s"}, {"heap": "lots"}, {"settle": "soon"}} {
		sc.Assert[0].Args = bad
		_, err := Compile(sc)
		if err == nil || !strings.Contains(err.Error(), "x.yaml:9:5") {
			t.Errorf("%v: err = %v, want it at x.yaml:9:5", bad, err)
		}
	}
}
