package harness_test

import (
	"slices"
	"testing"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness/scenario"
)

// TestPlanFaultKinds: a plan lists the kinds its link and target can take,
// and exactly those compile in a scenario of that plan.
func TestPlanFaultKinds(t *testing.T) {
	for _, tc := range []struct {
		link       string
		has, lacks []string
	}{
		{"bufconn", []string{"sever", "half_open", "server_restart", "max_connection_age", "stream_abort"}, []string{"timeout", "reset_peer", "pause"}},
		{"tcp", []string{"sever", "latency", "graceful_restart", "stream_stall"}, []string{"timeout", "pause"}},
		{"toxiproxy", []string{"timeout", "reset_peer", "server_restart"}, []string{"half_open", "pause"}},
	} {
		t.Run(tc.link, func(t *testing.T) {
			text := "name: k\nduration: 2s\ntarget: {builtin: {}}\nlink: " + tc.link + "\ngroups: [{name: s, rpc: Longlived/Subscribe, clients: 1}]\n"
			sc, err := scenario.Parse("k.yaml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := streambench.NewPlan(sc)
			if err != nil {
				t.Fatal(err)
			}
			kinds := plan.FaultKinds()
			for _, k := range tc.has {
				if !slices.Contains(kinds, k) {
					t.Errorf("%s: FaultKinds %v lacks %s", tc.link, kinds, k)
				}
			}
			for _, k := range tc.lacks {
				if slices.Contains(kinds, k) {
					t.Errorf("%s: FaultKinds %v has %s", tc.link, kinds, k)
				}
				// And validation refuses it, as FaultKinds says.
				one := sc.Clone()
				one.Faults = []scenario.Fault{{At: scenario.Duration(1e9), For: scenario.Duration(1e8), Kind: k}}
				if _, err := streambench.NewPlan(one); err == nil {
					t.Errorf("%s: %s is not in FaultKinds but validates", tc.link, k)
				}
			}
		})
	}
}
