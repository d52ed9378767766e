package reports

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the comparison as a table: per group and metric, base,
// head, change, verdict and why.
func (c *Comparison) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "\n%s: base %s (seed %d, %.1fs) vs head %s (seed %d, %.1fs)\n\n",
		c.Scenario, orDash(c.Base.File), c.Base.Seed, c.Base.Elapsed, orDash(c.Head.File), c.Head.Seed, c.Head.Elapsed)
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
	for _, n := range c.sortedNotes() {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "\n%s\n", c.headline())
	return nil
}

func verdictWord(v MetricVerdict) string {
	switch v {
	case Regressed:
		return "REGRESSED"
	case Improved:
		return "improved"
	}
	return "unchanged"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *Comparison) headline() string {
	total := 0
	for _, g := range c.Groups {
		total += len(g.Metrics)
	}
	switch c.Verdict() {
	case Regressed:
		return fmt.Sprintf("REGRESSED: %d of %d metrics regressed beyond tolerance (%d improved)", c.Count(Regressed), total, c.Count(Improved))
	case Improved:
		return fmt.Sprintf("IMPROVED: %d of %d metrics improved, none regressed", c.Count(Improved), total)
	}
	return fmt.Sprintf("UNCHANGED: %d metrics within tolerance or noise", total)
}

type diffGroupView struct {
	GroupComparison
	Chart template.HTML
}

type diffView struct {
	C        *Comparison
	Banner   banner
	Groups   []diffGroupView
	Tols     [][2]string
	Notes    []string
	Problems []string
}

// WriteHTML writes the comparison as one self-contained page: a verdict
// banner, per group a before/after table and the two runs' latency
// percentile curves overlaid (base dashed).
func (c *Comparison) WriteHTML(w io.Writer) error {
	v := diffView{C: c, Notes: c.sortedNotes()}
	title := strings.SplitN(c.headline(), ":", 2)
	v.Banner = banner{Class: string(c.Verdict()), Title: title[0], Sub: strings.TrimSpace(title[1])}
	for _, k := range ToleranceKeys {
		v.Tols = append(v.Tols, [2]string{k, c.Tolerances.String(k)})
	}
	for i, g := range c.Groups {
		dg := diffGroupView{GroupComparison: g}
		if g.Only == "" && c.base != nil && c.head != nil {
			var ss []series
			for _, side := range []struct {
				name   string
				r      *Report
				dashed bool
				col    string
			}{{"base", c.base, true, "#7F7F7F"}, {"head", c.head, false, colour(i)}} {
				grp := side.r.Group(g.Name)
				if grp == nil || grp.Latency.Count == 0 {
					continue
				}
				h, err := grp.Latency.Decode()
				if err != nil {
					v.Problems = append(v.Problems, fmt.Sprintf("%s %s latency: %v", side.name, g.Name, err))
					continue
				}
				ss = append(ss, series{Name: side.name + " (raw)", Colour: side.col, Dashed: side.dashed, Points: percentileSeries(h)})
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

// WriteMarkdown writes the comparison for a pull-request comment: the
// verdict, the metrics that moved, and the rest folded away.
func (c *Comparison) WriteMarkdown(w io.Writer, o MarkdownOptions) error {
	icon := map[MetricVerdict]string{Regressed: "❌", Improved: "✅", Unchanged: "✅"}[c.Verdict()]
	fmt.Fprintf(w, "### %s `%s` compared with the base: %s\n\n", icon, c.Scenario, c.headline())
	var moved, rest []string
	row := func(g string, m MetricComparison) string {
		return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |", mdCell(g), m.Metric, m.FormatBase(), m.FormatHead(), m.FormatDelta(), verdictWord(m.Verdict), mdCell(m.Why))
	}
	for _, g := range c.Groups {
		for _, m := range g.Metrics {
			if m.Verdict == Unchanged {
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
	for _, n := range c.sortedNotes() {
		fmt.Fprintf(w, "\n> note: %s\n", n)
	}
	writeArtifacts(w, o)
	return nil
}
