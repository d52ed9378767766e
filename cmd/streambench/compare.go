package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench/reports"
)

type compareFlags struct {
	html, summaryMD, artifactsURL string
	tolerance                     []string
}

func newCompareCmd(stdout io.Writer) *cobra.Command {
	var f compareFlags
	cmd := &cobra.Command{
		Use:   "compare BASE.json HEAD.json",
		Short: "Compare two reports of one scenario; exit 1 when a metric regressed beyond tolerance, 2 on bad input",
		Long: `compare judges each group's latency (p50, p90, p99, p99.9, max), stream
duration (p50, p99), error rate and throughput from the two reports' full
histograms and sample counts. A metric regresses only when it moved by more
than its tolerance AND outside both runs' sampling noise; with few samples it
is "unchanged within noise". See docs/reports.md.

Default tolerances: p50=5%, p90=10%, p99=10%, p99.9=20%, max=50%,
duration.p50=5%, duration.p99=10%, error_rate=0.1pp, throughput=5%.`,
		Example: `  streambench compare base/smoke/report.json out/smoke/report.json
  streambench compare --html diff.html --tolerance p99=15%,error_rate=0.5pp base.json head.json`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return compareReports(args[0], args[1], f, stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.html, "html", "", "write the comparison as HTML (overlaid percentile curves) to this file")
	fl.StringVar(&f.summaryMD, "summary-md", "", "write a markdown summary (for a pull-request comment) to this file")
	fl.StringVar(&f.artifactsURL, "artifacts-url", "", "link the markdown summary to this URL (e.g. the CI run's artifacts)")
	fl.StringSliceVar(&f.tolerance, "tolerance", nil, "KEY=VALUE[,KEY=VALUE...] over the defaults; keys: p50 p90 p99 p99.9 max duration.p50 duration.p99 error_rate throughput")
	return cmd
}

func compareReports(basePath, headPath string, f compareFlags, stdout io.Writer) error {
	tol, err := reports.ParseTolerances(f.tolerance)
	if err != nil {
		return exitf(ExitBadInput, "--tolerance: %v", err)
	}
	base, err := loadReport(basePath)
	if err != nil {
		return err
	}
	head, err := loadReport(headPath)
	if err != nil {
		return err
	}
	c, err := reports.Compare(base, head, tol)
	if err != nil {
		if errors.Is(err, reports.ErrMismatch) {
			return exitf(ExitBadInput, "%s vs %s: %v", basePath, headPath, err)
		}
		return exitf(ExitBadInput, "%v", err)
	}
	c.Base.File, c.Head.File = basePath, headPath
	if err := c.WriteText(stdout); err != nil {
		return exitf(ExitHarness, "%v", err)
	}
	if f.html != "" {
		if err := reports.WriteFile(f.html, c.WriteHTML); err != nil {
			return exitf(ExitHarness, "%v", err)
		}
		fmt.Fprintf(stdout, "html: %s\n", f.html)
	}
	if f.summaryMD != "" {
		err := reports.WriteFile(f.summaryMD, func(w io.Writer) error {
			return c.WriteMarkdown(w, reports.MarkdownOptions{ArtifactsURL: f.artifactsURL})
		})
		if err != nil {
			return exitf(ExitHarness, "%v", err)
		}
		fmt.Fprintf(stdout, "summary: %s\n", f.summaryMD)
	}
	if c.Regressed() {
		return &exitError{code: ExitFail, err: fmt.Errorf("%d metric(s) regressed beyond tolerance", c.Count(reports.Regressed))}
	}
	return nil
}
