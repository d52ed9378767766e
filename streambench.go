// Package streambench assembles streambench's engine (package harness)
// with what it drives: the catalog of the reference RPCs and the generic
// one, and the table of target kinds (builtin, address, command, backends). The
// CLI and library users start here; the engine itself imports no target.
//
// A user can run a scenario from their own `go test`:
//
//	sc, err := streambench.Load("scenarios/smoke.yaml")
//	if err != nil {
//		t.Fatal(err)
//	}
//	rep, err := streambench.Run(ctx, sc, harness.WithDuration(2*time.Second))
//	if err != nil {
//		t.Fatal(err)
//	}
//	if !rep.Passed {
//		t.Fatal(rep.Failed())
//	}
//
// A kind of target of the user's own is one more entry
// (harness.WithTargetKind); docs/extending.md shows one.
package streambench

import (
	"context"
	"sync"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/address"
	"github.com/streambench/streambench/targets/backends"
	"github.com/streambench/streambench/targets/builtin"
	"github.com/streambench/streambench/targets/command"
	"github.com/streambench/streambench/targets/generic"
	"github.com/streambench/streambench/targets/longlived"
	mathsrv "github.com/streambench/streambench/targets/math"
)

// RPCs returns the catalog of RPCs a group can drive. A new RPC is one
// entry next to its driver plus one line here.
func RPCs() *rpc.Catalog { return rpcsOnce() }

var rpcsOnce = sync.OnceValue(func() *rpc.Catalog {
	c, err := rpc.New(
		longlived.RPC,
		mathsrv.PowRPC,
		mathsrv.SumRPC,
		mathsrv.SqrtRPC,
		generic.RPC,
	)
	if err != nil {
		panic(err) // a programming error in the list above; a test covers it
	}
	return c
})

// Targets returns the catalog of target kinds. A new kind is one file
// under targets/ plus one line here.
func Targets() *target.Catalog { return targetsOnce() }

var targetsOnce = sync.OnceValue(func() *target.Catalog {
	c, err := target.New(
		builtin.Kind(nil),
		address.Kind,
		command.Kind,
		backends.Kind,
	)
	if err != nil {
		panic(err) // a programming error in the list above; a test covers it
	}
	return c
})

// Catalogs are the plan options that give a plan the reference catalogs;
// options after them (WithRPCs, WithTargets, WithTargetKind) change them.
func Catalogs() []harness.PlanOption {
	return []harness.PlanOption{harness.WithRPCs(RPCs()), harness.WithTargets(Targets())}
}

// NewPlan is harness.NewPlan with the reference catalogs.
func NewPlan(sc *scenario.Scenario, opts ...harness.PlanOption) (*harness.Plan, error) {
	return harness.NewPlan(sc, append(Catalogs(), opts...)...)
}

// Run is harness.Run with the reference catalogs.
func Run(ctx context.Context, sc *scenario.Scenario, opts ...harness.Option) (*reports.Report, error) {
	all := make([]harness.Option, 0, 2+len(opts))
	for _, o := range Catalogs() {
		all = append(all, o)
	}
	return harness.Run(ctx, sc, append(all, opts...)...)
}

// Load is harness.Load with the reference catalogs: it reads, decodes and
// checks the scenario at path.
func Load(path string, opts ...harness.PlanOption) (*scenario.Scenario, error) {
	return harness.Load(path, append(Catalogs(), opts...)...)
}

// Validate checks the scenario at path without running it.
func Validate(path string, opts ...harness.PlanOption) error {
	_, err := Load(path, opts...)
	return err
}

// Check is harness.Check with the reference catalogs: Validate, and what
// could not be checked without the target.
func Check(path string, opts ...harness.PlanOption) (unchecked []string, err error) {
	return harness.Check(path, append(Catalogs(), opts...)...)
}

// Judge is harness.Judge with the reference catalogs.
func Judge(rep *reports.Report, opts ...harness.PlanOption) error {
	return harness.Judge(rep, append(Catalogs(), opts...)...)
}
