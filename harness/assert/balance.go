package assert

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/streambench/streambench/reports"
)

// balance judges how evenly the open streams spread over several
// backends, every second (report.backends.spread):
//
//   - balance: {max_ratio: 1.5}               steady state: every second
//   - balance: {max_ratio: 1.5, within: 30s}  and back within bound by 30s
//     after every backend_join and backend_leave
//
// The ratio is the most streams one backend in service held over the
// fewest (a backend with none: infinite). The seconds before `after`
// (clients opening) and after the run's duration (clients draining) are
// not judged. With within, the seconds up to within after each join or
// leave are not judged either, but the spread must come within bound in
// them.
type balance struct {
	text     string
	maxRatio float64
	within   float64 // seconds; 0: no allowance
	after    float64 // seconds
}

var balanceCheck = Check{
	Name:    "balance",
	Doc:     "the open streams spread evenly over the backends in service: max/min within max_ratio every second, and again within `within` after each join or leave",
	Example: "balance: {max_ratio: 1.5, within: 30s}",
	Settings: []Setting{
		{Name: "max_ratio", Default: "1.5", Doc: "the bound on the most streams one backend in service held over the fewest (> 1)"},
		{Name: "within", Default: "0s", Doc: "how long after each backend_join or backend_leave the spread may be out of bound; it must be back within bound by then"},
		{Name: "after", Default: "2s", Doc: "seconds before this offset are not judged (clients opening their streams)"},
	},
	compile: compileBalance,
}

func compileBalance(in input) (Assertion, error) {
	b := &balance{text: in.text, maxRatio: 1.5, after: 2}
	for k, v := range in.args {
		var err error
		switch k {
		case "max_ratio":
			b.maxRatio, err = parseValue(v, unitCount)
			if err == nil && !(b.maxRatio > 1) {
				err = fmt.Errorf("must be > 1, got %s", v)
			}
		case "within", "after":
			var ms float64
			ms, err = parseValue(v, unitDuration)
			if err == nil && ms < 0 {
				err = fmt.Errorf("must not be negative, got %s", v)
			}
			if k == "within" {
				b.within = ms / 1000
			} else {
				b.after = ms / 1000
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return b, nil
}

// changeSlack is how long before its event a join or leave may already
// show in the per-backend figures (the event is logged when it is done).
const changeSlack = 0.5

// change is a backend joining or leaving, from the report's events.
type change struct {
	at      float64
	kind    string // backend_join, backend_leave
	backend string
}

func changesOf(r *reports.Report) []change {
	var out []change
	for _, e := range r.Events {
		if e.Kind == "backend_join" || e.Kind == "backend_leave" {
			name, _, _ := strings.Cut(e.Detail, ":")
			out = append(out, change{at: e.Offset, kind: e.Kind, backend: name})
		}
	}
	return out
}

// judged are the spread seconds of the run's load (after `after`, up to
// the duration's end).
func judged(r *reports.Report, after float64) []reports.SpreadWindow {
	if r.Backends == nil {
		return nil
	}
	end := r.Scenario.DurationSeconds // a second ending after it has the drain in it
	var out []reports.SpreadWindow
	for _, s := range r.Backends.Spread {
		if s.Offset >= after && (r.Scenario.DurationSeconds == 0 || s.Offset <= end) {
			out = append(out, s)
		}
	}
	return out
}

func within(s reports.SpreadWindow, bound float64) bool {
	return s.Ratio != nil && *s.Ratio <= bound
}

// describeSpread says who held what in one second: the fewest and the
// most, with their shares.
func describeSpread(s reports.SpreadWindow) string {
	ratio := "∞"
	if s.Ratio != nil {
		ratio = strconv.FormatFloat(math.Round(*s.Ratio*100)/100, 'f', -1, 64)
	}
	return fmt.Sprintf("at %.0fs max/min %s: %s held %d of %d streams (%.1f%%), %s %d (%.1f%%)",
		s.Offset, ratio, s.MinBackend, s.Min, s.Total, 100*s.MinShare(), s.MaxBackend, s.Max, 100*float64(s.Max)/float64(s.Total))
}

// settle is how long after c the spread came within bound (its first
// second within it), or false when it never did.
func settle(spread []reports.SpreadWindow, c change, bound float64) (float64, reports.SpreadWindow, bool) {
	var last reports.SpreadWindow
	for _, s := range spread {
		if s.Offset <= c.at {
			continue
		}
		last = s
		if within(s, bound) {
			return s.Offset - c.at, s, true
		}
	}
	return 0, last, false
}

func (b *balance) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: b.text, Expected: fmt.Sprintf("max/min streams per backend <= %s every second", strconv.FormatFloat(b.maxRatio, 'f', -1, 64))}
	if b.within > 0 {
		v.Expected += fmt.Sprintf(", within %s of each join or leave", formatValue(b.within*1000, unitDuration))
	}
	spread := judged(r, b.after)
	if len(spread) == 0 {
		v.Actual = noData
		v.Detail = "no per-backend spread in the report: balance judges a target of several backends (target.backends) with streams open on them"
		if r.Backends != nil {
			v.Detail = "no second with streams open on the backends in service, so the spread cannot be judged"
		}
		return v
	}
	changes := changesOf(r)
	exempt := func(off float64) bool {
		for _, c := range changes {
			// A change's event is logged once it is done, and a second
			// may be sampled in between: the half second before it
			// belongs to it too.
			if off > c.at-changeSlack && off <= c.at+b.within {
				return true
			}
		}
		return false
	}
	var fails []string
	worst := 0.0
	for _, s := range spread {
		ratio := math.Inf(1)
		if s.Ratio != nil {
			ratio = *s.Ratio
		}
		if exempt(s.Offset) {
			continue
		}
		worst = math.Max(worst, ratio)
		if !within(s, b.maxRatio) && len(fails) < 3 {
			fails = append(fails, describeSpread(s))
		}
	}
	if b.within > 0 {
		for _, c := range changes {
			took, s, ok := settle(spread, c, b.maxRatio)
			switch {
			case !ok && s.Total == 0:
				fails = append(fails, fmt.Sprintf("after %s %s at %.1fs: no second measured since", c.kind, c.backend, c.at))
			case !ok:
				fails = append(fails, fmt.Sprintf("after %s %s at %.1fs: never back within bound; %s", c.kind, c.backend, c.at, describeSpread(s)))
			case took > b.within:
				fails = append(fails, fmt.Sprintf("after %s %s at %.1fs: back within bound only after %.1fs", c.kind, c.backend, c.at, took))
			}
		}
	}
	v.Actual = "worst max/min " + ratioText(worst)
	if len(fails) > 0 {
		v.Detail = strings.Join(fails, "; ")
		return v
	}
	v.Pass = true
	return v
}

func ratioText(r float64) string {
	if math.IsInf(r, 1) {
		return "∞ (a backend in service held no stream)"
	}
	return strconv.FormatFloat(math.Round(r*100)/100, 'f', -1, 64)
}

// rebalanceTime judges how long after each backend_join the spread took to
// come within bound:
//
//   - rebalance_time: {max: 15s, max_ratio: 1.5}
//
// Its Actual is the longest of those times, a number even on pass.
type rebalanceTime struct {
	text     string
	max      float64 // seconds
	maxRatio float64
}

const rebalanceExample = "rebalance_time: {max: 15s, max_ratio: 1.5}"

var rebalanceTimeCheck = Check{
	Name:    "rebalance_time",
	Doc:     "after every backend_join the streams spread within max_ratio again within max; the time it took is reported even on pass",
	Example: rebalanceExample,
	Settings: []Setting{
		{Name: "max", Default: "required", Doc: "the longest a rebalance may take"},
		{Name: "max_ratio", Default: "1.5", Doc: "the spread that counts as balanced: most streams on a backend in service over the fewest"},
	},
	compile: compileRebalance,
}

func compileRebalance(in input) (Assertion, error) {
	t := &rebalanceTime{text: in.text, maxRatio: 1.5, max: -1}
	for k, v := range in.args {
		var err error
		switch k {
		case "max":
			var ms float64
			ms, err = parseValue(v, unitDuration)
			if err == nil && ms <= 0 {
				err = fmt.Errorf("must be > 0, got %s", v)
			}
			t.max = ms / 1000
		case "max_ratio":
			t.maxRatio, err = parseValue(v, unitCount)
			if err == nil && !(t.maxRatio > 1) {
				err = fmt.Errorf("must be > 1, got %s", v)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if t.max <= 0 {
		return nil, fmt.Errorf("max is required: write %s", rebalanceExample)
	}
	return t, nil
}

func (t *rebalanceTime) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: t.text, Expected: fmt.Sprintf("max/min <= %s within %s of every backend_join",
		strconv.FormatFloat(t.maxRatio, 'f', -1, 64), formatValue(t.max*1000, unitDuration))}
	spread := judged(r, 0)
	var joins []change
	for _, c := range changesOf(r) {
		if c.kind == "backend_join" {
			joins = append(joins, c)
		}
	}
	switch {
	case len(spread) == 0:
		v.Actual, v.Detail = noData, "no per-backend spread in the report: rebalance_time judges a target of several backends (target.backends)"
		return v
	case len(joins) == 0:
		v.Actual, v.Detail = noData, "no backend joined during the run (a backend_join fault), so there was no rebalance to time"
		return v
	}
	var fails []string
	longest := 0.0
	never := false
	for _, c := range joins {
		took, s, ok := settle(spread, c, t.maxRatio)
		if !ok {
			never = true
			fails = append(fails, fmt.Sprintf("%s (joined at %.1fs) never balanced; %s", c.backend, c.at, describeSpread(s)))
			continue
		}
		longest = math.Max(longest, took)
		if took > t.max {
			fails = append(fails, fmt.Sprintf("%s (joined at %.1fs) balanced after %.1fs", c.backend, c.at, took))
		}
	}
	v.Actual = formatValue(math.Round(longest*1000), unitDuration)
	if never {
		v.Actual = "never"
	}
	if len(fails) > 0 {
		v.Detail = strings.Join(fails, "; ")
		return v
	}
	v.Pass = true
	return v
}
