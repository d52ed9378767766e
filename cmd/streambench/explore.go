package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench/explore"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/selfcheck"
)

type exploreFlags struct {
	budget     time.Duration
	runs       int
	seed       int64
	keepGoing  bool
	out        string
	faulty     string
	parallel   int
	need, of   int
	reruns     int
	shrinkRuns int
	kinds      []string
	maxFaults  int
	maxWindow  time.Duration
	duration   time.Duration
	noProgress bool
}

func newExploreCmd(stdout, stderr io.Writer) *cobra.Command {
	var f exploreFlags
	cmd := &cobra.Command{
		Use:   "explore SCENARIO.yaml",
		Short: "Search the fault space for a failure and shrink it to the smallest scenario that still fails (exit 1 when found, 0 when not)",
		Long: `explore keeps the scenario's target, link, groups and assertions, replaces its faults
with generated timelines (kinds the target and link can take, settings within each
kind's declared domain, every timeline validated like a hand-written one), runs them
short and many, and shrinks the first failure: fewer faults, shorter windows, earlier
moments, smaller scopes, fewer clients, a shorter run. A shrink candidate counts as
failing when it fails --need of --of runs; the minimal scenario is re-run --reruns
times for its reproduction rate. The same --seed and --runs try the same timelines.

Writes to --out: minimal.yaml (the minimal failing scenario, replayable with
streambench run), its report.json and report.html, and runs.jsonl (every run: its
timeline, verdict and time). With --keep-going, later failures go to failure-N/.`,
		Example: `  streambench explore scenarios/smoke.yaml --runs 50 --seed 7
  streambench explore --faulty subscribe_ignores_from_seq --budget 2m explore.yaml
  streambench explore --kinds sever,server_restart --max-faults 2 --run-duration 3s scenarios/reconnect.yaml`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExplore(cmd, args[0], f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.budget, "budget", 10*time.Minute, "bound the exploration's wall time (shrinking a failure found is bounded by --shrink-runs); with --runs alone, no time bound")
	fl.IntVar(&f.runs, "runs", 0, "try this many generated timelines (with --budget: whichever ends first)")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the generated timelines: the same seed and --runs try the same timelines")
	fl.BoolVar(&f.keepGoing, "keep-going", false, "explore on after a failure, for failures of other checks")
	fl.StringVar(&f.out, "out", "", "folder for minimal.yaml, report.json, report.html and runs.jsonl (default out/<scenario name>-explore)")
	fl.StringVar(&f.faulty, "faulty", "", "self-check: explore the builtin target with a planted bug by name (streambench list names them)")
	fl.IntVar(&f.parallel, "parallel", 0, fmt.Sprintf("runs at once for a builtin target (default: the core count, at most 8: %d here); other targets and scenarios that assert leaks run one at a time", explore.DefaultParallel()))
	fl.IntVar(&f.need, "need", explore.DefaultNeed, "a shrink candidate fails when it fails --need of --of runs")
	fl.IntVar(&f.of, "of", explore.DefaultOf, "runs of a shrink candidate (see --need)")
	fl.IntVar(&f.reruns, "reruns", explore.DefaultReruns, "re-runs of the minimal scenario, for its reproduction rate")
	fl.IntVar(&f.shrinkRuns, "shrink-runs", explore.DefaultShrinkRuns, "the most runs one shrink may spend")
	fl.StringSliceVar(&f.kinds, "kinds", nil, "fault kinds to draw, comma-separated (default: the explore: block's, else every kind the target and link can take)")
	fl.IntVar(&f.maxFaults, "max-faults", 0, fmt.Sprintf("the most faults per generated timeline (default: the explore: block's, else %d)", explore.DefaultMaxFaults))
	fl.DurationVar(&f.maxWindow, "max-window", 0, "the longest for: of a generated fault (default: the explore: block's, else half the run)")
	fl.DurationVar(&f.duration, "run-duration", 0, fmt.Sprintf("each run's duration (default: the explore: block's, else the scenario's, at most %v)", explore.DefaultRunDuration))
	fl.BoolVar(&f.noProgress, "no-progress", false, "do not print progress")
	return cmd
}

func runExplore(cmd *cobra.Command, path string, f exploreFlags, stdout, stderr io.Writer) error {
	sc, err := scenarioAt(path)
	if err != nil {
		return err
	}
	fl := cmd.Flags()
	opts := explore.Options{
		Space:     explore.Space{Kinds: f.kinds, MaxFaults: f.maxFaults, MaxWindow: f.maxWindow, Duration: f.duration},
		Runs:      f.runs,
		Seed:      f.seed,
		Parallel:  f.parallel,
		Need:      f.need,
		Of:        f.of,
		Reruns:    f.reruns,
		KeepGoing: f.keepGoing,
	}
	if f.shrinkRuns <= 0 || f.reruns <= 0 || f.runs < 0 || f.budget < 0 || f.seed == 0 {
		return exitf(ExitBadInput, "explore: --shrink-runs and --reruns must be > 0, --runs and --budget not negative, --seed not 0")
	}
	opts.ShrinkRuns = f.shrinkRuns
	if !fl.Changed("runs") || fl.Changed("budget") {
		opts.Budget = f.budget
	}
	if f.faulty != "" {
		bug, err := selfcheck.Lookup(f.faulty)
		if err != nil {
			return exitf(ExitBadInput, "--faulty: %v", err)
		}
		opts.Plan = append(opts.Plan, harness.WithTargetKind(selfcheck.Kind(bug)))
		opts.Run = append(opts.Run, harness.WithVariant(selfcheck.Variant(bug)))
	}
	outDir := f.out
	if outDir == "" {
		outDir = filepath.Join("out", sc.Name+"-explore")
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return exitf(ExitHarness, "explore: %v", err)
	}
	log, err := os.Create(filepath.Join(outDir, "runs.jsonl"))
	if err != nil {
		return exitf(ExitHarness, "explore: %v", err)
	}
	defer log.Close()
	var logErr error
	var mu sync.Mutex
	enc := json.NewEncoder(log)
	opts.OnRun = func(r explore.Run) {
		if err := enc.Encode(r); err != nil && logErr == nil {
			logErr = err
		}
		if !f.noProgress {
			mu.Lock()
			fmt.Fprintf(stderr, "explore: run %d %-9s %-7s %s\n", r.N, r.Phase, r.Verdict, strings.Join(r.Timeline, "; "))
			mu.Unlock()
		}
	}
	if !f.noProgress {
		opts.OnProgress = func(p explore.Progress) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stderr, "explore: %d runs, %d explored, %d failure(s), %d shrink steps, %v\n", p.Runs, p.Explored, p.Failures, p.ShrinkSteps, p.Elapsed.Round(time.Second))
		}
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bound := "for " + opts.Budget.String()
	if opts.Runs > 0 {
		bound = fmt.Sprintf("for %d runs", opts.Runs)
		if opts.Budget > 0 {
			bound += " or " + opts.Budget.String()
		}
	}
	fmt.Fprintf(stderr, "streambench %s: exploring %s %s (seed %d)\n", harness.Version(), path, bound, f.seed)
	res, err := explore.Explore(ctx, sc, opts)
	if err != nil {
		if _, ok := scenario.AsErrors(err); ok {
			return badInput(err)
		}
		if ctx.Err() != nil {
			return &exitError{code: ExitInterrupted, err: errors.New("interrupted")}
		}
		return exitf(ExitHarness, "explore: %v", err)
	}
	if logErr != nil {
		return exitf(ExitHarness, "explore: runs.jsonl: %v", logErr)
	}
	fmt.Fprintf(stdout, "%s", res.Summary())
	for i, fail := range res.Failures {
		dir := outDir
		if i > 0 {
			dir = filepath.Join(outDir, fmt.Sprintf("failure-%d", i+1))
		}
		if err := writeFailure(dir, fail); err != nil {
			return exitf(ExitHarness, "explore: %v", err)
		}
		fmt.Fprintf(stdout, "\nFAILS %s: found at run %d, shrunk in %d steps (%d runs) to %d fault(s), reproduced %d of %d\n",
			fail.Check, fail.FoundAt, fail.ShrinkSteps, fail.ShrinkRuns, len(fail.Minimal.Faults), fail.Reproduced, fail.Reruns)
		fmt.Fprintf(stdout, "minimal scenario: %s\n", filepath.Join(dir, "minimal.yaml"))
	}
	fmt.Fprintf(stdout, "runs: %s\n", filepath.Join(outDir, "runs.jsonl"))
	switch {
	case ctx.Err() != nil:
		return &exitError{code: ExitInterrupted, err: errors.New("interrupted; what was found is written")}
	case len(res.Failures) > 0:
		return &exitError{code: ExitFail, err: fmt.Errorf("%d failure(s) found", len(res.Failures))}
	}
	return nil
}

// writeFailure writes a failure's minimal scenario and its report.
func writeFailure(dir string, f explore.Failure) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "minimal.yaml"), f.YAML, 0o644); err != nil {
		return err
	}
	if f.Report == nil {
		return nil
	}
	if _, err := writeReport(dir, f.Report); err != nil {
		return err
	}
	_, err := writeRenderings(f.Report, renderTargets{html: filepath.Join(dir, "report.html")})
	return err
}
