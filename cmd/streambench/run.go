package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/render"
	"github.com/streambench/streambench/selfcheck"
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
	// shard ("i/n") and startAt (RFC 3339): a sharded run's part.
	shard   string
	startAt string
	// allowRemote lets --target be a host other than loopback.
	allowRemote bool
	// count is how many times to run the scenario (see count.go).
	count int
	// format is what stdout carries: text or json.
	format string
	// adhoc is a one-line run of a call, without a scenario file.
	adhoc adhocFlags
	// insecure, or cacert, cert, key and cname: how --target is dialled
	// (named as in ghz).
	insecure                 bool
	cacert, cert, key, cname string
	skipVerify               bool
	// headers are -H 'key: value' metadata for every call.
	headers []string
	// metrics are the live-metric outputs (metricsflags.go).
	metrics metricsFlags
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run SCENARIO.yaml | run --target ADDR --insecure --call pkg.Svc/Method [--data JSON]",
		Short: "Run a scenario, write its report and exit 0 (pass) or 1 (an assertion failed)",
		Example: `  streambench run scenarios/smoke.yaml
  streambench run --target 127.0.0.1:7070 --insecure scenarios/smoke.yaml
  streambench run --target localhost:7443 --cacert ca.pem --cert client.pem --key client-key.pem scenarios/smoke.yaml
  streambench run --duration 3s --out /tmp/smoke scenarios/smoke.yaml
  streambench run --count 5 scenarios/smoke.yaml   # out/smoke/run-1..5/ and out/smoke/set.json, for compare
  streambench run --target 127.0.0.1:7070 --insecure --call streambench.v1.Math/Pow --data '{"base": 2, "count": 10}' --expect-count 10`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.adhoc.call != "" && len(args) == 0 {
				return nil
			}
			return exactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.adhoc.call != "" {
				if len(args) > 0 {
					return exitf(ExitBadInput, "run: give a scenario file or --call, not both")
				}
				path, err := f.adhoc.write()
				if err != nil {
					return err
				}
				defer os.RemoveAll(filepath.Dir(path))
				args = []string{path}
			}
			if err := checkFormat(f.format); err != nil {
				return err
			}
			if cmd.Flags().Changed("count") {
				return runCount(cmd, args[0], f, stdout, stderr)
			}
			return runScenario(cmd, args[0], f, stdout, stderr)
		},
	}
	addCountFlag(cmd, &f.count)
	f.adhoc.flags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "text", "text: the summary on stdout; json: the report (with --count, the set) as JSON on stdout and the summary on stderr, for a pipeline")
	fl.StringVar(&f.out, "out", "", "folder for report.json, report.html and junit.xml (default out/<scenario name>)")
	fl.StringVar(&f.target, "target", "", "run against this server (host:port on loopback) instead of the scenario's target")
	fl.BoolVar(&f.insecure, "insecure", false, "dial --target in plaintext (--target needs this or --cacert)")
	fl.StringVar(&f.cacert, "cacert", "", "dial --target over TLS, checking its certificate against this PEM CA file")
	fl.StringVar(&f.cert, "cert", "", "client certificate PEM file for mutual TLS with --target (with --key)")
	fl.StringVar(&f.key, "key", "", "client private key PEM file for mutual TLS with --target (with --cert)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "add 'key: value' gRPC metadata to every call (repeatable; replaces the scenario's value of that key)")
	fl.BoolVar(&f.skipVerify, "skip-verify", false, "dial --target over TLS WITHOUT checking its certificate (ghz --skipTLS): encrypted, but any server could answer; the report warns of it")
	fl.StringVar(&f.cname, "cname", "", "the name --target's certificate must hold (default: --target's host)")
	fl.DurationVar(&f.duration, "duration", 0, "override the scenario's duration")
	fl.Int64Var(&f.seed, "seed", 0, "override the scenario's seed (replay a run)")
	fl.StringVar(&f.faulty, "faulty", "", "self-check: run the builtin target with a planted bug by name (streambench list names them)")
	fl.BoolVar(&f.noProgress, "no-progress", false, "do not print progress while running")
	fl.Float64Var(&f.clientScale, "client-scale", 1, "multiply every group's clients and connections (> 0; e.g. 20 runs fanout.yaml's 5,000 subscribers as 100,000)")
	fl.StringVar(&f.summaryMD, "summary-md", "", "also write a markdown summary (for a pull-request comment) to this file")
	fl.StringVar(&f.artifactsURL, "artifacts-url", "", "link the markdown summary to this URL (e.g. the CI run's artifacts)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run (clients, in-process server and harness) to this file, for go tool pprof")
	fl.StringVar(&f.memProfile, "memprofile", "", "write a heap profile taken at the end of the run's duration to this file")
	fl.BoolVar(&f.allowRemote, "allow-remote-target", false, "let --target (or the scenario's target.address) be a host other than loopback, for runs inside your own cluster (the Kubernetes Job in deploy/kubernetes)")
	fl.StringVar(&f.shard, "shard", "", "run shard i of n (\"i/n\") of a sharded run against a shared --target; join the reports with streambench merge")
	f.metrics.flags(fl)
	fl.StringVar(&f.startAt, "start-at", "", "hold the clients until this RFC 3339 time (e.g. 2026-12-01T12:00:00Z), so the shards of a run start together")
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
	plan, err := planOf(cmd, path, f)
	if err != nil {
		return err
	}
	var opts []harness.RunOption
	if f.startAt != "" {
		at, err := time.Parse(time.RFC3339, f.startAt)
		if err != nil {
			return exitf(ExitBadInput, "--start-at: %q is not an RFC 3339 time such as 2026-12-01T12:00:00Z", f.startAt)
		}
		if until := time.Until(at); until > maxStartWait {
			return exitf(ExitBadInput, "--start-at: %s is %v away; at most %v", f.startAt, until.Round(time.Second), maxStartWait)
		}
		opts = append(opts, harness.WithStartAt(at))
	}
	if f.faulty != "" {
		bug, _ := selfcheck.Lookup(f.faulty) // planOf checked it
		opts = append(opts, harness.WithVariant(selfcheck.Variant(bug)))
	}
	outDir := f.out
	if outDir == "" {
		outDir = filepath.Join("out", plan.Name())
		if sh := plan.Shard(); sh != nil {
			outDir = filepath.Join("out", fmt.Sprintf("%s-shard-%d-of-%d", plan.Name(), sh.Index, sh.Count))
		}
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
	prog := newProgress(stderr, plan.Duration(), !f.noProgress)
	go func() {
		select {
		case <-sigs:
		case <-sigDone:
			return
		}
		prog.println("streambench: interrupted: draining streams and writing the report (Ctrl-C again to abort)")
		cancel()
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "streambench: aborted")
			os.Exit(ExitInterrupted)
		case <-sigDone:
		}
	}()

	opts = append(opts, harness.WithArtifacts(outDir))
	fmt.Fprintf(stderr, "streambench %s: running %s for %v\n", harness.Version(), plan.Describe(), plan.Duration())
	if t := plan.Scenario().Target.TLS; t != nil && t.SkipVerify {
		fmt.Fprintln(stderr, "streambench: WARNING: TLS without checking the target's certificate (--skip-verify / tls.skip_verify): encrypted, but any server could answer")
	}
	opts = append(opts, harness.WithProgress(prog.update, prog.every()))
	stopProfile, err := startProfiles(f.cpuProfile, f.memProfile)
	if err != nil {
		return exitf(ExitBadInput, "%v", err)
	}
	if f.memProfile != "" {
		opts = append(opts, harness.WithOnStop(stopProfile.heap))
	}
	live, err := f.metrics.start(plan, stderr)
	if err != nil {
		return err
	}
	if live != nil {
		opts = append(opts, harness.WithMetrics(live.set))
	}
	rep, runErr := harness.RunPlan(ctx, plan, opts...)
	live.stop(stderr)
	if err := stopProfile.stop(); err != nil {
		return exitf(ExitHarness, "%v", err)
	}
	prog.finish()
	if rep == nil {
		if _, ok := scenario.AsErrors(runErr); ok {
			return badInput(f.adhoc.userWords(runErr))
		}
		return exitf(ExitHarness, "%v", runErr)
	}
	if f.format == "json" {
		// The report goes to stdout for a pipeline; what a person reads
		// goes to stderr.
		if err := rep.WriteJSON(stdout); err != nil {
			return exitf(ExitHarness, "%v", err)
		}
		stdout = stderr
	}
	return emit(stdout, outDir, rep, runErr, renderTargets{summaryMD: f.summaryMD, artifactsURL: f.artifactsURL})
}

// checkFormat refuses a --format other than text or json.
func checkFormat(format string) error {
	if format != "text" && format != "json" {
		return exitf(ExitBadInput, "--format: %s", scenario.UnknownChoice("format", format, []string{"text", "json"}))
	}
	return nil
}

// emit writes rep's files to outDir (report.json, report.html, junit.xml,
// report.hlog, and the markdown summary when asked), prints the summary and returns
// the exit a run with this report and error gets: 3 on a harness error, 130
// when interrupted, 1 when an assertion failed.
func emit(stdout io.Writer, outDir string, rep *reports.Report, runErr error, extra renderTargets) error {
	reportPath, err := writeReport(outDir, rep)
	if err != nil {
		return exitf(ExitHarness, "%v", err)
	}
	extra.html, extra.junit = filepath.Join(outDir, "report.html"), filepath.Join(outDir, "junit.xml")
	extra.hlog = filepath.Join(outDir, "report.hlog")
	written, err := writeRenderings(rep, extra)
	if err != nil {
		return exitf(ExitHarness, "%v", err)
	}
	render.WriteSummary(stdout, rep)
	fmt.Fprintf(stdout, "\nreport: %s\n", reportPath)
	for _, p := range written {
		fmt.Fprintf(stdout, "        %s\n", p)
	}
	switch {
	case runErr != nil:
		return exitf(ExitHarness, "%v", runErr)
	case rep.Interrupted:
		return &exitError{code: ExitInterrupted, err: errors.New("interrupted; partial report written")}
	case len(rep.Errors) > 0:
		return exitf(ExitHarness, "%s", strings.Join(rep.Errors, "; "))
	case !rep.Passed:
		return &exitError{code: ExitFail, err: fmt.Errorf("%d assertion(s) failed", len(rep.Failed()))}
	}
	return nil
}

// maxStartWait bounds how far ahead --start-at may be: a barrier is for
// shards starting together, not a scheduler.
const maxStartWait = time.Hour

// planOf loads the scenario at path and resolves it with the command
// line's overrides: every problem, of the file or of an override, is exit 2.
func planOf(cmd *cobra.Command, path string, f runFlags) (*harness.Plan, error) {
	sc, err := scenarioAt(path)
	if err != nil {
		return nil, err
	}
	ov := streambench.Catalogs()
	if f.faulty != "" {
		bug, err := selfcheck.Lookup(f.faulty)
		if err != nil {
			return nil, exitf(ExitBadInput, "--faulty: %v", err)
		}
		ov = append(ov, harness.WithTargetKind(selfcheck.Kind(bug)))
	}
	fl := cmd.Flags()
	if fl.Changed("target") {
		ov = append(ov, harness.WithTarget(f.target))
	}
	if f.insecure {
		ov = append(ov, harness.WithInsecure())
	}
	if f.cacert != "" || f.cert != "" || f.key != "" || f.cname != "" || f.skipVerify {
		ov = append(ov, harness.WithTLS(scenario.TLS{CA: f.cacert, Cert: f.cert, Key: f.key, ServerName: f.cname, SkipVerify: f.skipVerify}))
	}
	if f.allowRemote {
		ov = append(ov, harness.WithRemoteTarget())
	}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, exitf(ExitBadInput, "-H %q: want 'key: value'", h)
		}
		ov = append(ov, harness.WithMetadata(strings.TrimSpace(k), strings.TrimSpace(v)))
	}
	if fl.Changed("duration") {
		ov = append(ov, harness.WithDuration(f.duration))
	}
	if fl.Changed("seed") {
		ov = append(ov, harness.WithSeed(f.seed))
	}
	if fl.Changed("client-scale") {
		ov = append(ov, harness.WithClientScale(f.clientScale))
	}
	if f.shard != "" {
		sh, err := harness.ParseShard(f.shard)
		if err != nil {
			return nil, exitf(ExitBadInput, "--shard: %v", err)
		}
		ov = append(ov, harness.WithShard(sh))
	}
	plan, err := harness.NewPlan(sc, ov...)
	if err != nil {
		return nil, badInput(f.adhoc.userWords(headerWords(flagNames(err), f.headers)))
	}
	return plan, nil
}

// headerWords says that an error about a metadata key -H set is the
// flag's, not the scenario file's.
func headerWords(err error, headers []string) error {
	es, ok := scenario.AsErrors(err)
	if !ok {
		return err
	}
	for _, h := range headers {
		k, _, _ := strings.Cut(h, ":")
		for _, e := range es {
			if e.Field == "target.metadata."+strings.TrimSpace(k) {
				e.File, e.Pos, e.Field = "", scenario.Pos{}, "-H "+strconv.Quote(h)
			}
		}
	}
	return es
}

// scenarioAt reads and decodes the scenario file at path (exit 2 when it
// cannot).
func scenarioAt(path string) (*scenario.Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, badInput(fmt.Errorf("scenario: %w", err))
	}
	sc, err := scenario.Decode(path, data)
	if err != nil {
		return nil, badInput(err)
	}
	return sc, nil
}

// overrideFlags pairs the plan's override names with the flags that set
// them.
var overrideFlags = [][2]string{
	{"duration", "--duration"},
	{"target", "--target"},
	{"TLS", "--cacert/--cert/--key"},
	{"client scale", "--client-scale"},
	{"seed", "--seed"},
	{"metadata", "-H"},
}

// flagNames rewords the plan's override errors with the flags that set the
// overrides, so a user reads "--duration" where a library user reads "the
// duration override".
func flagNames(err error) error {
	es, ok := scenario.AsErrors(err)
	if !ok {
		return err
	}
	for _, e := range es {
		for _, p := range overrideFlags {
			if e.Field == p[0]+" override" {
				e.Field = p[1]
			}
			e.Msg = strings.ReplaceAll(e.Msg, "the "+p[0]+" override", p[1])
		}
	}
	return es
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
