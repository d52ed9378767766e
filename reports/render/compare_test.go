package render

import (
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/compare"
	"github.com/streambench/streambench/reports/internal/reporttest"
)

// TestSetComparisonWriters: a set comparison renders as one: the text
// and markdown say TOO FEW RUNS for 2 + 2 runs, the page explains the U
// test, draws every run's curve and styles the banner.
func TestSetComparisonWriters(t *testing.T) {
	base := []*reports.Report{reporttest.Fixture(t, 1), reporttest.Fixture(t, 1)}
	head := []*reports.Report{reporttest.Fixture(t, 1), reporttest.Fixture(t, 1.1)}
	c, err := compare.Sides(reporttest.SideOf("base", base), reporttest.SideOf("head", head), compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Verdict() != compare.TooFewRuns || c.Regressed() {
		t.Fatalf("verdict %s, want %s", c.Verdict(), compare.TooFewRuns)
	}
	var text, md, page strings.Builder
	if err := WriteComparisonText(&text, c); err != nil {
		t.Fatal(err)
	}
	if err := WriteComparisonMarkdown(&md, c, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteComparisonHTML(&page, c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, got string
		want      []string
	}{
		{"text", text.String(), []string{"base base/set.json (2 runs, seed 7)", "too few runs: n=2+2", "TOO FEW RUNS: none of", "need >=4 runs a side (run --count 5)"}},
		{"markdown", md.String(), []string{"### ⚠️ `fixture`", "TOO FEW RUNS"}},
		{"html", page.String(), []string{`class="banner too_few_runs"`, "Mann–Whitney U test", "base run 2", "head run 2", "too few runs"}},
	} {
		for _, w := range tc.want {
			if !strings.Contains(tc.got, w) {
				t.Errorf("%s lacks %q:\n%s", tc.name, w, tc.got)
			}
		}
	}
}

// TestComparisonTextLines: the text comparison warns of runs compared
// though not like for like, and its headline counts the quantiles that had
// too few values to judge.
func TestComparisonTextLines(t *testing.T) {
	withCount := func(n int64, reps []*reports.Report) []*reports.Report {
		for _, r := range reps {
			r.Groups[0].Latency.Count = n
		}
		return reps
	}
	reseeded := reporttest.RunsOf(10, 10, 10, 10)
	for _, r := range reseeded {
		r.Seed = 2
	}
	for _, tc := range []struct {
		name       string
		base, head []*reports.Report
		want       []string
	}{
		{"not like for like", reporttest.RunsOf(10, 10, 10, 10), reseeded,
			[]string{"WARNING: not like for like (--allow-mismatch): base vs head: seed: 1 vs 2"}},
		{"too few values", withCount(800, reporttest.RunsOf(10, 10.4, 9.8, 10.1, 9.9)), withCount(800, reporttest.RunsOf(13, 12.8, 13.5, 12.9, 13.1)),
			[]string{"REGRESSED: 4 of 8 metrics regressed", "2 quantiles with too few values per run to judge (need >=10 beyond the quantile)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := compare.Sides(reporttest.SideOf("base", tc.base), reporttest.SideOf("head", tc.head), compare.Options{AllowMismatch: true})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := WriteComparisonText(&b, c); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
