package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/compare"
	"github.com/streambench/streambench/reports/render"
)

type compareFlags struct {
	html, summaryMD, artifactsURL string
	format                        string
	tolerance                     []string
	allowMismatch                 bool
}

func newCompareCmd(stdout, stderr io.Writer) *cobra.Command {
	var f compareFlags
	cmd := &cobra.Command{
		Use:   "compare BASE HEAD",
		Short: "Compare two runs or two sets of runs of one scenario; exit 1 when a metric regressed beyond tolerance, 2 on bad input",
		Long: `compare takes on each side a report (report.json), a set of runs written by
run --count K (set.json), or a folder holding either.

Sets (the default for CI): each metric of each group (latency p50, p90, p99,
p99.9, stream duration p50 and p99, error rate, throughput, recovery p99) is
taken from every run, and the two sides' values are compared with a
Mann-Whitney U test (golang.org/x/perf/benchmath, as benchstat does, alpha
0.05), the p-values adjusted for how many of each group's metrics are compared
(Benjamini-Hochberg: with nothing changed, the chance of any significant
metric stays at alpha). Not significant is "~"; with too few runs for the
test ever to reach alpha (3 or fewer a side) the metric says "too few runs",
never regressed; a significant change beyond its tolerance is regressed or
improved.

Two single reports: a metric regresses only when it moved by more than its
tolerance, by more than the single-run noise floor measured by A/A runs, AND
outside both runs' sampling noise. See docs/reports.md.

Runs must be like for like: a different scenario source, seed, duration,
client scale, time compression or streambench version, between the sides or
within a set, is exit 2 naming the difference and the files, unless
--allow-mismatch (then each difference is printed as a warning).

Default tolerances: p50=5%, p90=10%, p99=10%, p99.9=20%, max=50%,
duration.p50=5%, duration.p99=10%, error_rate=0.1pp, throughput=5%,
recovery=20%.`,
		Example: `  streambench run --count 5 --out base scenarios/smoke.yaml   # on the base commit
  streambench run --count 5 --out head scenarios/smoke.yaml   # on the head commit
  streambench compare base head                               # base/set.json vs head/set.json
  streambench compare --html diff.html --tolerance p99=15%,error_rate=0.5pp base/report.json head/report.json`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			return compareReports(args[0], args[1], f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "text", "text: the comparison on stdout; json: the comparison as JSON on stdout (every group, metric, run value, p and adjusted p, verdict) and the text on stderr, for a pipeline")
	fl.StringVar(&f.html, "html", "", "write the comparison as HTML (overlaid percentile curves) to this file")
	fl.StringVar(&f.summaryMD, "summary-md", "", "write a markdown summary (for a pull-request comment) to this file")
	fl.StringVar(&f.artifactsURL, "artifacts-url", "", "link the markdown summary to this URL (e.g. the CI run's artifacts)")
	fl.StringSliceVar(&f.tolerance, "tolerance", nil, "KEY=VALUE[,KEY=VALUE...] over the defaults; keys: "+strings.Join(compare.ToleranceKeys, " "))
	fl.BoolVar(&f.allowMismatch, "allow-mismatch", false, "compare runs that are not like for like (scenario source, seed, duration, client scale, version), printing each difference as a warning")
	return cmd
}

func compareReports(basePath, headPath string, f compareFlags, stdout, stderr io.Writer) error {
	tol, err := compare.ParseTolerances(f.tolerance)
	if err != nil {
		return exitf(ExitBadInput, "--tolerance: %v", err)
	}
	base, err := reports.LoadSide(basePath)
	if err != nil {
		return exitf(ExitBadInput, "base: %v", err)
	}
	head, err := reports.LoadSide(headPath)
	if err != nil {
		return exitf(ExitBadInput, "head: %v", err)
	}
	c, err := compare.Sides(base, head, compare.Options{Tolerances: tol, AllowMismatch: f.allowMismatch})
	if err != nil {
		if errors.Is(err, compare.ErrMismatch) {
			return exitf(ExitBadInput, "%s vs %s: %v (--allow-mismatch compares anyway)", basePath, headPath, err)
		}
		return exitf(ExitBadInput, "%v", err)
	}
	if f.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := struct {
			Verdict compare.MetricVerdict `json:"verdict"`
			*compare.Comparison
		}{c.Verdict(), c}
		if err := enc.Encode(out); err != nil {
			return exitf(ExitHarness, "comparison as JSON: %v", err)
		}
		stdout = stderr // what a person reads
	}
	if err := render.WriteComparisonText(stdout, c); err != nil {
		return exitf(ExitHarness, "%v", err)
	}
	if f.html != "" {
		if err := reports.WriteFile(f.html, func(w io.Writer) error { return render.WriteComparisonHTML(w, c) }); err != nil {
			return exitf(ExitHarness, "%v", err)
		}
		fmt.Fprintf(stdout, "html: %s\n", f.html)
	}
	if f.summaryMD != "" {
		err := reports.WriteFile(f.summaryMD, func(w io.Writer) error {
			return render.WriteComparisonMarkdown(w, c, render.MarkdownOptions{ArtifactsURL: f.artifactsURL})
		})
		if err != nil {
			return exitf(ExitHarness, "%v", err)
		}
		fmt.Fprintf(stdout, "summary: %s\n", f.summaryMD)
	}
	if c.Regressed() {
		return &exitError{code: ExitFail, err: fmt.Errorf("%d metric(s) regressed beyond tolerance", c.Count(compare.Regressed))}
	}
	return nil
}
