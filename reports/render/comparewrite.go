package render

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/compare"
)

// WriteComparisonText writes the comparison as a table: per group and metric, base,
// head, change, verdict and why.
func WriteComparisonText(w io.Writer, c *compare.Comparison) error {
	fmt.Fprintf(w, "\n%s: base %s vs head %s\n", c.Scenario, sideLine(c.Base), sideLine(c.Head))
	if c.Mode == compare.ModeRuns {
		fmt.Fprintf(w, "each metric: median of the runs ±spread; Mann-Whitney U test on the runs' values, alpha %g\n", c.Alpha)
	}
	for _, m := range c.Mismatches {
		fmt.Fprintf(w, "WARNING: not like for like (--allow-mismatch): %s\n", m)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "group\tmetric\tbase\thead\tchange\tverdict\twhy\t")
	for _, g := range c.Groups {
		if g.Only != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\tonly in the %s run\t\n", g.Name, g.Only)
			continue
		}
		for _, m := range g.Metrics {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", g.Name, m.Metric, m.FormatBase(), m.FormatHead(), m.FormatDelta(), verdictWord(m.Verdict), m.Why)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range c.SortedNotes() {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "\n%s\n", headline(c))
	return nil
}

// sideLine describes one side: its file, seed, and how long or how many
// times it ran.
func sideLine(r compare.RunInfo) string {
	if r.Runs > 0 {
		return fmt.Sprintf("%s (%d runs, seed %d)", orDash(r.File), r.Runs, r.Seed)
	}
	return fmt.Sprintf("%s (seed %d, %.1fs)", orDash(r.File), r.Seed, r.Elapsed)
}

func verdictWord(v compare.MetricVerdict) string {
	switch v {
	case compare.Regressed:
		return "REGRESSED"
	case compare.Improved:
		return "improved"
	case compare.TooFewRuns:
		return "too few runs"
	case compare.TooFewValues:
		return "too few values"
	}
	return "unchanged"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// headline is the comparison's verdict in one line.
func headline(c *compare.Comparison) string {
	total := c.Total()
	few := ""
	if n := c.Count(compare.TooFewRuns); n > 0 {
		few = fmt.Sprintf("; %d with too few runs to judge (need >=%d runs a side)", n, compare.RunsNeeded())
	}
	if n := c.Count(compare.TooFewValues); n > 0 {
		few += fmt.Sprintf("; %d quantiles with too few values per run to judge (need >=%d beyond the quantile)", n, compare.TailValues)
	}
	switch c.Verdict() {
	case compare.Regressed:
		return fmt.Sprintf("REGRESSED: %d of %d metrics regressed beyond tolerance (%d improved)%s", c.Count(compare.Regressed), total, c.Count(compare.Improved), few)
	case compare.Improved:
		return fmt.Sprintf("IMPROVED: %d of %d metrics improved, none regressed%s", c.Count(compare.Improved), total, few)
	case compare.TooFewRuns:
		return fmt.Sprintf("TOO FEW RUNS: none of %d metrics can be judged: need >=%d runs a side (run --count %d)", total, compare.RunsNeeded(), max(compare.RunsNeeded(), 5))
	}
	return fmt.Sprintf("UNCHANGED: %d metrics within tolerance or noise%s", total, few)
}

type diffGroupView struct {
	compare.GroupComparison
	Chart template.HTML
}

type diffView struct {
	C        *compare.Comparison
	Banner   banner
	Groups   []diffGroupView
	Tols     [][2]string
	Notes    []string
	Problems []string
}

// WriteComparisonHTML writes the comparison as one self-contained page: a verdict
// banner, per group a before/after table and the two runs' latency
// percentile curves overlaid (base dashed).
func WriteComparisonHTML(w io.Writer, c *compare.Comparison) error {
	v := diffView{C: c, Notes: c.SortedNotes()}
	title := strings.SplitN(headline(c), ":", 2)
	v.Banner = banner{Class: string(c.Verdict()), Title: title[0], Sub: strings.TrimSpace(title[1])}
	for _, k := range compare.ToleranceKeys {
		v.Tols = append(v.Tols, [2]string{k, c.Tolerances.String(k)})
	}
	for i, g := range c.Groups {
		dg := diffGroupView{GroupComparison: g}
		if g.Only == "" && len(c.BaseReports) > 0 && len(c.HeadReports) > 0 {
			var ss []series
			for _, side := range []struct {
				name   string
				reps   []*reports.Report
				dashed bool
				col    string
			}{{"base", c.BaseReports, true, "#7F7F7F"}, {"head", c.HeadReports, false, colour(i)}} {
				for k, r := range side.reps {
					grp := r.Group(g.Name)
					if grp == nil || grp.Latency.Count == 0 {
						continue
					}
					name := side.name + " (raw)"
					if c.Mode == compare.ModeRuns {
						name = fmt.Sprintf("%s run %d", side.name, k+1)
					}
					h, err := grp.Latency.Decode()
					if err != nil {
						v.Problems = append(v.Problems, fmt.Sprintf("%s %s latency: %v", name, g.Name, err))
						continue
					}
					ss = append(ss, series{Name: name, Colour: side.col, Dashed: side.dashed, Points: percentileSeries(h)})
				}
			}
			ch := percentileChart("latency-"+g.Name, g.Name+" latency by percentile: base (dashed) vs head", ss)
			ch.Empty = "no messages"
			dg.Chart = ch.SVG()
		}
		v.Groups = append(v.Groups, dg)
	}
	if err := templates.ExecuteTemplate(w, "diff.html.tmpl", v); err != nil {
		return fmt.Errorf("write html comparison: %w", err)
	}
	return nil
}

// WriteComparisonMarkdown writes the comparison for a pull-request comment: the
// verdict, the metrics that moved, and the rest folded away.
func WriteComparisonMarkdown(w io.Writer, c *compare.Comparison, o MarkdownOptions) error {
	icon := map[compare.MetricVerdict]string{compare.Regressed: "❌", compare.Improved: "✅", compare.Unchanged: "✅", compare.TooFewRuns: "⚠️"}[c.Verdict()]
	fmt.Fprintf(w, "### %s `%s` compared with the base: %s\n\n", icon, c.Scenario, headline(c))
	var moved, rest []string
	row := func(g string, m compare.MetricComparison) string {
		return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |", mdCell(g), m.Metric, m.FormatBase(), m.FormatHead(), m.FormatDelta(), verdictWord(m.Verdict), mdCell(m.Why))
	}
	for _, g := range c.Groups {
		for _, m := range g.Metrics {
			if m.Verdict == compare.Unchanged || m.Verdict == compare.TooFewRuns || m.Verdict == compare.TooFewValues {
				rest = append(rest, row(g.Name, m))
			} else {
				moved = append(moved, row(g.Name, m))
			}
		}
	}
	const head = "| group | metric | base | head | change | verdict | why |\n|---|---|--:|--:|--:|---|---|\n"
	if len(moved) > 0 {
		fmt.Fprint(w, head+strings.Join(moved, "\n")+"\n")
	} else {
		fmt.Fprintln(w, "No metric moved beyond its tolerance and the runs' noise.")
	}
	if len(rest) > 0 {
		fmt.Fprintf(w, "\n<details><summary>%d unchanged metrics</summary>\n\n%s%s\n\n</details>\n", len(rest), head, strings.Join(rest, "\n"))
	}
	for _, m := range c.Mismatches {
		fmt.Fprintf(w, "\n> **warning**: not like for like (allowed by --allow-mismatch): %s\n", mdCell(m))
	}
	for _, n := range c.SortedNotes() {
		fmt.Fprintf(w, "\n> note: %s\n", n)
	}
	writeArtifacts(w, o)
	return nil
}
