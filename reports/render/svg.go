package render

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/streambench/streambench/reports/internal/format"
)

// Charts are inline SVG generated here, so a report needs no script, no
// network and prints as it shows. Every chart is an <svg class="chart">
// with a data-chart name; every plotted series is a <path class="series">
// (or <rect class="bar">) carrying data-points, which the browser test
// counts.

// palette is colour-blind friendly (Okabe–Ito, reordered for contrast).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F", "#332288", "#882255", "#117733"}

func colour(i int) string { return palette[i%len(palette)] }

// point is one data point.
type point struct{ X, Y float64 }

// series is one named line.
type series struct {
	Name   string
	Colour string
	Points []point
	// Dashed draws the line dashed (a baseline in a comparison).
	Dashed bool
}

// band is a shaded x range with a label (a fault window).
type band struct {
	From, To float64
	Label    string
}

// axis describes one axis.
type axis struct {
	Label string
	// Log is a log10 axis (values must be > 0).
	Log bool
	// Min and Max bound the axis; Max <= Min means "from the data".
	Min, Max float64
	// Ticks, when set, replace the computed ticks.
	Ticks []tick
	// Format formats a computed tick's label.
	Format func(float64) string
}

type tick struct {
	At    float64
	Label string
}

// lineChart is a line chart with any number of series.
type lineChart struct {
	Name   string // data-chart attribute
	Title  string // accessible title
	X, Y   axis
	Series []series
	Bands  []band
	// Empty is the text shown when no series has points.
	Empty string
}

const (
	chartW, chartH                    = 720.0, 300.0
	padL, padR, padT, padB            = 64.0, 34.0, 26.0, 46.0
	plotW, plotH                      = chartW - padL - padR, chartH - padT - padB
	percentileMaxX                    = 1e5 // p99.999
	percentileStep                    = 0.05
	maxBandLabels                     = 12
	svgOpen                           = `<svg class="chart" viewBox="0 0 720 300" role="img" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg"`
	percentileAxisLabel               = "percentile"
	msAxisLabel                       = "ms"
	emptyChartText                    = "no data"
	legendItemStyle                   = `<li><span class="swatch%s" style="border-color:%s"></span>%s</li>`
	legendListOpen, legendListClose   = `<ul class="legend">`, `</ul>`
	figureOpenFmt, figureClose        = `<figure class="chart-box"><figcaption>%s</figcaption>`, `</figure>`
	bandFill, bandStroke, bandOpacity = "#F4A261", "#E76F51", "0.18"
)

// percentileTicks label the HDR percentile axis, x = 1/(1-q).
var percentileTicks = []tick{{1, "0%"}, {10, "90%"}, {100, "99%"}, {1e3, "99.9%"}, {1e4, "99.99%"}, {1e5, "99.999%"}}

// percentileSeries turns an HDR histogram (µs values) into points for a
// percentile chart: x = 1/(1-q) on a log axis from p0 to p99.999, y in ms.
// The curve stops where the samples run out (x > count) and ends with the
// maximum.
func percentileSeries(h *hdrhistogram.Histogram) []point {
	n := h.TotalCount()
	if n == 0 {
		return nil
	}
	limit := math.Min(percentileMaxX, float64(n))
	var pts []point
	for i := 0; ; i++ {
		x := math.Pow(10, float64(i)*percentileStep)
		if x > limit*(1+1e-9) {
			break
		}
		q := (1 - 1/x) * 100
		pts = append(pts, point{x, format.MSFromUS(float64(h.ValueAtPercentile(q)))})
	}
	last := pts[len(pts)-1]
	if last.X < limit {
		pts = append(pts, point{limit, format.MSFromUS(float64(h.Max()))})
	} else {
		pts[len(pts)-1].Y = math.Max(last.Y, format.MSFromUS(float64(h.Max())))
	}
	return pts
}

// percentileChart is the HDR-style chart of named distributions.
func percentileChart(name, title string, ss []series) lineChart {
	return lineChart{
		Name: name, Title: title,
		X:      axis{Label: percentileAxisLabel, Log: true, Min: 1, Max: percentileMaxX, Ticks: percentileTicks},
		Y:      axis{Label: msAxisLabel, Min: 0, Format: fmtAxisMS},
		Series: ss,
	}
}

func fmtAxisMS(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return format.TrimFloat(v/1000) + "s"
	}
	return format.TrimFloat(v)
}

func fmtAxisNum(v float64) string {
	switch {
	case math.Abs(v) >= 1e6:
		return format.TrimFloat(v/1e6) + "M"
	case math.Abs(v) >= 1e3:
		return format.TrimFloat(v/1e3) + "k"
	}
	return format.TrimFloat(v)
}

// niceTicks returns about n round ticks covering [lo, hi].
func niceTicks(lo, hi float64, n int) (float64, float64, []float64) {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	start := math.Floor(lo/step) * step
	end := math.Ceil(hi/step) * step
	var out []float64
	for v := start; v <= end+step/2; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return start, end, out
}

// SVG renders the chart: legend, then the inline SVG.
func (c lineChart) SVG() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, figureOpenFmt, html.EscapeString(c.Title))
	if len(c.Series) > 1 || (len(c.Series) == 1 && c.Series[0].Dashed) {
		b.WriteString(legendListOpen)
		for _, s := range c.Series {
			dash := ""
			if s.Dashed {
				dash = " dashed"
			}
			fmt.Fprintf(&b, legendItemStyle, dash, s.Colour, html.EscapeString(s.Name))
		}
		b.WriteString(legendListClose)
	}
	// Ranges.
	xmin, xmax := c.X.Min, c.X.Max
	ymin, ymax := c.Y.Min, c.Y.Max
	npts := 0
	dataXMin, dataXMax, dataYMax := math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, s := range c.Series {
		for _, p := range s.Points {
			npts++
			dataXMin = math.Min(dataXMin, p.X)
			dataXMax = math.Max(dataXMax, p.X)
			dataYMax = math.Max(dataYMax, p.Y)
		}
	}
	for _, bd := range c.Bands {
		dataXMax = math.Max(dataXMax, bd.To)
	}
	if xmax <= xmin {
		xmin, xmax = dataXMin, dataXMax
		if npts == 0 {
			xmin, xmax = 0, 1
		}
	}
	if ymax <= ymin {
		ymax = dataYMax
		if npts == 0 || ymax <= ymin {
			ymax = ymin + 1
		}
	}
	var yt []tick
	if c.Y.Ticks != nil {
		yt = c.Y.Ticks
	} else {
		var vals []float64
		ymin, ymax, vals = niceTicks(ymin, ymax, 5)
		f := c.Y.Format
		if f == nil {
			f = fmtAxisNum
		}
		for _, v := range vals {
			yt = append(yt, tick{v, f(v)})
		}
	}
	var xt []tick
	if c.X.Ticks != nil {
		xt = c.X.Ticks
	} else {
		var vals []float64
		xmin, xmax, vals = niceTicks(xmin, xmax, 8)
		f := c.X.Format
		if f == nil {
			f = fmtAxisNum
		}
		for _, v := range vals {
			xt = append(xt, tick{v, f(v)})
		}
	}
	sx := func(x float64) float64 {
		if c.X.Log {
			x = math.Max(x, xmin)
			return padL + plotW*(math.Log10(x)-math.Log10(xmin))/(math.Log10(xmax)-math.Log10(xmin))
		}
		return padL + plotW*(x-xmin)/(xmax-xmin)
	}
	sy := func(y float64) float64 { return padT + plotH - plotH*(y-ymin)/(ymax-ymin) }

	fmt.Fprintf(&b, `%s data-chart="%s" aria-label="%s"><title>%s</title>`, svgOpen, html.EscapeString(c.Name), html.EscapeString(c.Title), html.EscapeString(c.Title))
	// Fault bands under everything else.
	for i, bd := range c.Bands {
		x0, x1 := sx(bd.From), sx(bd.To)
		if x1-x0 < 2 {
			x0, x1 = x0-1, x0+1
		}
		fmt.Fprintf(&b, `<g class="band"><title>%s</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="%s" stroke="%s" stroke-opacity="0.5"/>`,
			html.EscapeString(bd.Label), x0, padT, x1-x0, plotH, bandFill, bandOpacity, bandStroke)
		if i < maxBandLabels {
			fmt.Fprintf(&b, `<text class="band-label" x="%.1f" y="%.1f">%s</text>`, x0+2, padT-8+float64(i%2)*20, html.EscapeString(shorten(bd.Label, 22)))
		}
		b.WriteString(`</g>`)
	}
	// Grid and axes.
	b.WriteString(`<g class="grid">`)
	for _, t := range yt {
		y := sy(t.At)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, padL, y, padL+plotW, y)
	}
	for _, t := range xt {
		x := sx(t.At)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x, padT, x, padT+plotH)
	}
	b.WriteString(`</g><g class="axis">`)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, padL, padT+plotH, padL+plotW, padT+plotH)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, padL, padT, padL, padT+plotH)
	for _, t := range yt {
		fmt.Fprintf(&b, `<text class="ytick" x="%.1f" y="%.1f">%s</text>`, padL-6, sy(t.At)+4, html.EscapeString(t.Label))
	}
	for _, t := range xt {
		fmt.Fprintf(&b, `<text class="xtick" x="%.1f" y="%.1f">%s</text>`, sx(t.At), padT+plotH+16, html.EscapeString(t.Label))
	}
	fmt.Fprintf(&b, `<text class="axis-label" x="%.1f" y="%.1f">%s</text>`, padL+plotW/2, chartH-6, html.EscapeString(c.X.Label))
	fmt.Fprintf(&b, `<text class="axis-label" transform="translate(14 %.1f) rotate(-90)">%s</text>`, padT+plotH/2, html.EscapeString(c.Y.Label))
	b.WriteString(`</g>`)
	// Series.
	for _, s := range c.Series {
		if len(s.Points) == 0 {
			continue
		}
		var d strings.Builder
		for i, p := range s.Points {
			if i == 0 {
				d.WriteString("M")
			} else {
				d.WriteString("L")
			}
			fmt.Fprintf(&d, "%.1f %.1f", sx(p.X), sy(math.Min(math.Max(p.Y, ymin), ymax)))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<path class="series" data-series="%s" data-points="%d" d="%s" stroke="%s"%s><title>%s</title></path>`,
			html.EscapeString(s.Name), len(s.Points), d.String(), s.Colour, dash, html.EscapeString(s.Name))
		if len(s.Points) == 1 {
			p := s.Points[0]
			fmt.Fprintf(&b, `<circle class="dot" cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, sx(p.X), sy(p.Y), s.Colour)
		}
	}
	if npts == 0 {
		empty := c.Empty
		if empty == "" {
			empty = emptyChartText
		}
		fmt.Fprintf(&b, `<text class="empty" x="%.1f" y="%.1f">%s</text>`, padL+plotW/2, padT+plotH/2, html.EscapeString(empty))
	}
	b.WriteString(`</svg>`)
	b.WriteString(figureClose)
	return template.HTML(b.String())
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// barRow is one row of a stacked horizontal bar chart.
type barRow struct {
	Label    string
	Segments []barSegment
}

type barSegment struct {
	Name  string
	Value float64
}

// barChart is a stacked horizontal bar chart: one row per item, one
// colour per segment name.
type barChart struct {
	Name, Title string
	Rows        []barRow
	// Order fixes segment names' order (and so colours); names not in it
	// follow in first-seen order.
	Order []string
}

// SVG renders the bar chart with its legend.
func (c barChart) SVG() template.HTML {
	names := append([]string(nil), c.Order...)
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	total := 0.0
	for _, r := range c.Rows {
		rt := 0.0
		for _, s := range r.Segments {
			if !seen[s.Name] {
				seen[s.Name] = true
				names = append(names, s.Name)
			}
			rt += s.Value
		}
		total = math.Max(total, rt)
	}
	col := map[string]string{}
	for i, n := range names {
		col[n] = endColour(n, i)
	}
	var b strings.Builder
	fmt.Fprintf(&b, figureOpenFmt, html.EscapeString(c.Title))
	b.WriteString(legendListOpen)
	for _, n := range names {
		fmt.Fprintf(&b, legendItemStyle, " solid", col[n], html.EscapeString(n))
	}
	b.WriteString(legendListClose)
	const rowH, labelW, barPad = 26.0, 200.0, 6.0
	h := padT + rowH*float64(max(len(c.Rows), 1)) + padB
	w := chartW
	bw := w - labelW - padR
	_, top, ticks := niceTicks(0, math.Max(total, 1), 6)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" xmlns="http://www.w3.org/2000/svg" data-chart="%s" aria-label="%s"><title>%s</title>`,
		w, h, html.EscapeString(c.Name), html.EscapeString(c.Title), html.EscapeString(c.Title))
	sx := func(v float64) float64 { return labelW + bw*v/top }
	b.WriteString(`<g class="grid">`)
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, sx(t), padT, sx(t), h-padB)
	}
	b.WriteString(`</g><g class="axis">`)
	for _, t := range ticks {
		fmt.Fprintf(&b, `<text class="xtick" x="%.1f" y="%.1f">%s</text>`, sx(t), h-padB+16, fmtAxisNum(t))
	}
	fmt.Fprintf(&b, `<text class="axis-label" x="%.1f" y="%.1f">stream ends</text>`, labelW+bw/2, h-8)
	b.WriteString(`</g>`)
	for i, r := range c.Rows {
		y := padT + rowH*float64(i)
		fmt.Fprintf(&b, `<text class="ytick" x="%.1f" y="%.1f">%s</text>`, labelW-8, y+rowH/2+4, html.EscapeString(shorten(r.Label, 30)))
		x := 0.0
		for _, s := range r.Segments {
			if s.Value <= 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect class="bar" data-points="1" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s %s</title></rect>`,
				sx(x), y+barPad/2, math.Max(sx(x+s.Value)-sx(x), 1), rowH-barPad, col[s.Name],
				html.EscapeString(r.Label), html.EscapeString(s.Name), format.TrimFloat(s.Value))
			x += s.Value
		}
		if x == 0 {
			fmt.Fprintf(&b, `<text class="note" x="%.1f" y="%.1f">no stream ended</text>`, labelW+4, y+rowH/2+4)
		}
	}
	b.WriteString(`</svg>`)
	b.WriteString(figureClose)
	return template.HTML(b.String())
}

// endColour gives the usual end classes stable, meaningful colours.
func endColour(class string, i int) string {
	switch {
	case class == "complete":
		return "#009E73"
	case class == "canceled":
		return "#9E9E9E"
	case class == "premature_eof":
		return "#D55E00"
	case class == "violation":
		return "#CC79A7"
	case class == "deadline":
		return "#E69F00"
	case class == "status:Unavailable":
		return "#0072B2"
	case class == "status:ResourceExhausted":
		return "#882255"
	}
	return colour(i + 5)
}
