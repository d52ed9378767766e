package render

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/compare"
	"github.com/streambench/streambench/reports/internal/format"
	"github.com/streambench/streambench/reports/internal/reporttest"
)

func render(t *testing.T, write func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	base, head := reporttest.Fixture(t, 1), reporttest.Fixture(t, regressedScale)
	head.Passed = true
	cmp, err := compare.Reports(base, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	cmp.Base.File, cmp.Head.File = "base/report.json", "head/report.json"
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"report.html.golden", func(b *bytes.Buffer) error { return WriteHTML(b, base) }},
		{"junit.xml.golden", func(b *bytes.Buffer) error { return WriteJUnit(b, base) }},
		{"summary.md.golden", func(b *bytes.Buffer) error {
			return WriteMarkdown(b, base, MarkdownOptions{ArtifactsURL: "https://example.com/run/1", Files: []string{"report.json", "report.html", "junit.xml"}})
		}},
		{"compare.txt.golden", func(b *bytes.Buffer) error { return WriteComparisonText(b, cmp) }},
		{"compare.md.golden", func(b *bytes.Buffer) error { return WriteComparisonMarkdown(b, cmp, MarkdownOptions{}) }},
		{"diff.html.golden", func(b *bytes.Buffer) error { return WriteComparisonHTML(b, cmp) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			reporttest.Golden(t, tc.file, render(t, tc.write))
		})
	}
}

// TestHTMLSelfContained checks that pages reference nothing outside
// themselves and escape what the report says.
func TestHTMLSelfContained(t *testing.T) {
	r := reporttest.Fixture(t, 1)
	cmp, err := compare.Reports(reporttest.Fixture(t, 1), reporttest.Fixture(t, regressedScale), nil)
	if err != nil {
		t.Fatal(err)
	}
	external := regexp.MustCompile(`(?i)<script|<link|<img|<iframe|\bsrc=|@import|url\(|href="http`)
	for _, tc := range []struct {
		name       string
		page       []byte
		wantCharts int
		want       []string
	}{
		{"report", render(t, func(b *bytes.Buffer) error { return WriteHTML(b, r) }), 2 + 4 + 1 + 1 + 1,
			[]string{`id="verdict" class="banner fail"`, "FAILED", "expected", "31.2ms", "faults[0] sever", "LEAKED", "example.com/x.(*feed).loop", "deepest send queue", "name: fixture", "8</b> cores"}},
		{"diff", render(t, func(b *bytes.Buffer) error { return WriteComparisonHTML(b, cmp) }), 2,
			[]string{`id="verdict" class="banner regressed"`, "REGRESSED", "base (raw)", "head (raw)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := string(tc.page)
			if m := external.FindString(s); m != "" {
				t.Errorf("page references something outside itself: %q", m)
			}
			if strings.Contains(s, "<script>x</script>") {
				t.Error("report text is not escaped")
			}
			if n := strings.Count(s, `<svg class="chart"`); n != tc.wantCharts {
				t.Errorf("%d charts, want %d", n, tc.wantCharts)
			}
			for i, chunk := range strings.Split(s, `<svg class="chart"`)[1:] {
				chart, _, _ := strings.Cut(chunk, "</svg>")
				if !regexp.MustCompile(`data-points="[1-9]`).MatchString(chart) {
					t.Errorf("chart %d has no data points: %.120s", i, chart)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

func TestHTMLSparseReports(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*reports.Report)
		want []string
	}{
		{"no optional sections", func(r *reports.Report) { r.Faults, r.Events, r.Server, r.Leaks, r.Windows = nil, nil, nil, nil, nil },
			[]string{"No faults were injected", "Not measured", "Not checked", "No per-second windows"}},
		{"passed", func(r *reports.Report) { r.Passed = true; r.Assertions = r.Assertions[:1] }, []string{"PASSED", "1 of 1 assertions passed"}},
		{"interrupted", func(r *reports.Report) { r.Interrupted = true }, []string{"INTERRUPTED", "partial report"}},
		{"broken histogram", func(r *reports.Report) { r.Groups[0].Latency.HDR = "not base64!" }, []string{"Unreadable data", "group subs: latency"}},
		{"no groups", func(r *reports.Report) { r.Groups = nil; r.Windows = nil }, []string{"Client groups"}},
		{"no messages", func(r *reports.Report) { r.Groups[1].Latency = reports.Histogram{} }, []string{"no messages"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reporttest.Fixture(t, 1)
			tc.edit(r)
			s := string(render(t, func(b *bytes.Buffer) error { return WriteHTML(b, r) }))
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

func TestJUnitParses(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		edit                     func(*reports.Report)
		tests, failures, errors_ int
	}{
		{"one failure", func(*reports.Report) {}, 3, 1, 0},
		{"harness errors and interrupted", func(r *reports.Report) { r.Errors = []string{"teardown missed its deadline"}; r.Interrupted = true }, 5, 1, 2},
		{"no assertions", func(r *reports.Report) { r.Assertions = nil }, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reporttest.Fixture(t, 1)
			tc.edit(r)
			var doc junitSuites
			if err := xml.Unmarshal(render(t, func(b *bytes.Buffer) error { return WriteJUnit(b, r) }), &doc); err != nil {
				t.Fatal(err)
			}
			s := doc.Suites[0]
			if s.Tests != tc.tests || s.Failures != tc.failures || s.Errors != tc.errors_ || len(s.Cases) != tc.tests {
				t.Fatalf("tests=%d failures=%d errors=%d cases=%d, want %d %d %d", s.Tests, s.Failures, s.Errors, len(s.Cases), tc.tests, tc.failures, tc.errors_)
			}
			for _, c := range s.Cases {
				if c.Failure != nil && (!strings.Contains(c.Failure.Text, "expected:") || !strings.Contains(c.Failure.Text, "actual:")) {
					t.Errorf("failure text lacks expected vs actual: %q", c.Failure.Text)
				}
			}
		})
	}
}

func TestPercentileSeries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n          int
		wantLastX  float64
		wantPoints int
	}{
		{"many samples reach p99.999", 200000, 1e5, 101},
		{"1000 samples stop at p99.9", 1000, 1e3, 61},
		{"one sample", 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := reporttest.Hist(t, tc.n, 1000, 1).Decode()
			if err != nil {
				t.Fatal(err)
			}
			pts := percentileSeries(h)
			if len(pts) != tc.wantPoints || pts[len(pts)-1].X != tc.wantLastX {
				t.Fatalf("%d points, last x %g; want %d, %g", len(pts), pts[len(pts)-1].X, tc.wantPoints, tc.wantLastX)
			}
			for i := 1; i < len(pts); i++ {
				if pts[i].Y < pts[i-1].Y || pts[i].X <= pts[i-1].X {
					t.Fatalf("not monotonic at %d: %v then %v", i, pts[i-1], pts[i])
				}
			}
			if got, want := pts[len(pts)-1].Y, format.MSFromUS(float64(h.Max())); got != want {
				t.Errorf("curve ends at %g, want the max %g", got, want)
			}
		})
	}
}

// TestSummaryOpening: the text summary says when a group's streams were
// established, the open-call wait, and the spread between connections (or
// that every connection had the same p99).
func TestSummaryOpening(t *testing.T) {
	g := reports.Group{Name: "subs", Clients: 4, AllOpenSeconds: 1.25,
		Open:     &reports.Histogram{Count: 4, P50MS: 2, P99MS: 30, MaxMS: 31},
		OpenWait: &reports.OpenWait{PeakWaiting: 3, Calls: 4, P99MS: 12, MaxMS: 13},
		ConnStats: []reports.ConnStats{
			{Index: 0, Messages: 10, P99MS: 5},
			{Index: 1, Messages: 10, P99MS: 90},
		}}
	var b strings.Builder
	writeOpening(&b, g)
	for _, want := range []string{
		"all 4 clients had a stream established 1.25s after the start",
		"open: 4 established, p50 2.000ms, p99 30.0ms, max 31.0ms",
		"up to 3 waiting at once",
		"latency p99 from 5.000ms (conn 0) to 90.0ms (conn 1)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	g.ConnStats[1].P99MS = 5
	b.Reset()
	writeOpening(&b, g)
	if !strings.Contains(b.String(), "latency p99 5.000ms on every one") {
		t.Errorf("equal p99s not said once:\n%s", b.String())
	}
}

// TestHTMLTargetLeaks: report.html shows a target's figures, marks the one
// that grew past its bound, and says which evidence was not available.
func TestHTMLTargetLeaks(t *testing.T) {
	r := reporttest.Fixture(t, 1)
	r.Leaks = &reports.Leaks{Target: &reports.TargetLeaks{
		Sources: []reports.EvidenceSource{{Name: "process", Available: true, Detail: "/proc/42"}, {Name: "pprof", Detail: "not available: no target.pprof given"}},
		Figures: []reports.TargetFigure{{Source: "process", Name: "fds", Before: 10, After: 30, Bound: 4, Exceeded: true}, {Source: "process", Name: "rss_bytes", Before: 1, After: 2, Bound: -1}},
		Leaked:  true,
	}}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<tr class="fail"><td>target process fds</td><td class="n">10</td><td class="n">30</td><td>grew past the allowed growth of 4</td></tr>`,
		`reported, not judged`,
		`not available: no target.pprof given`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report.html lacks %s", want)
		}
	}
}

// TestSummarySaysLateWindows: the text summary says when windows were cut
// off the second or marked generator_saturated, and says nothing of the
// sampler otherwise.
func TestSummarySaysLateWindows(t *testing.T) {
	r := reporttest.Fixture(t, 1)
	var quiet bytes.Buffer
	WriteSummary(&quiet, r)
	r.Sampler = &reports.Sampler{Cuts: 7, OffWindows: 2, LateMaxMS: 480, SaturatedWindows: 3}
	var late bytes.Buffer
	WriteSummary(&late, r)
	if strings.Contains(quiet.String(), "windows:") || !strings.Contains(late.String(), "windows: 2 of 7 cut more than 10% off the second (late up to 480 ms); 3 group windows") {
		t.Errorf("quiet:\n%s\nlate:\n%s", quiet.String(), late.String())
	}
}

// TestSummaryRateOverTheLoad: msgs/s in the summary is over the load (the
// drain's messages and seconds left out), and the drain has its own line.
func TestSummaryRateOverTheLoad(t *testing.T) {
	for _, tc := range []struct {
		name      string
		drain     float64
		late      uint64
		want, not []string
	}{
		{"no drain", 0, 0, []string{"  2000  "}, []string{"drain"}},
		// Over elapsed (the old formula) this was 1,500/s: 30,000 / 20.
		{"a drain", 5, 0, []string{"(load 15.0s, drain 5.0s)", "  2000  "}, []string{"1500"}},
		{"a drain that received", 5, 3000, []string{"  1800  ", "watch drain: 3000 received, 0 sent in the 5.0s after the stop"}, []string{"  2000  "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			elapsed := 15.0 + tc.drain
			r := &reports.Report{Elapsed: elapsed, DrainSeconds: tc.drain, Groups: []reports.Group{{
				Name: "watch", RPC: "generic", Messages: reports.MessageCounts{Received: 30000, DrainReceived: tc.late},
			}}}
			var b strings.Builder
			WriteSummary(&b, r)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("summary lacks %q:\n%s", w, b.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("summary has %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// TestSummaryWriteToWatch: a watcher group with a covers oracle has its
// write-to-watch latency and its account in the summary (a watch's own
// latency, from its one create request, means nothing); a group without
// one has no such line.
func TestSummaryWriteToWatch(t *testing.T) {
	r := &reports.Report{Elapsed: 20, Groups: []reports.Group{
		{Name: "writers", RPC: "generic"},
		{Name: "watchers", RPC: "generic", Covers: &reports.Covers{Group: "writers", Writes: 3277, Missing: 60, Duplicates: 3, Reorders: 1,
			WriteToWatch: reports.Histogram{Count: 32263, P50MS: 12, P99MS: 41.4, MaxMS: 90}}},
	}}
	var b strings.Builder
	WriteSummary(&b, r)
	want := "watchers write→watch latency (ack to group writers → the watcher's receipt): p50 12.0ms, p99 41.4ms, max 90.0ms over 32263 events; 3277 writes, 60 missing, 3 duplicates, 1 reorders"
	if !strings.Contains(b.String(), want) || strings.Contains(b.String(), "writers write→watch") {
		t.Errorf("summary:\n%s\nwant the line %q for watchers only", b.String(), want)
	}
}
