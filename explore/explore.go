// Package explore searches a scenario's fault space for a failure and
// shrinks what it finds to the smallest scenario that still fails.
//
// Explore keeps the scenario's target, link, groups and assertions and
// replaces its faults with generated timelines: kinds the target and link
// can take (asked from the plan, as validation asks), settings drawn within
// each kind's declared domain, every timeline validated by NewPlan like a
// hand-written one. Runs are short and many: in-process (builtin) targets
// run several at once, other targets one at a time. The first failure (or,
// with KeepGoing, the first of each failing check) is confirmed m of k
// times and shrunk: fewer faults (delta debugging), shorter windows,
// earlier moments, smaller scope fractions, fewer clients and connections,
// a shorter run; the minimal scenario is re-run to measure how often it
// fails.
//
// A Go test can explore a service as a property test:
//
//	res, err := explore.Explore(ctx, sc, explore.Options{Runs: 20, Seed: 1})
//	if err != nil {
//		t.Fatal(err)
//	}
//	for _, f := range res.Failures {
//		t.Errorf("%s fails:\n%s", f.Check, f.YAML)
//	}
package explore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// Defaults.
const (
	// DefaultMaxFaults is the most faults of a generated timeline.
	DefaultMaxFaults = 3
	// DefaultRunDuration caps each explored run's duration when neither
	// the explore: block nor the options set one.
	DefaultRunDuration = 5 * time.Second
	// DefaultNeed and DefaultOf: a candidate counts as failing when it
	// fails DefaultNeed of DefaultOf runs.
	DefaultNeed, DefaultOf = 2, 3
	// DefaultReruns is how many times the minimal scenario is re-run to
	// measure its reproduction rate.
	DefaultReruns = 5
	// DefaultShrinkRuns bounds the runs one shrink may spend.
	DefaultShrinkRuns = 120
)

// maxStepsBack bounds how many shrink steps are undone when the minimal
// scenario reproduces below Need of Of.
const maxStepsBack = 3

// DefaultParallel is how many in-process runs go at once by default: the
// machine's core count (runtime.NumCPU), at most 8.
func DefaultParallel() int { return min(runtime.NumCPU(), 8) }

// Space narrows what explore generates; zero fields take the scenario's
// explore: block, then the defaults.
type Space struct {
	// Kinds are the fault kinds to draw (default: all the plan can take).
	Kinds []string
	// MaxFaults is the most faults per timeline (default 3).
	MaxFaults int
	// MaxWindow is the longest for: (default: half the run).
	MaxWindow time.Duration
	// Duration is each run's duration (default: the scenario's, at most
	// DefaultRunDuration).
	Duration time.Duration
}

// Options configure Explore. Runs or Budget must be set.
type Options struct {
	Space
	// Runs is how many generated timelines to try (0: until Budget).
	Runs int
	// Budget bounds the exploration's wall time (0: until Runs). Shrinking
	// a failure found is bounded by ShrinkRuns instead.
	Budget time.Duration
	// Seed makes the timelines (0: 1). The same seed and Runs try the same
	// timelines in the same order.
	Seed int64
	// Parallel is how many runs of an in-process target go at once
	// (default DefaultParallel). Runs of other targets, and of a scenario
	// that asserts leaks (whose evidence is the whole process's
	// goroutines and descriptors), go one at a time.
	Parallel int
	// Need of Of runs must fail for a shrink candidate to count as
	// failing (default 2 of 3).
	Need, Of int
	// Reruns is how many times the minimal scenario is re-run for its
	// reproduction rate (default 5).
	Reruns int
	// ShrinkRuns bounds the runs one shrink spends (default 120).
	ShrinkRuns int
	// KeepGoing explores on after a failure, for failures of other checks.
	KeepGoing bool
	// Plan and Run are options of every run (the target kind with a
	// planted bug, its client variant).
	Plan []harness.PlanOption
	Run  []harness.RunOption
	// OnRun, when set, is called after every run, one call at a time.
	OnRun func(Run)
	// OnProgress, when set, is called after every run with the totals.
	OnProgress func(Progress)
}

// Run is one run explore tried: a line of runs.jsonl.
type Run struct {
	// N numbers the runs from 1 in the order they were started.
	N int `json:"n"`
	// Phase is explore, confirm, shrink or reproduce.
	Phase string `json:"phase"`
	// Index is an exploration run's index (its timeline's random source).
	Index    int      `json:"index,omitempty"`
	Seed     int64    `json:"seed"`
	Duration string   `json:"duration"`
	Clients  []int    `json:"clients"`
	Timeline []string `json:"timeline"`
	// Verdict is pass, fail, invalid (validation refused the candidate)
	// or error (the run broke; Errors say how).
	Verdict string   `json:"verdict"`
	Failed  []string `json:"failed,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	Start   string   `json:"start"`
	Seconds float64  `json:"seconds"`
}

// Progress is explore's running totals.
type Progress struct {
	Phase       string
	Runs        int
	Explored    int
	Failures    int
	ShrinkSteps int
	Elapsed     time.Duration
}

// Failure is one failure found and shrunk.
type Failure struct {
	// Check is the failing assertion, as written in the scenario.
	Check string
	// FoundAt is the exploration run (1-based) that first failed.
	FoundAt int
	// Original is the timeline that failed first; Minimal the shrunk
	// scenario (faults, duration, clients), ready to run.
	Original *scenario.Scenario
	Minimal  *scenario.Scenario
	// ShrinkSteps counts the shrink candidates kept (each smaller and
	// still failing m of k); ShrinkRuns the runs shrinking spent.
	ShrinkSteps, ShrinkRuns int
	// Reproduced of Reruns runs of Minimal failed Check.
	Reproduced, Reruns int
	// StepsBack counts shrink steps undone because their result
	// reproduced below Need of Of (see Explore).
	StepsBack int
	// Report is a failing run's report of Minimal (nil when no rerun
	// failed).
	Report *reports.Report
	// YAML is Minimal as a scenario file, with a comment saying the
	// seed, the reproduction rate and the failing check.
	YAML []byte
}

// Result is what an explore found and covered.
type Result struct {
	// Runs counts every run; Explored the generated timelines tried.
	Runs, Explored int
	// Failures found (confirmed and shrunk), in the order found.
	Failures []Failure
	// Unconfirmed counts first failures that did not fail again m of k.
	Unconfirmed int
	// Moments counts the fault moments generated per kind; Kinds lists the
	// kinds explore could draw.
	Moments map[string]int
	Kinds   []string
	// Parallel is how many runs went at once.
	Parallel int
	Elapsed  time.Duration
}

// explorer is one Explore's state.
type explorer struct {
	base  *scenario.Scenario // the user's, faults removed
	opts  Options
	gen   *generator
	start time.Time
	// runPlan runs one plan: harness.RunPlan, or a test's stand-in.
	runPlan func(context.Context, *harness.Plan, ...harness.RunOption) (*reports.Report, error)

	mu       sync.Mutex // guards what follows, and serializes OnRun
	n        int
	explored int
	steps    int
	failures int
}

// candidate is one scenario explore runs: the base with these faults,
// duration, seed and client counts.
type candidate struct {
	faults   []scenario.Fault
	duration time.Duration
	seed     int64
	clients  []int
	conns    []int
}

// outcome is how a candidate's run went.
type outcome struct {
	failed  []string // failing assertions, in scenario order
	invalid error
	runErr  error
	rep     *reports.Report
}

// fails says whether the outcome fails check ("" : any check).
func (o outcome) fails(check string) bool {
	if check == "" {
		return len(o.failed) > 0
	}
	return slices.Contains(o.failed, check)
}

// Explore explores sc (see the package doc). It returns an error only for
// bad input (scenario.Errors, with positions) or a cancelled ctx before
// anything ran; failures found are in the Result.
func Explore(ctx context.Context, sc *scenario.Scenario, opts Options) (*Result, error) {
	e, err := newExplorer(sc, opts)
	if err != nil {
		return nil, err
	}
	return e.explore(ctx)
}

func newExplorer(sc *scenario.Scenario, opts Options) (*explorer, error) {
	if sc == nil {
		return nil, scenario.Errors{{Msg: "no scenario"}}
	}
	if opts.Runs < 0 || opts.Budget < 0 || (opts.Runs == 0 && opts.Budget == 0) {
		return nil, scenario.Errors{{Field: "--runs/--budget", Msg: "explore needs a number of runs or a time budget (> 0)"}}
	}
	base := sc.Clone()
	base.Faults = nil
	block := base.Explore
	base.Explore = nil
	var errs scenario.Errors
	bad := func(path, flag, format string, args ...any) {
		e := &scenario.Error{Field: flag, Msg: fmt.Sprintf(format, args...)}
		if flag == "" {
			e = &scenario.Error{File: sc.File, Pos: sc.PosOf(path), Field: path, Msg: e.Msg}
		}
		errs = append(errs, e)
	}
	// The options win over the explore: block, which wins over defaults.
	space, kindsFromFile, durationFromFile := opts.Space, false, false
	if block != nil {
		if space.Kinds == nil && len(block.Kinds) > 0 {
			space.Kinds, kindsFromFile = block.Kinds, true
		}
		if block.MaxFaults < 0 {
			bad("explore.max_faults", "", "must be > 0, got %d", block.MaxFaults)
		}
		if block.MaxWindow < 0 || block.Duration < 0 {
			bad("explore", "", "max_window and duration must not be negative")
		}
		if space.MaxFaults == 0 {
			space.MaxFaults = block.MaxFaults
		}
		if space.MaxWindow == 0 {
			space.MaxWindow = block.MaxWindow.D()
		}
		if space.Duration == 0 && block.Duration > 0 {
			space.Duration, durationFromFile = block.Duration.D(), true
		}
	}
	if space.MaxFaults < 0 || space.MaxWindow < 0 || space.Duration < 0 {
		bad("", "--max-faults/--max-window/--run-duration", "must not be negative")
	}
	if space.MaxFaults == 0 {
		space.MaxFaults = DefaultMaxFaults
	}
	if space.Duration == 0 {
		space.Duration = min(base.Duration.D(), DefaultRunDuration)
		if space.Duration <= 0 {
			space.Duration = DefaultRunDuration
		}
	}
	if space.Duration < time.Second {
		if durationFromFile {
			bad("explore.duration", "", "explored runs need at least 1s, got %v", space.Duration)
		} else {
			bad("", "--run-duration", "explored runs need at least 1s, got %v", space.Duration)
		}
	}
	if space.MaxWindow == 0 {
		space.MaxWindow = space.Duration / 2
	}
	if opts.Need == 0 && opts.Of == 0 {
		opts.Need, opts.Of = DefaultNeed, DefaultOf
	}
	if opts.Need < 1 || opts.Of < opts.Need {
		bad("", "--need/--of", "want 1 <= need <= of, got %d of %d", opts.Need, opts.Of)
	}
	if opts.Reruns == 0 {
		opts.Reruns = DefaultReruns
	}
	if opts.ShrinkRuns == 0 {
		opts.ShrinkRuns = DefaultShrinkRuns
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel()
	}
	if len(errs) > 0 {
		return nil, errs
	}
	base.Duration = scenario.Duration(space.Duration)
	plan, err := streambench.NewPlan(base, opts.Plan...)
	if err != nil {
		return nil, err
	}
	if !plan.InProcess() || assertsLeaks(base) {
		opts.Parallel = 1
	}
	kinds, err := kindsOf(sc, space.Kinds, kindsFromFile, plan.FaultKinds())
	if err != nil {
		return nil, err
	}
	opts.Space = space
	e := &explorer{base: base, opts: opts, runPlan: harness.RunPlan}
	var groups []string
	for _, g := range base.Groups {
		groups = append(groups, g.Name)
	}
	e.gen = &generator{kinds: kinds, groups: groups, link: plan.Link(), space: space, duration: space.Duration,
		valid: func(f scenario.Fault) error {
			one := base.Clone()
			one.Faults = []scenario.Fault{f}
			_, err := streambench.NewPlan(one, opts.Plan...)
			return err
		}}
	return e, nil
}

// assertsLeaks says whether sc judges leaks: evidence of the whole
// process, which runs beside it would spoil.
func assertsLeaks(sc *scenario.Scenario) bool {
	for _, a := range sc.Assert {
		if a.Key == "leaks" || strings.HasPrefix(a.Expr, "leaks") {
			return true
		}
	}
	return false
}

func (e *explorer) explore(ctx context.Context) (*Result, error) {
	e.start = time.Now()
	res := &Result{Moments: map[string]int{}, Parallel: e.opts.Parallel}
	for _, k := range e.gen.kinds {
		res.Kinds = append(res.Kinds, k.Name)
	}
	deadline := time.Time{}
	if e.opts.Budget > 0 {
		deadline = e.start.Add(e.opts.Budget)
	}
	found := map[string]bool{}
	next := 0
	for {
		if ctx.Err() != nil || (e.opts.Runs > 0 && next >= e.opts.Runs) || (!deadline.IsZero() && time.Now().After(deadline)) {
			break
		}
		batch := e.opts.Parallel
		if e.opts.Runs > 0 {
			batch = min(batch, e.opts.Runs-next)
		}
		cands := make([]candidate, batch)
		for i := range cands {
			cands[i] = e.generate(next + i)
			for _, f := range cands[i].faults {
				res.Moments[f.Kind]++
			}
		}
		outs := make([]outcome, batch)
		var wg sync.WaitGroup
		for i := range cands {
			wg.Go(func() { outs[i] = e.run(ctx, cands[i], "explore", next+i+1) })
		}
		wg.Wait()
		// Outcomes are read in index order: which run counts as the first
		// failure does not depend on which finished first.
		stop := false
		for i, o := range outs {
			check := firstNew(o.failed, found)
			if check == "" || ctx.Err() != nil {
				continue
			}
			f, ok := e.shrink(ctx, cands[i], check, next+i+1)
			if !ok {
				res.Unconfirmed++
				continue
			}
			found[check] = true
			res.Failures = append(res.Failures, f)
			e.mu.Lock()
			e.failures++
			e.mu.Unlock()
			if !e.opts.KeepGoing {
				stop = true
				break
			}
		}
		next += batch
		if stop {
			break
		}
	}
	e.mu.Lock()
	res.Runs, res.Explored = e.n, e.explored
	e.mu.Unlock()
	res.Elapsed = time.Since(e.start)
	if len(res.Failures) == 0 && res.Explored == 0 && ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// firstNew is the first failed check not found before ("" when none).
func firstNew(failed []string, found map[string]bool) string {
	for _, c := range failed {
		if !found[c] {
			return c
		}
	}
	return ""
}

// generate is exploration run index's candidate.
func (e *explorer) generate(index int) candidate {
	rng := rand.New(rand.NewPCG(uint64(e.opts.Seed), uint64(index)))
	c := candidate{duration: e.gen.duration, seed: rng.Int64N(1<<31) + 1}
	for _, g := range e.base.Groups {
		c.clients = append(c.clients, g.Clients)
		c.conns = append(c.conns, g.Connections)
	}
	c.faults = e.gen.timeline(rng)
	return c
}

// scenario is the candidate as a scenario.
func (e *explorer) scenario(c candidate) *scenario.Scenario {
	sc := e.base.Clone()
	sc.Faults = slices.Clone(c.faults)
	sc.Duration = scenario.Duration(c.duration)
	sc.Seed = c.seed
	sc.Source = "" // not the user's file: the failure's report echoes its YAML
	for i := range sc.Groups {
		sc.Groups[i].Clients = c.clients[i]
		sc.Groups[i].Connections = c.conns[i]
	}
	return sc
}

// run runs candidate c once: validated by NewPlan, run and judged as
// `streambench run` does.
func (e *explorer) run(ctx context.Context, c candidate, phase string, index int) outcome {
	sc := e.scenario(c)
	start := time.Now()
	var o outcome
	plan, err := streambench.NewPlan(sc, e.opts.Plan...)
	if err != nil {
		o.invalid = err
	} else {
		o.rep, o.runErr = e.runPlan(ctx, plan, e.opts.Run...)
		if o.rep != nil && !o.rep.Interrupted {
			for _, v := range o.rep.Failed() {
				o.failed = append(o.failed, v.Name)
			}
		}
	}
	r := Run{Phase: phase, Seed: c.seed, Duration: c.duration.String(), Clients: slices.Clone(c.clients),
		Start: start.UTC().Format(time.RFC3339Nano), Seconds: time.Since(start).Seconds(), Failed: o.failed}
	if phase == "explore" {
		r.Index = index
	}
	for _, f := range c.faults {
		r.Timeline = append(r.Timeline, describe(f))
	}
	switch {
	case o.invalid != nil:
		r.Verdict, r.Errors = "invalid", []string{o.invalid.Error()}
	case o.runErr != nil || o.rep == nil:
		r.Verdict = "error"
		if o.runErr != nil {
			r.Errors = []string{o.runErr.Error()}
		}
	case len(o.failed) > 0:
		r.Verdict = "fail"
	default:
		r.Verdict = "pass"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	r.N = e.n
	if phase == "explore" {
		e.explored++
	}
	if e.opts.OnRun != nil {
		e.opts.OnRun(r)
	}
	if e.opts.OnProgress != nil {
		e.opts.OnProgress(Progress{Phase: phase, Runs: e.n, Explored: e.explored, Failures: e.failures, ShrinkSteps: e.steps, Elapsed: time.Since(e.start)})
	}
	return o
}

// trial runs c up to Of times (Parallel at once) and says whether it failed
// check at least Need times; it stops as soon as the answer is known. It
// returns a failing report and the runs spent.
func (e *explorer) trial(ctx context.Context, c candidate, check, phase string) (bool, *reports.Report, int) {
	fails, runs := 0, 0
	var rep *reports.Report
	for runs < e.opts.Of && ctx.Err() == nil {
		if fails >= e.opts.Need || fails+(e.opts.Of-runs) < e.opts.Need {
			break
		}
		// Only as many runs as could still change the answer.
		batch := min(e.opts.Parallel, e.opts.Need-fails, e.opts.Of-runs)
		outs := make([]outcome, batch)
		var wg sync.WaitGroup
		for i := range outs {
			wg.Go(func() { outs[i] = e.run(ctx, c, phase, 0) })
		}
		wg.Wait()
		for _, o := range outs {
			runs++
			if o.invalid != nil {
				return false, nil, runs
			}
			if o.fails(check) {
				fails++
				if rep == nil {
					rep = o.rep
				}
			}
		}
	}
	return fails >= e.opts.Need, rep, runs
}

// shrink confirms c fails check m of k times, then shrinks it.
func (e *explorer) shrink(ctx context.Context, c candidate, check string, foundAt int) (Failure, bool) {
	ok, rep, spent := e.trial(ctx, c, check, "confirm")
	if !ok {
		return Failure{}, false
	}
	f := Failure{Check: check, FoundAt: foundAt, Original: e.scenario(c), Report: rep}
	// Every accepted step, the confirmed original first: if the last one
	// reproduces below the m-of-k rate (a 2-of-3 verdict can be luck),
	// the result steps back along them.
	type step struct {
		c   candidate
		rep *reports.Report
	}
	steps := []step{{c, rep}}
	budget := e.opts.ShrinkRuns
	try := func(next candidate) bool {
		if spent >= budget || ctx.Err() != nil {
			return false
		}
		ok, r, n := e.trial(ctx, next, check, "shrink")
		spent += n
		if ok {
			c, f.Report = next, r
			steps = append(steps, step{next, r})
			f.ShrinkSteps++
			e.mu.Lock()
			e.steps++
			e.mu.Unlock()
		}
		return ok
	}
	for changed := true; changed && spent < budget && ctx.Err() == nil; {
		changed = false
		if e.shrinkFaults(&c, try) {
			changed = true
		}
		for _, pass := range []func(candidate) []candidate{shorterWindows, earlierMoments, smallerScopes, fewerClients, shorterRun} {
			for _, next := range pass(c) {
				if try(next) {
					changed = true
					break // the pass again from the smaller candidate, next round
				}
			}
		}
	}
	f.ShrinkRuns = spent
	// The reproduction rate: the minimal scenario run Reruns times. Below
	// Need of Of, the shrink went a step too far (its verdict was luck on
	// a noisy machine): the step before it is measured instead, at most
	// maxStepsBack times, and the last one measured is the result.
	for back := 0; ; back++ {
		last := steps[len(steps)-1]
		c, f.Report = last.c, last.rep
		f.Reproduced, f.Reruns = 0, 0
		for range e.opts.Reruns {
			if ctx.Err() != nil {
				break
			}
			o := e.run(ctx, c, "reproduce", 0)
			f.Reruns++
			if o.fails(check) {
				f.Reproduced++
				if f.Report == nil {
					f.Report = o.rep
				}
			}
		}
		if f.Reproduced*e.opts.Of >= e.opts.Need*f.Reruns || len(steps) == 1 || back == maxStepsBack || ctx.Err() != nil {
			break
		}
		steps = steps[:len(steps)-1]
		f.StepsBack++
	}
	f.Minimal = e.scenario(c)
	f.YAML = e.yaml(f)
	if f.Report != nil {
		f.Report.Scenario.Source = string(f.YAML)
	}
	return f, true
}

// shrinkFaults is delta debugging (ddmin) over the fault list: the empty
// list first (the failure may need no fault at all), then complements and
// subsets at growing granularity.
func (e *explorer) shrinkFaults(c *candidate, try func(candidate) bool) bool {
	with := func(fs []scenario.Fault) candidate {
		next := *c
		next.faults = fs
		return next
	}
	if len(c.faults) == 0 {
		return false
	}
	if try(with(nil)) {
		return true
	}
	changed := false
	n := 2
	for len(c.faults) >= 2 {
		chunks := split(c.faults, n)
		progress := false
		for i := range chunks {
			if try(with(chunks[i])) { // a subset alone
				n, progress, changed = 2, true, true
				break
			}
		}
		if !progress && n > 2 {
			for i := range chunks {
				if try(with(complement(chunks, i))) {
					n, progress, changed = max(n-1, 2), true, true
					break
				}
			}
		}
		if !progress {
			if n >= len(c.faults) {
				break
			}
			n = min(2*n, len(c.faults))
		}
	}
	return changed
}

// split cuts fs into n nearly equal chunks, in order.
func split(fs []scenario.Fault, n int) [][]scenario.Fault {
	var out [][]scenario.Fault
	for i := range n {
		lo, hi := i*len(fs)/n, (i+1)*len(fs)/n
		if hi > lo {
			out = append(out, slices.Clone(fs[lo:hi]))
		}
	}
	return out
}

func complement(chunks [][]scenario.Fault, skip int) []scenario.Fault {
	var out []scenario.Fault
	for i, c := range chunks {
		if i != skip {
			out = append(out, c...)
		}
	}
	return out
}

// withFault is c with fault i replaced by f.
func withFault(c candidate, i int, f scenario.Fault) candidate {
	c.faults = slices.Clone(c.faults)
	c.faults[i] = f
	return c
}

// Each pass below offers, per fault or group, the smallest value first
// (most often kept when the failure does not depend on it), then half the
// current one.

// shorterWindows shortens each fault's for: (not below the grain).
func shorterWindows(c candidate) []candidate {
	var out []candidate
	for i, f := range c.faults {
		for _, d := range smaller(f.For.D(), grain) {
			f.For = scenario.Duration(d)
			out = append(out, withFault(c, i, f))
		}
	}
	return out
}

// earlierMoments moves each fault toward the start of the run (not before
// the grain), so the run can end sooner.
func earlierMoments(c candidate) []candidate {
	var out []candidate
	for i, f := range c.faults {
		for _, d := range smaller(f.At.D(), grain) {
			f.At = scenario.Duration(d)
			out = append(out, withFault(c, i, f))
		}
	}
	return out
}

// smaller are the values to try below d: least, then half of d, rounded to
// the grain; none when d is already the least.
func smaller(d, least time.Duration) []time.Duration {
	if d <= least {
		return nil
	}
	out := []time.Duration{least}
	if h := max(least, roundTo(d/2, grain)); h > least && h < d {
		out = append(out, h)
	}
	return out
}

// smallerScopes narrows each fault's scope fraction: to 0.1, then half
// (an unscoped fault counts as 1).
func smallerScopes(c candidate) []candidate {
	var out []candidate
	for i, f := range c.faults {
		if isServer(f.Kind) {
			continue
		}
		fr := f.Scope.Fraction
		if fr <= 0 || fr >= 1 {
			fr = 1
		}
		for _, next := range []float64{0.1, float64(int(fr/2*100+0.5)) / 100} {
			if next < fr && next >= 0.05 {
				f.Scope.Fraction = next
				out = append(out, withFault(c, i, f))
			}
		}
	}
	return out
}

// fewerClients cuts each group's clients (and connections, not above the
// clients) to 1, then to half; then its connections alone.
func fewerClients(c candidate) []candidate {
	var out []candidate
	for i := range c.clients {
		for _, n := range []int{1, c.clients[i] / 2} {
			if n < 1 || n >= c.clients[i] {
				continue
			}
			next := c
			next.clients, next.conns = slices.Clone(c.clients), slices.Clone(c.conns)
			next.clients[i] = n
			next.conns[i] = min(next.conns[i], n)
			out = append(out, next)
		}
		for _, n := range []int{1, c.conns[i] / 2} {
			if n < 1 || n >= c.conns[i] {
				continue
			}
			next := c
			next.conns = slices.Clone(c.conns)
			next.conns[i] = n
			out = append(out, next)
		}
	}
	return out
}

// shorterRun ends the run a second after the last fault's end (at least
// 1s), or halves it when it has no fault.
func shorterRun(c candidate) []candidate {
	end := time.Duration(0)
	for _, f := range c.faults {
		end = max(end, f.At.D()+f.For.D())
	}
	d := roundTo(end+time.Second, grain)
	if len(c.faults) == 0 {
		d = roundTo(c.duration/2, grain)
	}
	d = max(d, time.Second)
	if d >= c.duration {
		return nil
	}
	c.duration = d
	return []candidate{c}
}

func isServer(kind string) bool {
	k, ok := fault.Lookup(kind)
	return ok && k.Layer == fault.Server
}

// yaml renders the minimal scenario with the comment that says where it
// came from.
func (e *explorer) yaml(f Failure) []byte {
	sc := f.Minimal.Clone()
	sc.Description = strings.TrimSpace(fmt.Sprintf("Found by streambench explore: fails %s. %s", f.Check, sc.Description))
	body, err := scenario.Marshal(sc)
	if err != nil {
		body = []byte("# " + err.Error() + "\n")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Minimal failing scenario found by streambench explore (seed %d, exploration run %d).\n", e.opts.Seed, f.FoundAt)
	fmt.Fprintf(&b, "# Fails: %s\n", f.Check)
	fmt.Fprintf(&b, "# Reproduced %d of %d reruns; shrunk in %d steps (%d runs) from %d fault(s) to %d.\n",
		f.Reproduced, f.Reruns, f.ShrinkSteps-f.StepsBack, f.ShrinkRuns, len(f.Original.Faults), len(f.Minimal.Faults))
	if f.StepsBack > 0 {
		fmt.Fprintf(&b, "# %d later shrink step(s) undone: they reproduced below %d of %d.\n", f.StepsBack, e.opts.Need, e.opts.Of)
	}
	fmt.Fprintf(&b, "# Replay: streambench run FILE (the run's seed %d is below).\n", f.Minimal.Seed)
	b.Write(body)
	return []byte(b.String())
}

// Summary describes what r covered: runs, kinds tried and fault moments
// per kind.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs (%d timelines explored, %d at once) in %v; %d failure(s) found", r.Runs, r.Explored, r.Parallel, r.Elapsed.Round(time.Second), len(r.Failures))
	if r.Unconfirmed > 0 {
		fmt.Fprintf(&b, ", %d first failure(s) not confirmed", r.Unconfirmed)
	}
	b.WriteString("\nfault moments per kind:")
	kinds := slices.Clone(r.Kinds)
	sort.SliceStable(kinds, func(i, j int) bool { return r.Moments[kinds[i]] > r.Moments[kinds[j]] })
	for _, k := range kinds {
		fmt.Fprintf(&b, " %s %d,", k, r.Moments[k])
	}
	return strings.TrimSuffix(b.String(), ",") + "\n"
}

// KindsTried counts the kinds with at least one moment.
func (r *Result) KindsTried() int {
	n := 0
	for _, k := range r.Kinds {
		if r.Moments[k] > 0 {
			n++
		}
	}
	return n
}
