package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/render"
)

type reportFlags struct {
	html, junit, summaryMD, hlog, artifactsURL string
}

func newReportCmd(stdout io.Writer) *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report REPORT.json",
		Short: "Re-render a report.json as HTML, JUnit XML, a markdown summary or an HdrHistogram interval log (exit 0 when written, whatever the run's verdict)",
		Example: `  streambench report out/smoke/report.json --html /tmp/smoke.html
  streambench report out/smoke/report.json --junit junit.xml --summary-md summary.md
  streambench report out/smoke/report.json --hlog smoke.hlog`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.html == "" && f.junit == "" && f.summaryMD == "" && f.hlog == "" {
				return exitf(ExitBadInput, "report: name at least one output: --html FILE, --junit FILE, --summary-md FILE or --hlog FILE")
			}
			rep, err := loadReport(args[0])
			if err != nil {
				return err
			}
			written, err := writeRenderings(rep, renderTargets{html: f.html, junit: f.junit, summaryMD: f.summaryMD, hlog: f.hlog, artifactsURL: f.artifactsURL})
			if err != nil {
				return exitf(ExitHarness, "%v", err)
			}
			for _, p := range written {
				fmt.Fprintln(stdout, p)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.html, "html", "", "write the HTML report to this file")
	fl.StringVar(&f.junit, "junit", "", "write JUnit XML (one testcase per assertion) to this file")
	fl.StringVar(&f.summaryMD, "summary-md", "", "write a markdown summary (for a pull-request comment) to this file")
	fl.StringVar(&f.hlog, "hlog", "", "write the windows' latency as an HdrHistogram interval log (.hlog, as HistogramLogAnalyzer reads it) to this file")
	fl.StringVar(&f.artifactsURL, "artifacts-url", "", "link the markdown summary to this URL (e.g. the CI run's artifacts)")
	return cmd
}

// loadReport reads a report file; anything wrong with it is bad input.
func loadReport(path string) (*reports.Report, error) {
	rep, err := reports.Load(path)
	if err != nil {
		return nil, exitf(ExitBadInput, "%v", err)
	}
	return rep, nil
}

// renderTargets names the files to render a report into ("" = skip).
type renderTargets struct {
	html, junit, summaryMD, hlog, artifactsURL string
}

// writeRenderings writes rep's renderings and returns the paths written.
func writeRenderings(rep *reports.Report, t renderTargets) ([]string, error) {
	var written []string
	files := []string{}
	for _, p := range []string{t.html, t.junit} {
		if p != "" {
			files = append(files, filepath.Base(p))
		}
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{
		{t.html, func(w io.Writer) error { return render.WriteHTML(w, rep) }},
		{t.junit, func(w io.Writer) error { return render.WriteJUnit(w, rep) }},
		{t.summaryMD, func(w io.Writer) error {
			return render.WriteMarkdown(w, rep, render.MarkdownOptions{ArtifactsURL: t.artifactsURL, Files: append([]string{"report.json"}, files...)})
		}},
		{t.hlog, rep.WriteHlog},
	} {
		if out.path == "" {
			continue
		}
		if err := reports.WriteFile(out.path, out.write); err != nil {
			return written, err
		}
		written = append(written, out.path)
	}
	return written, nil
}
