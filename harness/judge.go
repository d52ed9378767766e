package harness

import (
	"fmt"
	"slices"
	"time"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// Judge evaluates the assertions of the scenario rep was run from (its
// echoed source, with the run's effective duration, seed, client scale and
// target) on rep, and sets its verdicts and Passed. streambench merge
// judges a merged report this way, exactly as a single run is judged.
//
// opts give the catalogs the run was planned with (package streambench's
// Judge gives the reference ones).
func Judge(rep *reports.Report, opts ...PlanOption) error {
	p, err := planOf(rep, opts)
	if err != nil {
		return err
	}
	judge(rep, p.checks)
	return nil
}

// planOf rebuilds the plan a report was run with.
func planOf(rep *reports.Report, catalogs []PlanOption) (*Plan, error) {
	e := rep.Scenario
	if e.Source == "" {
		return nil, fmt.Errorf("report of %s has no scenario source to judge it by", e.Name)
	}
	sc, err := scenario.Decode(e.File, []byte(e.Source))
	if err != nil {
		return nil, err
	}
	// Judging sends nothing: the target may be whatever the run was
	// allowed to reach.
	opts := append(slices.Clone(catalogs),
		WithRemoteTarget(),
		WithSeed(rep.Seed),
		WithDuration(time.Duration(e.DurationSeconds*float64(time.Second))),
		WithGracefulStop(time.Duration(e.GracefulStopSeconds*float64(time.Second))),
	)
	if e.ClientScale != 0 {
		opts = append(opts, WithClientScale(e.ClientScale))
	}
	if e.Compress != 0 {
		opts = append(opts, WithCompress(e.Compress))
	}
	if sc.Target.TLS != nil {
		// Judging dials nothing: the certificates need not be here.
		sc.Target.TLS, sc.Target.Insecure = nil, true
	}
	if e.Target != "" {
		// The run's target override, as its report echoes it (dialled
		// in plaintext here: judging dials nothing).
		opts = append(opts, WithTarget(e.Target), WithInsecure())
	}
	// Judging sends no request either: a generic call's .proto files
	// need not be here.
	opts = append(opts, func(c *planConfig) { c.noVerify = true })
	return NewPlan(sc, opts...)
}
