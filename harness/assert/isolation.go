package assert

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/streambench/streambench/reports"
)

// isolation judges that slow readers do not hurt fast ones:
//
//   - isolation: {group: fast, factor: 3}      # p99 with slow readers <= 3x p99 before them
//   - isolation: {group: fast, bound: 250ms}   # or a fixed bound (both may be given)
//
// Optional settings: slow (the slow group; default every group with a read
// mode), rate (the least share of the feed rate each fast subscriber must
// still receive while slow readers are present, default 90%), floor (the
// least threshold a factor yields, default 10ms, so a sub-millisecond
// baseline does not make noise a failure), cutoff (false: do not require
// the slow readers to be cut off with ResourceExhausted).
type isolation struct {
	text   string
	group  string
	slow   string
	factor float64
	bound  float64 // ms
	floor  float64 // ms
	rate   float64
	cutoff bool
	need   evidence
}

var isolationCheck = Check{
	Name:    "isolation",
	Doc:     "with slow readers present the fast group keeps its latency (factor/bound) and the feed rate, and slow readers are cut off",
	Example: "isolation: {group: fast, factor: 3}",
	Settings: withEvidence(
		Setting{Name: "group", Default: "required", Doc: "the fast group (not `all`)"},
		Setting{Name: "slow", Default: "every other group with a `read` mode", Doc: "the slow group"},
		Setting{Name: "factor", Default: "none", Doc: "p99 with slow readers must be ≤ factor × p99 before them (≥ 1)"},
		Setting{Name: "bound", Default: "none", Doc: "p99 with slow readers must be ≤ this duration"},
		Setting{Name: "floor", Default: "10ms", Doc: "the least limit a `factor` yields"},
		Setting{Name: "rate", Default: "90%", Doc: "the least share of the feed rate each fast client must still receive with slow readers present"},
		Setting{Name: "cutoff", Default: "true", Doc: "require every slow group to have been cut off with `ResourceExhausted`"},
	),
	compile: compileIsolation,
}

func compileIsolation(in input) (Assertion, error) {
	iso := &isolation{text: in.text, floor: 10, rate: 0.9, cutoff: true, need: defaultEvidence()}
	args := cloneArgs(in.args)
	if err := parseEvidence(&iso.need, args); err != nil {
		return nil, err
	}
	for k, v := range args {
		var err error
		switch k {
		case "group":
			iso.group = v
			err = checkGroupName(v, in.groups)
			if v == "all" || v == "" {
				err = fmt.Errorf("group: name the fast group")
			}
		case "slow":
			iso.slow = v
			err = checkGroupName(v, in.groups)
		case "factor":
			iso.factor, err = strconv.ParseFloat(v, 64)
			if err == nil && iso.factor < 1 {
				err = fmt.Errorf("factor must be >= 1, got %v", iso.factor)
			}
		case "bound":
			iso.bound, err = parseValue(v, unitDuration)
		case "floor":
			iso.floor, err = parseValue(v, unitDuration)
		case "rate":
			iso.rate, err = parseValue(v, unitRatio)
		case "cutoff":
			iso.cutoff, err = strconv.ParseBool(v)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if iso.group == "" {
		return nil, fmt.Errorf("group (the fast group) is required")
	}
	if iso.factor == 0 && iso.bound == 0 {
		return nil, fmt.Errorf("give factor (vs the phase before slow readers) and/or bound")
	}
	return iso, nil
}

func (iso *isolation) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: iso.text}
	var exp []string
	if iso.factor > 0 {
		exp = append(exp, fmt.Sprintf("%s p99 <= %gx its p99 before slow readers (at least %s)", iso.group, iso.factor, formatValue(iso.floor, unitDuration)))
	}
	if iso.bound > 0 {
		exp = append(exp, fmt.Sprintf("%s p99 <= %s with slow readers", iso.group, formatValue(iso.bound, unitDuration)))
	}
	exp = append(exp, fmt.Sprintf("delivery >= %s of the feed rate", formatValue(iso.rate, unitRatio)))
	if iso.cutoff {
		exp = append(exp, "slow readers cut off (ResourceExhausted)")
	}
	v.Expected = strings.Join(exp, "; ")

	fast := r.Group(iso.group)
	if fast == nil {
		v.Actual, v.Detail = "n/a", fmt.Sprintf("no group %q in the report", iso.group)
		return v
	}
	if iso.need.refuse(&v, []*reports.Group{fast}) {
		return v
	}
	var slow []*reports.Group
	for i := range r.Groups {
		g := &r.Groups[i]
		if g.Name != iso.group && (g.Name == iso.slow || iso.slow == "" && g.Read != "") {
			slow = append(slow, g)
		}
	}
	if len(slow) == 0 {
		v.Actual, v.Detail = "n/a", "no slow-reader group (a group with read:) to judge isolation against"
		return v
	}
	slowStart := slow[0].StartSeconds
	for _, g := range slow {
		slowStart = min(slowStart, g.StartSeconds)
	}
	end := r.Scenario.DurationSeconds
	var before, during []reports.Window
	for _, w := range r.Windows {
		if w.Group != iso.group || w.Offset > end {
			continue
		}
		switch {
		case w.Offset <= slowStart:
			before = append(before, w)
		case w.Start > slowStart: // skip the window slow readers arrive in
			during = append(during, w)
		}
	}
	var actual, why []string
	pass := true

	p99During, okDuring := windowsP99(during)
	if !okDuring {
		v.Actual, v.Detail = noData, fmt.Sprintf("%s received nothing while slow readers were present", iso.group)
		return v
	}
	actual = append(actual, fmt.Sprintf("%s p99 %s with slow readers", iso.group, formatValue(p99During, unitDuration)))
	if iso.factor > 0 {
		p99Before, ok := windowsP99(before)
		if !ok {
			pass = false
			why = append(why, fmt.Sprintf("no fast-only phase to compare with: give the slow group a start later than its first second (slow readers start at %gs)", slowStart))
		} else {
			limit := max(iso.factor*p99Before, iso.floor)
			actual = append(actual, fmt.Sprintf("%s before (x%.1f)", formatValue(p99Before, unitDuration), p99During/max(p99Before, 0.001)))
			if p99During > limit {
				pass = false
				why = append(why, fmt.Sprintf("p99 %s exceeds %gx %s = %s", formatValue(p99During, unitDuration), iso.factor, formatValue(p99Before, unitDuration), formatValue(limit, unitDuration)))
			}
		}
	}
	if iso.bound > 0 && p99During > iso.bound {
		pass = false
		why = append(why, fmt.Sprintf("p99 %s exceeds the bound %s", formatValue(p99During, unitDuration), formatValue(iso.bound, unitDuration)))
	}
	if rate, source, ok := feedRate(before, r); ok && fast.Clients > 0 {
		var received uint64
		var seconds float64
		for _, w := range during {
			received += w.Received
			seconds += w.Span()
		}
		perClient := float64(received) / seconds / float64(fast.Clients)
		share := perClient / rate
		actual = append(actual, fmt.Sprintf("delivered %.0f/s of %.4g/s per subscriber (the feed rate %s)", perClient, rate, source))
		if share < iso.rate {
			pass = false
			why = append(why, fmt.Sprintf("the server stalled: %s received %.0f%% of the feed rate while slow readers were present", iso.group, share*100))
		}
	} else {
		pass = false
		why = append(why, fmt.Sprintf("no feed rate to judge delivery by: %s saw no sequence numbers before slow readers joined (a Subscribe group, or a call with expect.sequence, in a phase of its own), and the report has no builtin server's figure", iso.group))
	}
	if iso.cutoff {
		var cut []string
		for _, g := range slow {
			n := g.Ends["status:ResourceExhausted"]
			cut = append(cut, fmt.Sprintf("%s %d", g.Name, n))
			if n == 0 {
				pass = false
				why = append(why, fmt.Sprintf("slow group %s was never cut off with ResourceExhausted", g.Name))
			}
		}
		sort.Strings(cut)
		actual = append(actual, "cut off: "+strings.Join(cut, ", "))
	}
	v.Actual = strings.Join(actual, "; ")
	v.Pass = pass
	v.Detail = strings.Join(why, "; ")
	return v
}

// feedRate is how fast the feed publishes: from the sequence numbers the
// fast group saw before slow readers joined — what the clients observe, so
// it holds for any target (a publisher that a slow reader stalls stalls
// only after they join) — else the builtin server's own figure.
func feedRate(before []reports.Window, r *reports.Report) (rate float64, source string, ok bool) {
	if n := len(before); n >= 2 {
		a, b := before[0], before[n-1]
		if b.MaxSeq > a.MaxSeq && b.Offset > a.Offset {
			return float64(b.MaxSeq-a.MaxSeq) / (b.Offset - a.Offset), "its subscribers saw before slow readers joined", true
		}
	}
	if r.Server != nil && r.Server.FeedRate > 0 {
		return r.Server.FeedRate, "the builtin server reports", true
	}
	return 0, "", false
}

// windowsP99 merges the windows' latency histograms and returns their p99
// in milliseconds.
func windowsP99(ws []reports.Window) (float64, bool) { return windowsQuantile(ws, 99) }
