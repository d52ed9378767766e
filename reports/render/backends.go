package render

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/streambench/streambench/reports"
)

// backendLines summarise a run against several backends: who held what
// in the last second of load, and the worst second's spread. Nil for a
// single target.
func backendLines(r *reports.Report) []string {
	b := r.Backends
	if b == nil {
		return nil
	}
	var load []reports.SpreadWindow
	for _, s := range b.Spread {
		if r.Scenario.DurationSeconds == 0 || s.Offset <= r.Scenario.DurationSeconds {
			load = append(load, s)
		}
	}
	if len(load) == 0 {
		return []string{fmt.Sprintf("backends (%s): %s; no second with streams open on them", b.Balancing, strings.Join(b.Names, ", "))}
	}
	last, worst := load[len(load)-1], load[0]
	for _, s := range load {
		if spreadWorse(s, worst) {
			worst = s
		}
	}
	var held []string
	for _, w := range b.Windows {
		if w.Offset == last.Offset {
			state := ""
			if !w.Up {
				state = " (out)"
			}
			held = append(held, fmt.Sprintf("%s %d%s", w.Backend, w.Active, state))
		}
	}
	return []string{
		fmt.Sprintf("backends (%s), streams at %.0fs: %s; %s", b.Balancing, last.Offset, strings.Join(held, ", "), spreadText(last)),
		fmt.Sprintf("backends worst second %.0fs: %s held %d of %d, %s held %d; %s", worst.Offset, worst.MinBackend, worst.Min, worst.Total, worst.MaxBackend, worst.Max, spreadText(worst)),
	}
}

// spreadWorse orders seconds by their ratio (infinite worst), then CV.
func spreadWorse(a, b reports.SpreadWindow) bool {
	ra, rb := ratioOf(a), ratioOf(b)
	if ra != rb {
		return ra > rb
	}
	return a.CV > b.CV
}

func ratioOf(s reports.SpreadWindow) float64 {
	if s.Ratio == nil {
		return math.Inf(1)
	}
	return *s.Ratio
}

// spreadText is a second's spread figures.
func spreadText(s reports.SpreadWindow) string {
	ratio := "∞"
	if s.Ratio != nil {
		ratio = strconv.FormatFloat(*s.Ratio, 'f', 2, 64)
	}
	return fmt.Sprintf("max/min %s, CV %.2f, Jain %.3f", ratio, s.CV, s.Jain)
}

// settleRatio is the spread the per-backend chart shades a join or leave
// until: max/min within 1.5 (balance's default bound).
const settleRatio = 1.5

// backendBands shade each backend join and leave, from its event until
// the spread is back within settleRatio (to the end of the run when it
// never is).
func backendBands(r *reports.Report) []band {
	var out []band
	for _, e := range r.Events {
		if e.Kind != "backend_join" && e.Kind != "backend_leave" {
			continue
		}
		name, _, _ := strings.Cut(e.Detail, ":")
		verb := map[string]string{"backend_join": "joins", "backend_leave": "leaves"}[e.Kind]
		to, label := r.Elapsed, fmt.Sprintf("%s %s (never even again)", name, verb)
		for _, s := range r.Backends.Spread {
			if s.Offset > e.Offset && s.Ratio != nil && *s.Ratio <= settleRatio {
				to, label = s.Offset, fmt.Sprintf("%s %s (even in %.0fs)", name, verb, s.Offset-e.Offset)
				break
			}
		}
		out = append(out, band{From: e.Offset, To: math.Max(to, e.Offset+0.2), Label: label})
	}
	return out
}

// backendChart is the per-backend timeline: streams open on each backend
// every second, joins and leaves shaded until the spread is even again.
func backendChart(r *reports.Report) template.HTML {
	b := r.Backends
	c := lineChart{Name: "backend-streams", Title: "Streams open per backend (" + b.Balancing + "); joins and leaves shaded until max/min ≤ 1.5",
		X: axis{Label: "seconds since start", Min: 0, Max: math.Max(r.Elapsed, 1)}, Y: axis{Label: "streams", Min: 0},
		Bands: backendBands(r), Empty: emptyChartText}
	byName := map[string][]point{}
	for _, w := range b.Windows {
		byName[w.Backend] = append(byName[w.Backend], point{w.Offset, float64(w.Active)})
	}
	for i, n := range b.Names {
		c.Series = append(c.Series, series{Name: n, Colour: colour(i), Points: byName[n]})
	}
	return c.SVG()
}
