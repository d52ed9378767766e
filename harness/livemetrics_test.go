package harness

import (
	"testing"
	"time"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/metrics"
)

// TestFaultGaugeShowsShortWindows: a fault whose window begins and ends
// between two samples (a 1 s restart, an instant sever) still sets its
// kind's gauge for the sample after it, so a dashboard shades it; the next
// sample, with no fault, clears it.
func TestFaultGaugeShowsShortWindows(t *testing.T) {
	restart, _ := fault.Lookup("server_restart")
	set := metrics.New(metrics.Labels{Scenario: "gauge"})
	start := time.Unix(1000, 0)
	now := start.Add(3 * time.Second)
	r := &run{cfg: runConfig{metrics: set, now: func() time.Time { return now }}}
	r.start = start
	r.specs = []*fault.Spec{{Index: 0, Kind: restart}}
	r.events = events{start: start, now: func() time.Time { return now }}
	gauge := func() float64 {
		t.Helper()
		mfs, err := set.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "streambench_fault_active" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "kind" && l.GetValue() == "server_restart" {
						return m.GetGauge().GetValue()
					}
				}
			}
		}
		t.Fatal("no streambench_fault_active{kind=server_restart}")
		return 0
	}
	r.events.addAt(start.Add(1100*time.Millisecond), "fault_start", "faults[0] server_restart", "server")
	r.events.addAt(start.Add(1900*time.Millisecond), "fault_end", "faults[0] server_restart", "")
	r.observeMetrics(&liveSample{})
	if g := gauge(); g != 1 {
		t.Errorf("after a window inside the interval the gauge is %v, want 1", g)
	}
	now = now.Add(time.Second)
	r.observeMetrics(&liveSample{})
	if g := gauge(); g != 0 {
		t.Errorf("a second later the gauge is %v, want 0", g)
	}
}
