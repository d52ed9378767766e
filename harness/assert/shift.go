package assert

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/streambench/streambench/reports"
)

// latencyShift judges that a fault moved a group's latency by the injected
// amount:
//
//   - latency_shift: {group: pow, fault: 0, by: 100ms, tolerance: 25%}
//
// It compares the group's median latency in the seconds inside fault
// faults[N]'s windows (skipping the first second of each) with its median in
// the seconds outside every fault window (and their 2 s aftermath); the
// difference must be within tolerance (default 25%) of by.
type latencyShift struct {
	text      string
	group     string
	fault     int
	by        float64 // ms
	tolerance float64 // ratio
	need      evidence
}

var latencyShiftCheck = Check{
	Name:    "latency_shift",
	Doc:     "a fault moved the group's median latency by the injected amount",
	Example: "latency_shift: {group: pow, fault: 0, by: 100ms, tolerance: 25%}",
	Settings: withEvidence(
		Setting{Name: "group", Default: "required", Doc: "one group (not `all`)"},
		Setting{Name: "fault", Default: "required", Doc: "the index of the fault in `faults:` (`0` or `faults[0]`)"},
		Setting{Name: "by", Default: "required", Doc: "the expected shift of the median, > 0"},
		Setting{Name: "tolerance", Default: "25%", Doc: "how far the shift may be from `by`, as a share of `by`"},
	),
	compile: compileShift,
}

func compileShift(in input) (Assertion, error) {
	s := &latencyShift{text: in.text, fault: -1, tolerance: 0.25, need: defaultEvidence()}
	args := cloneArgs(in.args)
	if err := parseEvidence(&s.need, args); err != nil {
		return nil, err
	}
	for k, v := range args {
		var err error
		switch k {
		case "group":
			s.group, err = v, checkGroupName(v, in.groups)
		case "fault":
			s.fault, err = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(v, "faults["), "]"))
			if err == nil && s.fault < 0 {
				err = fmt.Errorf("fault must be an index of the faults list, got %d", s.fault)
			}
		case "by":
			s.by, err = parseValue(v, unitDuration)
		case "tolerance":
			s.tolerance, err = parseValue(v, unitRatio)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if s.group == "" || s.group == "all" || s.fault < 0 || s.by <= 0 {
		return nil, fmt.Errorf("group, fault (an index of faults) and by (> 0) are required")
	}
	return s, nil
}

func (s *latencyShift) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: s.text, Expected: fmt.Sprintf("%s median latency +%s ± %s during faults[%d]",
		s.group, formatValue(s.by, unitDuration), formatValue(s.tolerance, unitRatio), s.fault)}
	if g := r.Group(s.group); g == nil {
		v.Actual, v.Detail = "n/a", fmt.Sprintf("no group %q in the report", s.group)
		return v
	} else if s.need.refuse(&v, []*reports.Group{g}) {
		return v
	}
	prefix := fmt.Sprintf("faults[%d] ", s.fault)
	var during [][2]float64
	var all [][2]float64
	for _, f := range r.Faults {
		all = append(all, [2]float64{f.Start, f.End + 2})
		if strings.HasPrefix(f.Name, prefix) {
			during = append(during, [2]float64{f.Start + 1, f.End})
		}
	}
	if len(during) == 0 {
		v.Actual, v.Detail = "n/a", fmt.Sprintf("faults[%d] never ran in this report", s.fault)
		return v
	}
	// A window covers [w.Start, w.Offset]: it is inside a span when
	// wholly inside, and touches it when they overlap.
	in := func(w reports.Window, spans [][2]float64) bool {
		for _, sp := range spans {
			if w.Start >= sp[0] && w.Offset <= sp[1] {
				return true
			}
		}
		return false
	}
	touches := func(w reports.Window, spans [][2]float64) bool {
		for _, sp := range spans {
			if w.Offset > sp[0] && w.Start < sp[1] {
				return true
			}
		}
		return false
	}
	var inside, outside []reports.Window
	for _, w := range r.Windows {
		if w.Group != s.group || w.Offset > r.Scenario.DurationSeconds {
			continue
		}
		switch {
		case in(w, during):
			inside = append(inside, w)
		case !touches(w, all):
			outside = append(outside, w)
		}
	}
	p50In, ok1 := windowsQuantile(inside, 50)
	p50Out, ok2 := windowsQuantile(outside, 50)
	if !ok1 || !ok2 {
		v.Actual, v.Detail = noData, fmt.Sprintf("%s: %d seconds inside faults[%d] and %d seconds outside every fault had latency samples; both need some", s.group, len(inside), s.fault, len(outside))
		return v
	}
	shift := p50In - p50Out
	v.Actual = fmt.Sprintf("+%s (median %s during, %s outside)", formatValue(shift, unitDuration), formatValue(p50In, unitDuration), formatValue(p50Out, unitDuration))
	v.Pass = math.Abs(shift-s.by) <= s.tolerance*s.by
	if !v.Pass {
		v.Detail = fmt.Sprintf("shift %s is not within %s of %s", formatValue(shift, unitDuration), formatValue(s.tolerance, unitRatio), formatValue(s.by, unitDuration))
	}
	return v
}

// windowsQuantile merges the windows' latency and returns quantile q in ms.
func windowsQuantile(ws []reports.Window, q float64) (float64, bool) {
	var merged *hdrhistogram.Histogram
	for _, w := range ws {
		if w.Latency == nil || w.Latency.Count == 0 {
			continue
		}
		h, err := w.Latency.Decode()
		if err != nil {
			continue
		}
		if merged == nil {
			merged = h
		} else {
			merged.Merge(h)
		}
	}
	if merged == nil || merged.TotalCount() == 0 {
		return 0, false
	}
	return float64(merged.ValueAtQuantile(q)) / 1000, true
}
