package render

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/compare"
	"github.com/streambench/streambench/reports/internal/format"
)

//go:embed templates/*.tmpl templates/style.css
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"ms":      func(v float64) string { return format.MS(v, 1) },
	"hms":     func(h reports.Histogram) []string { return histogramCells(h) },
	"num":     func(v uint64) string { return format.Digits(v) },
	"int":     func(v int) string { return format.Digits(uint64(max(v, 0))) },
	"bytes":   fmtBytes,
	"secs":    func(v float64) string { return format.TrimFloat(math.Round(v*100)/100) + " s" },
	"counts":  formatCounts,
	"time":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
	"pct":     func(v float64) string { return format.TrimFloat(math.Round(v*1e4)/1e2) + "%" },
	"rate":    format.Rate,
	"css":     func() template.CSS { return template.CSS(mustAsset("templates/style.css")) },
	"verdict": func(v compare.MetricVerdict) string { return string(v) },
}).ParseFS(templateFS, "templates/*.tmpl"))

func mustAsset(name string) string {
	b, err := templateFS.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return string(b)
}

func fmtBytes(v uint64) string {
	switch {
	case v >= 1<<30:
		return format.TrimFloat(math.Round(float64(v)/(1<<30)*10)/10) + " GiB"
	case v >= 1<<20:
		return format.TrimFloat(math.Round(float64(v)/(1<<20)*10)/10) + " MiB"
	case v >= 1<<10:
		return format.TrimFloat(math.Round(float64(v)/(1<<10)*10)/10) + " KiB"
	}
	return fmt.Sprintf("%d B", v)
}

func histogramCells(h reports.Histogram) []string {
	return []string{format.MS(h.P50MS, h.Count), format.MS(h.P90MS, h.Count), format.MS(h.P99MS, h.Count), format.MS(h.P999MS, h.Count), format.MS(h.MaxMS, h.Count)}
}

// banner is the verdict at the top of a page.
type banner struct {
	Class, Title, Sub string
}

func reportBanner(r *reports.Report) banner {
	n, f := len(r.Assertions), len(r.Failed())
	switch {
	case r.Interrupted:
		return banner{"interrupted", "INTERRUPTED", fmt.Sprintf("partial report: the run was stopped early; %d of %d assertions failed", f, n)}
	case r.Passed:
		return banner{"pass", "PASSED", fmt.Sprintf("%d of %d assertions passed", n, n)}
	}
	sub := fmt.Sprintf("%d of %d assertions failed", f, n)
	if len(r.Errors) > 0 {
		sub += fmt.Sprintf("; %d harness error(s)", len(r.Errors))
	}
	return banner{"fail", "FAILED", sub}
}

type groupView struct {
	reports.Group
	Rate    float64
	Cells   []string
	Chart   template.HTML
	Problem string
}

type faultView struct {
	reports.FaultWindow
	EndsText string
}

type htmlView struct {
	R           *reports.Report
	Banner      banner
	Groups      []groupView
	TimeCharts  []template.HTML
	Faults      []faultView
	FaultChart  template.HTML
	Recovery    template.HTML
	HasOutages  bool
	Backlog     template.HTML
	Problems    []string
	SourceLines int
}

// WriteHTML writes r as one self-contained HTML page: inline CSS and SVG
// charts, no script, nothing fetched from the network. A histogram that
// does not decode is reported on the page rather than failing the write.
func WriteHTML(w io.Writer, r *reports.Report) error {
	v := htmlView{R: r, Banner: reportBanner(r)}
	for i, g := range r.Groups {
		gv := groupView{Group: g, Cells: histogramCells(g.Latency)}
		gv.Rate, _ = r.LoadRate(&g)
		ss, err := latencySeries(g, i)
		if err != nil {
			gv.Problem = err.Error()
			v.Problems = append(v.Problems, fmt.Sprintf("group %s: latency: %v", g.Name, err))
		}
		c := percentileChart("latency-"+g.Name, fmt.Sprintf("%s latency by percentile (%s, %s messages)", g.Name, g.RPC, format.Digits(uint64(max(g.Latency.Count, 0)))), ss)
		c.Empty = "no messages"
		gv.Chart = c.SVG()
		v.Groups = append(v.Groups, gv)
	}
	v.TimeCharts = timeCharts(r)
	if r.Backends != nil && len(r.Backends.Windows) > 0 {
		v.TimeCharts = append(v.TimeCharts, backendChart(r))
	}
	for _, f := range r.Faults {
		v.Faults = append(v.Faults, faultView{FaultWindow: f, EndsText: formatCounts(f.Ends)})
	}
	if len(r.Faults) > 0 {
		v.FaultChart = faultChart(r)
	}
	var rec []series
	for i, g := range r.Groups {
		if g.Outages.Opened > 0 || g.Recovery.Count > 0 {
			v.HasOutages = true
		}
		if g.Recovery.Count == 0 {
			continue
		}
		h, err := g.Recovery.Decode()
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("group %s: recovery: %v", g.Name, err))
			continue
		}
		rec = append(rec, series{Name: g.Name, Colour: colour(i), Points: percentileSeries(h)})
	}
	if len(rec) > 0 {
		v.Recovery = percentileChart("recovery", "Recovery time by percentile (stream broke → back to live)", rec).SVG()
	}
	if r.Server != nil && r.Server.SendBlocked.Count > 0 {
		h, err := r.Server.SendBlocked.Decode()
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("server send_blocked: %v", err))
		} else {
			v.Backlog = percentileChart("send-blocked", "Server Send blocked by flow control, by percentile (slow-reader backlog)",
				[]series{{Name: "send blocked", Colour: colour(1), Points: percentileSeries(h)}}).SVG()
		}
	}
	v.SourceLines = strings.Count(r.Scenario.Source, "\n") + 1
	if err := templates.ExecuteTemplate(w, "report.html.tmpl", v); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// latencySeries returns a group's latency distributions as named series:
// "raw", and "corrected" (measured from each message's intended send time)
// when the report carries one.
func latencySeries(g reports.Group, i int) ([]series, error) {
	if g.Latency.Count == 0 {
		return nil, nil
	}
	h, err := g.Latency.Decode()
	if err != nil {
		return nil, err
	}
	out := []series{{Name: "raw", Colour: colour(i), Points: percentileSeries(h)}}
	if g.LatencyCorrected.Count > 0 {
		c, err := g.LatencyCorrected.Decode()
		if err != nil {
			return nil, err
		}
		out = append(out, series{Name: "corrected", Colour: colour(i + 1), Points: percentileSeries(c)})
	}
	return out, nil
}

// faultBands returns the fault windows as shaded bands.
func faultBands(r *reports.Report) []band {
	out := make([]band, 0, len(r.Faults))
	for _, f := range r.Faults {
		out = append(out, band{From: f.Start, To: f.End, Label: f.Name})
	}
	return out
}

// timeCharts draws per-second windows: messages/s, stream ends/s, failed
// ends/s and p99 latency per second, each group a line, faults shaded.
func timeCharts(r *reports.Report) []template.HTML {
	if len(r.Windows) == 0 {
		return nil
	}
	order := map[string]int{}
	for i, g := range r.Groups {
		order[g.Name] = i
	}
	type acc struct{ msgs, ends, failed, p99, cp99 []point }
	byGroup := map[string]*acc{}
	var names []string
	for _, w := range r.Windows {
		a := byGroup[w.Group]
		if a == nil {
			a = &acc{}
			byGroup[w.Group] = a
			names = append(names, w.Group)
			if _, ok := order[w.Group]; !ok {
				order[w.Group] = len(order)
			}
		}
		d := w.Span()
		if d <= 0 {
			continue
		}
		a.msgs = append(a.msgs, point{w.Offset, float64(w.Received) / d})
		a.ends = append(a.ends, point{w.Offset, float64(w.Ended) / d})
		a.failed = append(a.failed, point{w.Offset, float64(w.Failed) / d})
		if w.Latency != nil && w.Latency.Count > 0 {
			a.p99 = append(a.p99, point{w.Offset, w.Latency.P99MS})
		}
		if c := w.LatencyCorrected; c != nil && c.Count > 0 {
			a.cp99 = append(a.cp99, point{w.Offset, c.P99MS})
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	p99Title := "Latency p99 per second"
	for _, a := range byGroup {
		if len(a.cp99) > 0 {
			p99Title += " (corrected: from each message's intended send time)"
			break
		}
	}
	mk := func(name, title, ylabel string, pick func(*acc) []point, yf func(float64) string) template.HTML {
		c := lineChart{Name: name, Title: title, X: axis{Label: "seconds since start", Min: 0, Max: math.Max(r.Elapsed, 1)},
			Y: axis{Label: ylabel, Min: 0, Format: yf}, Bands: faultBands(r)}
		for _, n := range names {
			c.Series = append(c.Series, series{Name: n, Colour: colour(order[n]), Points: pick(byGroup[n])})
			if name == "p99-per-second" && len(byGroup[n].cp99) > 0 {
				// Beside the raw p99, the corrected one: flat raw and a
				// rising corrected line is a schedule the target does not
				// keep up with (coordinated omission, shown).
				c.Series = append(c.Series, series{Name: n + " corrected", Colour: colour(order[n] + len(order)), Points: byGroup[n].cp99})
			}
		}
		return c.SVG()
	}
	return []template.HTML{
		mk("messages-per-second", "Messages received per second", "messages/s", func(a *acc) []point { return a.msgs }, nil),
		mk("ends-per-second", "Stream ends per second (any class)", "ends/s", func(a *acc) []point { return a.ends }, nil),
		mk("failed-per-second", "Failed stream ends per second (errors)", "failed/s", func(a *acc) []point { return a.failed }, nil),
		mk("p99-per-second", p99Title, "ms", func(a *acc) []point { return a.p99 }, fmtAxisMS),
	}
}

// faultChart is a stacked bar per fault window of its stream ends by class.
func faultChart(r *reports.Report) template.HTML {
	c := barChart{Name: "fault-ends", Title: "Stream ends each fault caused, by status",
		Order: []string{"complete", "canceled", "premature_eof", "violation", "deadline"}}
	for _, f := range r.Faults {
		keys := make([]string, 0, len(f.Ends))
		for k := range f.Ends {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		row := barRow{Label: f.Name}
		for _, k := range keys {
			row.Segments = append(row.Segments, barSegment{Name: k, Value: float64(f.Ends[k])})
		}
		c.Rows = append(c.Rows, row)
	}
	// Order segments as the legend does.
	idx := map[string]int{}
	for i, n := range c.Order {
		idx[n] = i - len(c.Order)
	}
	for _, row := range c.Rows {
		sort.SliceStable(row.Segments, func(i, j int) bool { return idx[row.Segments[i].Name] < idx[row.Segments[j].Name] })
	}
	return c.SVG()
}
