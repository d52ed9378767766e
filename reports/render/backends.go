package render

import (
	"fmt"
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
		if r.Scenario.DurationSeconds == 0 || s.Offset <= r.Scenario.DurationSeconds+0.5 {
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
