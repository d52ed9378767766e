package assert

import (
	"github.com/streambench/streambench/harness/scenario"

	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/streambench/streambench/reports"
)

// unit is what a metric measures, which decides how its threshold is written.
type unit int

const (
	unitCount    unit = iota // a plain number: errors == 0
	unitDuration             // a Go duration: latency.p99 < 20ms
	unitRatio                // a fraction or percentage: error_rate < 1%
	unitRate                 // per second: messages.rate > 1000/s
)

var exprRE = regexp.MustCompile(`^([A-Za-z0-9_.:\-]+)\s*(<=|>=|==|!=|<|>)\s*(\S+)$`)

var ops = map[string]func(a, b float64) bool{
	"<":  func(a, b float64) bool { return a < b },
	"<=": func(a, b float64) bool { return a <= b },
	">":  func(a, b float64) bool { return a > b },
	">=": func(a, b float64) bool { return a >= b },
	"==": func(a, b float64) bool { return a == b },
	"!=": func(a, b float64) bool { return a != b },
}

// threshold is "[group.]metric op value".
type threshold struct {
	text   string
	group  string
	metric metric
	op     string
	value  float64 // in the metric's unit: ms, count, ratio, per second
	raw    string
	need   evidence
}

// metric reads one number from a set of groups (merged when several).
type metric struct {
	name string
	unit unit
	// read reads the metric from groups gs; load is the load's seconds
	// (Report.LoadSeconds: the drain left out), for rates.
	read func(gs []*reports.Group, load float64) (float64, bool, error)
}

// compileThreshold compiles expr, written as text; args are its evidence
// settings (nil for none).
func compileThreshold(text, expr string, args map[string]string, groups []string) (Assertion, error) {
	m := exprRE.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return nil, fmt.Errorf("cannot read %q: want [group.]metric OP value with OP one of < <= > >= == != (e.g. %q), or a check (%s)",
			expr, "pow.latency.p99 < 20ms", strings.Join(checkNames(), ", "))
	}
	lhs, op, rhs := m[1], m[2], m[3]
	t := &threshold{text: text, op: op, raw: rhs, need: defaultEvidence()}
	if args != nil {
		var allowed []string
		for _, s := range evidenceSettings {
			allowed = append(allowed, s.Name)
		}
		for k := range args {
			if !contains(allowed, k) {
				return nil, fmt.Errorf("unknown setting %q of a threshold (settings: %s)", k, strings.Join(allowed, ", "))
			}
		}
		if err := parseEvidence(&t.need, cloneArgs(args)); err != nil {
			return nil, err
		}
	}
	if first, rest, ok := strings.Cut(lhs, "."); ok && contains(groups, first) {
		t.group, lhs = first, rest
	}
	mt, err := lookupMetric(lhs)
	if err != nil {
		return nil, err
	}
	t.metric = mt
	v, err := parseValue(rhs, mt.unit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", lhs, err)
	}
	t.value = v
	return t, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (t *threshold) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: t.text, Expected: t.metric.name + " " + t.op + " " + t.raw}
	gs, err := selectGroups(r, t.group)
	if err != nil {
		v.Actual, v.Detail = "n/a", err.Error()
		return v
	}
	if t.group != "" {
		v.Expected = t.group + "." + v.Expected
	}
	if t.need.refuse(&v, gs) {
		return v
	}
	got, ok, err := t.metric.read(gs, r.LoadSeconds())
	switch {
	case err != nil:
		v.Actual, v.Detail = "n/a", err.Error()
	case !ok:
		v.Actual, v.Detail = noData, "nothing was measured ("+t.metric.name+" has no samples), so the threshold cannot hold"
	default:
		v.Actual = formatValue(got, t.metric.unit)
		v.Pass = ops[t.op](got, t.value)
		if strings.HasPrefix(t.metric.name, "latency") {
			v.Detail = saturatedNote(r, gs)
		}
	}
	return v
}

// saturatedNote says how many of the groups' windows were marked
// generator_saturated (streambench's own scheduling delay a large share of
// the latency it measured), or "" when none was: a latency judged over
// them includes streambench's own waiting.
func saturatedNote(r *reports.Report, gs []*reports.Group) string {
	var marked, all int
	for _, w := range r.Windows {
		for _, g := range gs {
			if w.Group == g.Name && w.Latency != nil && w.Latency.Count > 0 {
				all++
				if w.Saturated {
					marked++
				}
			}
		}
	}
	if marked == 0 {
		return ""
	}
	return fmt.Sprintf("judged over %d of %d windows where streambench's own process was at least %.0f%% of the latency "+
		"p99 (generator_saturated: its goroutines waited for a processor or its timers overslept): the figure includes "+
		"streambench's own waiting", marked, all, reports.SaturatedShare*100)
}

func formatValue(v float64, u unit) string {
	switch u {
	case unitDuration:
		if math.IsInf(v, 1) {
			return "never" // all_open of a group that never had all streams at once
		}
		return time.Duration(v * float64(time.Millisecond)).Round(time.Microsecond).String()
	case unitRatio:
		return strconv.FormatFloat(v*100, 'f', -1, 64) + "%"
	case unitRate:
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// parseValue reads a threshold in the metric's unit. Durations become
// milliseconds, percentages fractions.
func parseValue(s string, u unit) (float64, error) {
	switch u {
	case unitDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("threshold %q is not a duration (write it like 20ms, 1.5s, 250us)", s)
		}
		return float64(d) / float64(time.Millisecond), nil
	case unitRatio:
		if p, ok := strings.CutSuffix(s, "%"); ok {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("threshold %q is not a percentage (write it like 1%% or 0.01)", s)
			}
			return f / 100, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1 {
			return 0, fmt.Errorf("threshold %q is not a ratio (write it like 1%% or 0.01)", s)
		}
		return f, nil
	case unitRate:
		s = strings.TrimSuffix(s, "/s")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("threshold %q is not a number", s)
	}
	return f, nil
}

// histogram stats: p<quantile>, min, max, mean, stddev.
var statNames = []string{"p50", "p90", "p99", "p99.9", "p<any 0..100>", "min", "max", "mean", "stddev"}

var counterMetrics = map[string]func(g *reports.Group) uint64{
	"errors":              func(g *reports.Group) uint64 { return g.Streams.Failed },
	"streams.opened":      func(g *reports.Group) uint64 { return g.Streams.Opened },
	"streams.established": func(g *reports.Group) uint64 { return g.Streams.Established },
	"streams.ended":       func(g *reports.Group) uint64 { return g.Streams.Ended },
	"streams.failed":      func(g *reports.Group) uint64 { return g.Streams.Failed },
	"streams.completed":   func(g *reports.Group) uint64 { return g.Ends["complete"] },
	"messages.sent":       func(g *reports.Group) uint64 { return g.Messages.Sent },
	"messages.received":   func(g *reports.Group) uint64 { return g.Messages.Received },
	"arrival.scheduled":   func(g *reports.Group) uint64 { return arrivalOf(g).Scheduled },
	"arrival.started":     func(g *reports.Group) uint64 { return arrivalOf(g).Started },
	"arrival.dropped":     func(g *reports.Group) uint64 { return arrivalOf(g).Dropped },
	"arrival.late":        func(g *reports.Group) uint64 { return arrivalOf(g).Late },
	"arrival.unstarted":   func(g *reports.Group) uint64 { return arrivalOf(g).Unstarted },
	"outages.opened":      func(g *reports.Group) uint64 { return g.Outages.Opened },
	"outages.resumed":     func(g *reports.Group) uint64 { return g.Outages.Resumed },
	"outages.recovered":   func(g *reports.Group) uint64 { return g.Outages.Recovered },
	"outages.unrecovered": func(g *reports.Group) uint64 { return g.Outages.Unrecovered },
	"violations": func(g *reports.Group) uint64 {
		var n uint64
		for _, v := range g.Violations {
			n += v
		}
		return n
	},
}

// Metric is one threshold metric (or family: <stat>, <class>, <kind>
// stand for a statistic, an end class, a violation kind), as `streambench
// list` and docs/assertions.md show it.
type Metric struct {
	Name string
	// Unit is how its threshold value is written.
	Unit string
	Doc  string
}

const (
	unitDocDuration = "duration (20ms, 1.5s, 250us)"
	unitDocCount    = "count"
)

// metrics lists every metric lookupMetric reads.
var metrics = []Metric{
	{"latency.<stat>", unitDocDuration, "per-message latency: the receiver's clock minus the sender's timestamp"},
	{"latency_corrected.<stat>", unitDocDuration, "Math RPCs: latency from when each message was meant to be sent (coordinated-omission corrected)"},
	{"stream_duration.<stat>", unitDocDuration, "time from opening a stream to its end"},
	{"recovery.<stat>", unitDocDuration, "per outage: from a client's failed stream end until it is back to live (a message within the freshness bound)"},
	{"recovery.first.<stat>", unitDocDuration, "per outage: from a client's failed stream end to the first message it received afterwards, stale or not"},
	{"open.<stat>", unitDocDuration, "per stream: from the start of its open until it was established"},
	{"write_to_watch.<stat>", unitDocDuration, "a watcher group's covers oracle: per write a watcher received, from the writer receiving its acknowledgement to the watcher receiving the event (0 when the event came first)"},
	{"outages.opened", unitDocCount, "client outages opened"},
	{"outages.resumed", unitDocCount, "outages in which a message arrived again, stale or fresh"},
	{"outages.recovered", unitDocCount, "outages ended back to live"},
	{"outages.unrecovered", unitDocCount, "outages not back to live at the end"},
	{"arrival.scheduled", unitDocCount, "open-loop slots scheduled"},
	{"arrival.started", unitDocCount, "open-loop slots started"},
	{"arrival.dropped", unitDocCount, "open-loop slots dropped"},
	{"arrival.late", unitDocCount, "open-loop slots started late"},
	{"arrival.unstarted", unitDocCount, "open-loop slots left unstarted"},
	{"errors", unitDocCount, "failed streams"},
	{"streams.opened", unitDocCount, "streams opened"},
	{"streams.established", unitDocCount, "streams established"},
	{"streams.ended", unitDocCount, "streams ended"},
	{"streams.failed", unitDocCount, "streams failed"},
	{"streams.completed", unitDocCount, "streams ended complete"},
	{"all_open", unitDocDuration, "when every client had a stream established at once"},
	{"open_wait.peak", unitDocCount, "the most streams waiting at once inside gRPC's open call"},
	{"messages.sent", unitDocCount, "messages sent by the clients"},
	{"messages.received", unitDocCount, "messages received by the clients"},
	{"messages.rate", "per second (1000 or 1000/s)", "messages received per second of the load (from the start to the stop; the graceful stop's drain is left out)"},
	{"error_rate", "ratio (1% or 0.01)", "failed / ended streams"},
	{"ends.<class>", unitDocCount, "stream ends by class or gRPC status code"},
	{"violations", unitDocCount, "protocol violations, all kinds"},
	{"violations.<kind>", unitDocCount, "protocol violations of one kind"},
}

// Metrics returns every threshold metric.
func Metrics() []Metric { return append([]Metric(nil), metrics...) }

func metricNames() []string {
	out := make([]string, len(metrics))
	for i, m := range metrics {
		out[i] = m.Name
	}
	return out
}

func sumCounter(f func(*reports.Group) uint64) func(gs []*reports.Group, _ float64) (float64, bool, error) {
	return func(gs []*reports.Group, _ float64) (float64, bool, error) {
		var n uint64
		for _, g := range gs {
			n += f(g)
		}
		return float64(n), true, nil
	}
}

// maxOver is a metric whose value is the largest of f over the selected
// groups.
func maxOver(name string, u unit, f func(*reports.Group) float64) metric {
	return metric{name: name, unit: u, read: func(gs []*reports.Group, _ float64) (float64, bool, error) {
		var v float64
		for _, g := range gs {
			v = max(v, f(g))
		}
		return v, len(gs) > 0, nil
	}}
}

func lookupMetric(name string) (metric, error) {
	if f, ok := counterMetrics[name]; ok {
		return metric{name: name, unit: unitCount, read: sumCounter(f)}, nil
	}
	base, sub, _ := strings.Cut(name, ".")
	if base == "recovery" && strings.HasPrefix(sub, "first.") {
		base, sub = "recovery.first", strings.TrimPrefix(sub, "first.")
	}
	switch base {
	case "latency", "latency_corrected", "stream_duration", "recovery", "recovery.first", "open", "write_to_watch":
		return histogramMetric(name, base, sub)
	case "all_open":
		if sub != "" {
			break
		}
		// The latest group's; a group that never had every stream
		// established at once reads as infinitely late.
		return maxOver(name, unitDuration, func(g *reports.Group) float64 {
			if g.AllOpenSeconds <= 0 {
				return math.Inf(1)
			}
			return g.AllOpenSeconds * 1e3 // ms, as every duration
		}), nil
	case "open_wait":
		if sub != "peak" {
			break
		}
		return maxOver(name, unitCount, func(g *reports.Group) float64 {
			if g.OpenWait == nil {
				return 0
			}
			return float64(g.OpenWait.PeakWaiting)
		}), nil
	case "ends":
		if sub == "" {
			break
		}
		key := endKey(sub)
		return metric{name: name, unit: unitCount, read: sumCounter(func(g *reports.Group) uint64 { return g.Ends[key] })}, nil
	case "violations":
		if sub == "" {
			break
		}
		if !contains(violationKinds, sub) {
			return metric{}, fmt.Errorf("unknown violation kind %q (kinds: %s)", sub, strings.Join(violationKinds, ", "))
		}
		return metric{name: name, unit: unitCount, read: sumCounter(func(g *reports.Group) uint64 { return g.Violations[sub] })}, nil
	case "error_rate":
		return metric{name: name, unit: unitRatio, read: func(gs []*reports.Group, _ float64) (float64, bool, error) {
			var failed, ended uint64
			for _, g := range gs {
				failed += g.Streams.Failed
				ended += g.Streams.Ended
			}
			if ended == 0 {
				return 0, false, nil
			}
			return float64(failed) / float64(ended), true, nil
		}}, nil
	case "messages":
		if sub == "rate" {
			// Over the load: the messages received before the stop over
			// the time to it. The drain (a never-ending watch waits out
			// graceful_stop) has its own figures and rates nothing.
			return metric{name: name, unit: unitRate, read: func(gs []*reports.Group, load float64) (float64, bool, error) {
				if load <= 0 {
					return 0, false, nil
				}
				var n uint64
				for _, g := range gs {
					n += g.Messages.Received - min(g.Messages.DrainReceived, g.Messages.Received)
				}
				return float64(n) / load, true, nil
			}}, nil
		}
	}
	return metric{}, fmt.Errorf("unknown metric %q%s (metrics: %s)", name, didYouMean(suggestMetric(name)), strings.Join(metricNames(), ", "))
}

// suggestMetric is the metric name closest to name: the family (the part
// before the first ".", after a group name) nearest to name's, with the
// rest kept ("pow.latncy.p99" -> "pow.latency.p99"); "" when none is close.
func suggestMetric(name string) string {
	var families []string
	for _, m := range metricNames() {
		f, _, _ := strings.Cut(m, ".")
		if !contains(families, f) {
			families = append(families, f)
		}
	}
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if contains(families, p) {
			return ""
		}
		if s := scenario.Suggest(p, families); s != "" {
			parts[i] = s
			return strings.Join(parts, ".")
		}
	}
	return ""
}

var violationKinds = []string{"gap", "duplicate", "reorder", "wrong_value", "wrong_result", "extra"}

// endKey maps "premature_eof" to itself and a status code name
// ("Unavailable", "status:Unavailable") to "status:Unavailable".
func endKey(s string) string {
	switch s {
	case "complete", "premature_eof", "violation", "canceled", "deadline", "idle_timeout":
		return s
	}
	return "status:" + strings.TrimPrefix(s, "status:")
}

func histogramMetric(name, base, stat string) (metric, error) {
	pick := func(g *reports.Group) reports.Histogram {
		switch base {
		case "latency":
			return g.Latency
		case "latency_corrected":
			return g.LatencyCorrected
		case "recovery":
			return g.Recovery
		case "recovery.first":
			return g.RecoveryFirst
		case "open":
			if g.Open == nil {
				return reports.Histogram{}
			}
			return *g.Open
		case "write_to_watch":
			if g.Covers == nil {
				return reports.Histogram{}
			}
			return g.Covers.WriteToWatch
		}
		return g.StreamDuration
	}
	var read func(h *hdrhistogram.Histogram) float64
	switch {
	case stat == "min":
		read = func(h *hdrhistogram.Histogram) float64 { return float64(h.Min()) }
	case stat == "max":
		read = func(h *hdrhistogram.Histogram) float64 { return float64(h.Max()) }
	case stat == "mean":
		read = func(h *hdrhistogram.Histogram) float64 { return h.Mean() }
	case stat == "stddev":
		read = func(h *hdrhistogram.Histogram) float64 { return h.StdDev() }
	case strings.HasPrefix(stat, "p"):
		q, err := parseQuantile(stat[1:])
		if err != nil {
			return metric{}, fmt.Errorf("%s: %w", name, err)
		}
		read = func(h *hdrhistogram.Histogram) float64 { return float64(h.ValueAtQuantile(q)) }
	default:
		return metric{}, fmt.Errorf("unknown statistic %q of %s (statistics: %s)", stat, base, strings.Join(statNames, ", "))
	}
	return metric{name: name, unit: unitDuration, read: func(gs []*reports.Group, _ float64) (float64, bool, error) {
		merged, err := mergeHistograms(gs, pick)
		if err != nil {
			return 0, false, err
		}
		if merged == nil || merged.TotalCount() == 0 {
			return 0, false, nil
		}
		return read(merged) / 1000, true, nil // µs -> ms
	}}, nil
}

// parseQuantile reads "99", "99.9" or "999" (p999 = 99.9) as a percentile.
func parseQuantile(s string) (float64, error) {
	if s == "999" {
		return 99.9, nil
	}
	if s == "9999" {
		return 99.99, nil
	}
	q, err := strconv.ParseFloat(s, 64)
	if err != nil || q < 0 || q > 100 || math.IsNaN(q) {
		return 0, fmt.Errorf("percentile p%s is not between p0 and p100 (e.g. p50, p99, p99.9)", s)
	}
	return q, nil
}

func mergeHistograms(gs []*reports.Group, pick func(*reports.Group) reports.Histogram) (*hdrhistogram.Histogram, error) {
	var merged *hdrhistogram.Histogram
	for _, g := range gs {
		h := pick(g)
		if h.Count == 0 && h.HDR == "" {
			continue
		}
		d, err := h.Decode()
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		if merged == nil {
			merged = d
			continue
		}
		merged.Merge(d)
	}
	return merged, nil
}

// arrivalOf is g's open-loop accounting (zero for a closed-loop group).
func arrivalOf(g *reports.Group) reports.Arrival {
	if g.Arrival == nil {
		return reports.Arrival{}
	}
	return *g.Arrival
}
