package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/format"
)

// MarkdownOptions tunes the markdown summaries.
type MarkdownOptions struct {
	// ArtifactsURL, when set, is linked as where the full reports are.
	ArtifactsURL string
	// Files are the report files written next to the summary (names shown
	// in the artifact line).
	Files []string
}

func writeArtifacts(w io.Writer, o MarkdownOptions) {
	if o.ArtifactsURL == "" && len(o.Files) == 0 {
		return
	}
	files := make([]string, len(o.Files))
	for i, f := range o.Files {
		files[i] = "`" + f + "`"
	}
	switch {
	case o.ArtifactsURL != "" && len(files) > 0:
		fmt.Fprintf(w, "\nFull reports: [artifacts](%s) (%s)\n", o.ArtifactsURL, strings.Join(files, ", "))
	case o.ArtifactsURL != "":
		fmt.Fprintf(w, "\nFull reports: [artifacts](%s)\n", o.ArtifactsURL)
	default:
		fmt.Fprintf(w, "\nFull reports: %s\n", strings.Join(files, ", "))
	}
}

// mdCell escapes a table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return s
}

// WriteMarkdown writes a summary of r for a pull-request comment or a
// GitHub job summary: the verdict line, a table per group (p50, p99,
// messages/s, failed streams), the failed assertions with expected vs
// actual, and where the full reports are.
func WriteMarkdown(w io.Writer, r *reports.Report, o MarkdownOptions) error {
	b := reportBanner(r)
	icon := map[string]string{"pass": "✅", "fail": "❌", "interrupted": "⚠️"}[b.Class]
	fmt.Fprintf(w, "### %s `%s` %s: %s\n\n", icon, r.Scenario.Name, b.Title, b.Sub)
	fmt.Fprintf(w, "seed %d · %.1f s · %s over %s · streambench %s, %s, %d cores\n\n",
		r.Seed, r.Elapsed, r.Target, r.Link, r.Environment.Streambench, r.Environment.GoVersion, r.Environment.CPUs)
	fmt.Fprintln(w, "| group | rpc | streams | failed | msgs/s | p50 | p99 | max |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|")
	for _, g := range r.Groups {
		rate, _ := r.LoadRate(&g)
		l := g.Latency
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s | %s | %s |\n", mdCell(g.Name), g.RPC, g.Streams.Opened, g.Streams.Failed,
			format.Rate(rate), format.MS(l.P50MS, l.Count), format.MS(l.P99MS, l.Count), format.MS(l.MaxMS, l.Count))
	}
	if lines := backendLines(r); len(lines) > 0 {
		fmt.Fprintln(w)
		for _, l := range lines {
			fmt.Fprintf(w, "- %s\n", mdCell(l))
		}
	}
	if failed := r.Failed(); len(failed) > 0 {
		fmt.Fprintln(w, "\n**Failed assertions**")
		fmt.Fprintln(w, "\n| assertion | expected | actual |")
		fmt.Fprintln(w, "|---|---|---|")
		for _, v := range failed {
			actual := v.Actual
			if v.Detail != "" {
				actual += " — " + v.Detail
			}
			fmt.Fprintf(w, "| `%s` | %s | %s |\n", mdCell(v.Name), mdCell(v.Expected), mdCell(actual))
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "\n**Harness errors**")
		fmt.Fprintln(w)
		for _, e := range r.Errors {
			fmt.Fprintf(w, "- %s\n", mdCell(e))
		}
	}
	writeArtifacts(w, o)
	return nil
}

// WriteSetMarkdown writes a summary of a set of runs for a pull-request
// comment or a GitHub job summary: one line per run (passed or which
// assertions failed), then the full summary of the first run that failed,
// or of the last run when all passed.
func WriteSetMarkdown(w io.Writer, s *reports.Set, reps []*reports.Report, o MarkdownOptions) error {
	if len(reps) == 0 || len(reps) != len(s.Runs) {
		return fmt.Errorf("set summary: %d reports for %d runs", len(reps), len(s.Runs))
	}
	passed, show := 0, -1
	for i, r := range reps {
		switch {
		case r.Passed:
			passed++
		case show < 0:
			show = i
		}
	}
	if show < 0 {
		show = len(reps) - 1
	}
	fmt.Fprintf(w, "#### `%s`: %d runs with seed %d, %d passed\n\n", s.Scenario, len(reps), reps[0].Seed, passed)
	fmt.Fprintln(w, "| run | report | result |")
	fmt.Fprintln(w, "|--:|---|---|")
	for i, r := range reps {
		res := "passed"
		if !r.Passed {
			var names []string
			for _, v := range r.Failed() {
				names = append(names, "`"+mdCell(v.Name)+"`")
			}
			res = "FAILED " + strings.Join(names, ", ")
			if len(r.Errors) > 0 {
				res += fmt.Sprintf(" (%d harness errors)", len(r.Errors))
			}
		}
		fmt.Fprintf(w, "| %d | %s | %s |\n", i+1, mdCell(s.Runs[i].Report), res)
	}
	fmt.Fprintf(w, "\nRun %d of %d:\n\n", show+1, len(reps))
	return WriteMarkdown(w, reps[show], o)
}
