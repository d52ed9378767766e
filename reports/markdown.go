package reports

import (
	"fmt"
	"io"
)

// WriteMarkdown writes a summary of r for a pull-request comment or a
// GitHub job summary: the verdict line, a table per group (p50, p99,
// messages/s, failed streams), the failed assertions with expected vs
// actual, and where the full reports are.
func WriteMarkdown(w io.Writer, r *Report, o MarkdownOptions) error {
	b := reportBanner(r)
	icon := map[string]string{"pass": "✅", "fail": "❌", "interrupted": "⚠️"}[b.Class]
	fmt.Fprintf(w, "### %s `%s` %s: %s\n\n", icon, r.Scenario.Name, b.Title, b.Sub)
	fmt.Fprintf(w, "seed %d · %.1f s · %s over %s · streambench %s, %s, %d cores\n\n",
		r.Seed, r.Elapsed, r.Target, r.Link, r.Environment.Streambench, r.Environment.GoVersion, r.Environment.CPUs)
	fmt.Fprintln(w, "| group | rpc | streams | failed | msgs/s | p50 | p99 | max |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|")
	for _, g := range r.Groups {
		rate := 0.0
		if r.Elapsed > 0 {
			rate = float64(g.Messages.Received) / r.Elapsed
		}
		l := g.Latency
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s | %s | %s |\n", mdCell(g.Name), g.RPC, g.Streams.Opened, g.Streams.Failed,
			fmtRate(rate), ms(l.P50MS, l.Count), ms(l.P99MS, l.Count), ms(l.MaxMS, l.Count))
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
