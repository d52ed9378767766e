package harness

import (
	"fmt"
	"strings"
	"time"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// Judge evaluates the assertions of the scenario rep was run from (its
// echoed source, with the run's effective duration, seed, client scale and
// target) on rep, and sets its verdicts and Passed. streambench merge
// judges a merged report this way, exactly as a single run is judged.
func Judge(rep *reports.Report) error {
	p, err := planOf(rep)
	if err != nil {
		return err
	}
	judge(rep, p.checks)
	return nil
}

// planOf rebuilds the plan a report was run with.
func planOf(rep *reports.Report) (*Plan, error) {
	e := rep.Scenario
	if e.Source == "" {
		return nil, fmt.Errorf("report of %s has no scenario source to judge it by", e.Name)
	}
	sc, err := scenario.Decode(e.File, []byte(e.Source))
	if err != nil {
		return nil, err
	}
	opts := []Option{
		WithSeed(rep.Seed),
		WithDuration(time.Duration(e.DurationSeconds * float64(time.Second))),
		WithGracefulStop(time.Duration(e.GracefulStopSeconds * float64(time.Second))),
	}
	if e.ClientScale != 0 {
		opts = append(opts, WithClientScale(e.ClientScale))
	}
	if e.Compress != 0 {
		opts = append(opts, WithCompress(e.Compress))
	}
	if addr, ok := strings.CutPrefix(rep.Target, addressDial); ok {
		// Judging sends nothing: the target may be whatever the run
		// was allowed to reach.
		opts = append(opts, WithTarget(addr), WithInsecure(), WithRemoteTarget())
	}
	return NewPlan(sc, opts...)
}

// addressDial prefixes an address target's dial target (and the report's
// Target for one).
const addressDial = "passthrough:///"
