package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/faulty"
)

type runFlags struct {
	out        string
	target     string
	duration   time.Duration
	seed       int64
	faulty     string
	noProgress bool
	// clientScale multiplies every group's clients (0: as written).
	clientScale float64
	// summaryMD and artifactsURL: the markdown summary for a PR comment.
	summaryMD    string
	artifactsURL string
	// cpuProfile and memProfile: pprof files of the run itself.
	cpuProfile string
	memProfile string
	// count is how many times to run the scenario (see count.go).
	count int
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run SCENARIO.yaml",
		Short: "Run a scenario, write its report and exit 0 (pass) or 1 (an assertion failed)",
		Example: `  streambench run scenarios/smoke.yaml
  streambench run --target 127.0.0.1:7070 scenarios/smoke.yaml
  streambench run --duration 3s --out /tmp/smoke scenarios/smoke.yaml
  streambench run --count 5 scenarios/smoke.yaml   # out/smoke/run-1..5/ and out/smoke/set.json, for compare`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("count") {
				return runCount(cmd, args[0], f, stdout, stderr)
			}
			return runScenario(cmd, args[0], f, stdout, stderr)
		},
	}
	addCountFlag(cmd, &f.count)
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "folder for report.json, report.html and junit.xml (default out/<scenario name>)")
	fl.StringVar(&f.target, "target", "", "run against this server (host:port on loopback) instead of the scenario's target")
	fl.DurationVar(&f.duration, "duration", 0, "override the scenario's duration")
	fl.Int64Var(&f.seed, "seed", 0, "override the scenario's seed (replay a run)")
	fl.StringVar(&f.faulty, "faulty", "", "self-check: run the builtin target with a planted bug (see `streambench list`)")
	fl.BoolVar(&f.noProgress, "no-progress", false, "do not print progress while running")
	fl.Float64Var(&f.clientScale, "client-scale", 0, "multiply every group's clients and connections (e.g. 20 runs fanout.yaml's 5,000 subscribers as 100,000)")
	fl.StringVar(&f.summaryMD, "summary-md", "", "also write a markdown summary (for a pull-request comment) to this file")
	fl.StringVar(&f.artifactsURL, "artifacts-url", "", "link the markdown summary to this URL (e.g. the CI run's artifacts)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run (clients, in-process server and harness) to this file, for go tool pprof")
	fl.StringVar(&f.memProfile, "memprofile", "", "write a heap profile taken at the end of the run's duration to this file")
	return cmd
}

// exactArgs is cobra.ExactArgs with an exit-2 error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return exitf(ExitBadInput, "%s: want %d argument(s), got %d (usage: %s)", cmd.Name(), n, len(args), cmd.UseLine())
		}
		return nil
	}
}

func runScenario(cmd *cobra.Command, path string, f runFlags, stdout, stderr io.Writer) error {
	sc, err := harness.Load(path)
	if err != nil {
		return badInput(err)
	}
	var opts []harness.Option
	if f.target != "" {
		if err := scenario.CheckLoopback(f.target); err != nil {
			return exitf(ExitBadInput, "--target: %v", err)
		}
		opts = append(opts, harness.WithTarget(f.target))
	}
	if f.duration < 0 {
		return exitf(ExitBadInput, "--duration: must not be negative, got %v", f.duration)
	}
	if f.duration > 0 {
		opts = append(opts, harness.WithDuration(f.duration))
	}
	if cmd.Flags().Changed("seed") {
		opts = append(opts, harness.WithSeed(f.seed))
	}
	if f.clientScale < 0 || f.clientScale > 1000 {
		return exitf(ExitBadInput, "--client-scale: must be between 0 and 1000, got %v", f.clientScale)
	}
	if f.clientScale > 0 {
		opts = append(opts, harness.WithClientScale(f.clientScale))
	}
	if f.faulty != "" {
		bug, ok := faulty.Lookup(f.faulty)
		if !ok {
			return exitf(ExitBadInput, "--faulty: unknown bug %q (bugs: %s)", f.faulty, strings.Join(faulty.Names(), ", "))
		}
		opts = append(opts, harness.WithBug(bug))
	}
	outDir := f.out
	if outDir == "" {
		outDir = filepath.Join("out", sc.Name)
	}

	// First SIGINT/SIGTERM: stop new work, drain, write the partial report.
	// Second: abort at once.
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	sigDone := make(chan struct{})
	defer close(sigDone)
	go func() {
		select {
		case <-sigs:
		case <-sigDone:
			return
		}
		fmt.Fprintln(stderr, "\nstreambench: interrupted: draining streams and writing the report (Ctrl-C again to abort)")
		cancel()
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "streambench: aborted")
			os.Exit(ExitInterrupted)
		case <-sigDone:
		}
	}()

	duration := sc.Duration.D()
	if f.duration > 0 {
		duration = f.duration
	}
	fmt.Fprintf(stderr, "streambench %s: running %s for %v\n", harness.Version(), describe(sc), duration)
	prog := newProgress(stderr, duration, !f.noProgress)
	opts = append(opts, harness.WithProgress(prog.update, prog.every()))
	stopProfile, err := startProfiles(f.cpuProfile, f.memProfile)
	if err != nil {
		return exitf(ExitBadInput, "%v", err)
	}
	if f.memProfile != "" {
		opts = append(opts, harness.WithOnStop(stopProfile.heap))
	}
	rep, runErr := harness.Run(ctx, sc, opts...)
	if err := stopProfile.stop(); err != nil {
		return exitf(ExitHarness, "%v", err)
	}
	prog.finish()
	if rep == nil {
		if _, ok := scenario.AsErrors(runErr); ok {
			return badInput(runErr)
		}
		return exitf(ExitHarness, "%v", runErr)
	}
	reportPath, err := writeReport(outDir, rep)
	if err != nil {
		return exitf(ExitHarness, "%v", err)
	}
	written, err := writeRenderings(rep, renderTargets{
		html:         filepath.Join(outDir, "report.html"),
		junit:        filepath.Join(outDir, "junit.xml"),
		summaryMD:    f.summaryMD,
		artifactsURL: f.artifactsURL,
	})
	if err != nil {
		return exitf(ExitHarness, "%v", err)
	}
	reports.WriteSummary(stdout, rep)
	fmt.Fprintf(stdout, "\nreport: %s\n", reportPath)
	for _, p := range written {
		fmt.Fprintf(stdout, "        %s\n", p)
	}
	switch {
	case runErr != nil:
		return exitf(ExitHarness, "%v", runErr)
	case rep.Interrupted:
		return &exitError{code: ExitInterrupted, err: errors.New("interrupted; partial report written")}
	case !rep.Passed:
		return &exitError{code: ExitFail, err: fmt.Errorf("%d assertion(s) failed", len(rep.Failed()))}
	}
	return nil
}

func describe(sc *scenario.Scenario) string {
	n := 0
	for _, g := range sc.Groups {
		n += g.Clients
	}
	return fmt.Sprintf("%s (%d groups, %d clients)", sc.Name, len(sc.Groups), n)
}

func writeReport(dir string, rep *reports.Report) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report folder: %w", err)
	}
	path := filepath.Join(dir, "report.json")
	tmp, err := os.CreateTemp(dir, ".report-*.json")
	if err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	if err := rep.WriteJSON(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	return path, nil
}

// badInput wraps a scenario error with exit code 2, printing it as is.
func badInput(err error) error {
	return &exitError{code: ExitBadInput, err: err}
}
