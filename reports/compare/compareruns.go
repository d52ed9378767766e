package compare

import (
	"cmp"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/format"

	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
)

// Alpha is the significance level of a set comparison's Mann–Whitney U
// test, as benchstat uses: a metric moves only when p <= Alpha.
const Alpha = 0.05

// thresholds are benchmath's settings at Alpha.
var thresholds = &benchmath.Thresholds{CompareAlpha: Alpha}

// runMetric is one metric of a set comparison: how to read one run's
// value, its unit, and which direction is worse.
type runMetric struct {
	key  string
	unit string
	// value returns the run's statistic, false when the run has none (no
	// message, no ended stream, no outage).
	value func(r *reports.Report, g *reports.Group) (float64, bool)
	// higherWorse is true for latency, duration, recovery and error rate;
	// false for throughput.
	higherWorse bool
	// absolute: the tolerance is a difference (error_rate), not a ratio.
	absolute bool
	// count returns how many values the run's statistic is taken from,
	// and minCount is the least it needs to be compared (0: no minimum).
	count    func(g *reports.Group) int64
	minCount int64
}

// TailValues is how many values a run must have beyond a quantile for
// that quantile to be compared across runs: a p99 needs 1,000 values, a
// p99.9 10,000. With fewer, the quantile is a run's largest few values —
// its maximum, for a p99.9 of 800 — and varies between runs of the same
// code far more than the rank test's intervals assume (the A/A false
// regressions of the regression gate came from those).
const TailValues = 10

// quantileMin is the least values a run needs for quantile q (0.99) to
// have TailValues beyond it.
func quantileMin(q float64) int64 { return int64(math.Ceil(TailValues/(1-q) - 1e-9)) }

func histValue(h func(g *reports.Group) reports.Histogram, q func(h reports.Histogram) float64) func(*reports.Report, *reports.Group) (float64, bool) {
	return func(_ *reports.Report, g *reports.Group) (float64, bool) {
		hh := h(g)
		if hh.Count == 0 {
			return 0, false
		}
		return q(hh), true
	}
}

func latencyOf(g *reports.Group) reports.Histogram  { return g.Latency }
func latencyCount(g *reports.Group) int64           { return g.Latency.Count }
func durationCount(g *reports.Group) int64          { return g.StreamDuration.Count }
func durationOf(g *reports.Group) reports.Histogram { return g.StreamDuration }
func recoveryOf(g *reports.Group) reports.Histogram { return g.Recovery }

// runMetrics are the metrics of a set comparison, in display order.
var runMetrics = []runMetric{
	{key: "p50", unit: "ms", higherWorse: true, value: histValue(latencyOf, func(h reports.Histogram) float64 { return h.P50MS }), count: latencyCount, minCount: quantileMin(0.50)},
	{key: "p90", unit: "ms", higherWorse: true, value: histValue(latencyOf, func(h reports.Histogram) float64 { return h.P90MS }), count: latencyCount, minCount: quantileMin(0.90)},
	{key: "p99", unit: "ms", higherWorse: true, value: histValue(latencyOf, func(h reports.Histogram) float64 { return h.P99MS }), count: latencyCount, minCount: quantileMin(0.99)},
	{key: "p99.9", unit: "ms", higherWorse: true, value: histValue(latencyOf, func(h reports.Histogram) float64 { return h.P999MS }), count: latencyCount, minCount: quantileMin(0.999)},
	{key: "duration.p50", unit: "ms", higherWorse: true, value: histValue(durationOf, func(h reports.Histogram) float64 { return h.P50MS }), count: durationCount, minCount: quantileMin(0.50)},
	{key: "duration.p99", unit: "ms", higherWorse: true, value: histValue(durationOf, func(h reports.Histogram) float64 { return h.P99MS }), count: durationCount, minCount: quantileMin(0.99)},
	{key: "error_rate", unit: "ratio", higherWorse: true, absolute: true, value: func(_ *reports.Report, g *reports.Group) (float64, bool) {
		if g.Streams.Ended == 0 {
			return 0, false
		}
		return float64(g.Streams.Failed) / float64(g.Streams.Ended), true
	}},
	{key: "throughput", unit: "msg/s", value: steadyRate},
	{key: "recovery", unit: "ms", higherWorse: true, value: histValue(recoveryOf, func(h reports.Histogram) float64 { return h.P99MS })},
}

// steadyRate is a run's throughput: the messages the group received
// during the scenario's duration (its per-second windows up to the
// duration) over that time. The graceful stop after the duration, whose
// length varies from run to run, does not count (received / elapsed moved
// by up to 30% between A/A runs of smoke.yaml for that reason alone).
func steadyRate(r *reports.Report, g *reports.Group) (float64, bool) {
	var received uint64
	end := 0.0
	for _, w := range r.Windows {
		if w.Group != g.Name || (r.Scenario.DurationSeconds > 0 && w.Offset > r.Scenario.DurationSeconds+0.5) {
			continue
		}
		received += w.Received
		end = max(end, w.Offset)
	}
	if end <= 0 {
		return 0, false
	}
	return float64(received) / end, true
}

// groupNames returns every group of the runs, base's first run's order
// first, then groups seen only later.
func groupNames(sides ...[]*reports.Report) []string {
	var out []string
	seen := map[string]bool{}
	for _, reps := range sides {
		for _, r := range reps {
			for _, g := range r.Groups {
				if !seen[g.Name] {
					seen[g.Name] = true
					out = append(out, g.Name)
				}
			}
		}
	}
	return out
}

func hasGroup(reps []*reports.Report, name string) bool {
	for _, r := range reps {
		if r.Group(name) != nil {
			return true
		}
	}
	return false
}

func (c *Comparison) compareRuns(base, head []*reports.Report, tol Tolerances) {
	for _, name := range groupNames(base, head) {
		inBase, inHead := hasGroup(base, name), hasGroup(head, name)
		switch {
		case !inHead:
			c.Groups = append(c.Groups, GroupComparison{Name: name, Only: "base"})
			c.Notes = append(c.Notes, fmt.Sprintf("group %s is in the base runs only", name))
			continue
		case !inBase:
			c.Groups = append(c.Groups, GroupComparison{Name: name, Only: "head"})
			c.Notes = append(c.Notes, fmt.Sprintf("group %s is in the head runs only", name))
			continue
		}
		gc := GroupComparison{Name: name}
		for _, rm := range runMetrics {
			bv, hv := runValues(base, name, rm), runValues(head, name, rm)
			if len(bv) == 0 && len(hv) == 0 {
				continue // e.g. recovery in a scenario without outages
			}
			m := judgeRuns(rm, bv, hv, tol[rm.key])
			if lo, hi, short := tooFewValues(rm, name, base, head); short && m.Verdict != TooFewRuns {
				// The figures stay for the reader; no verdict is drawn.
				m.Verdict, m.P, m.Significant = TooFewValues, nil, false
				m.Why = fmt.Sprintf("too few values: a run's %s needs >= %d values (%d beyond it) to be compared; these runs had %d to %d", rm.key, rm.minCount, TailValues, lo, hi)
			}
			gc.Metrics = append(gc.Metrics, m)
		}
		c.Groups = append(c.Groups, gc)
	}
	c.compareBackends(base, head, tol, false)
	c.adjust()
}

// adjust corrects the comparison's verdicts for how many metrics it
// tests. Each U test alone is wrong Alpha of the time, so a comparison of
// 30 metrics of identical code would flag some metric far more often than
// Alpha. Each group's metrics are one family — one workload, of which the
// latency quantiles, stream durations, error rate, throughput and recovery
// are views — adjusted by the Benjamini–Hochberg step-up method (1995):
// when nothing changed (every null hypothesis of the family true) the
// chance that any of the group's metrics is called significant is at most
// Alpha, as with Holm's method, and a report's is at most Alpha times its
// groups. Benjamini–Hochberg rather than Holm, and a group rather than the
// whole report: the U test's p-values are coarse — with 5 runs a side the
// smallest is 0.008, above Holm's Alpha/m for any m >= 7 — while a real
// slowdown moves several metrics of its group together, which
// Benjamini–Hochberg passes once 0.008 <= k·Alpha/m (measured on real runs
// of smoke.yaml with 5 runs a side: a 20% slower Pow, which moves two of
// its group's metrics, caught in 20 of 20 comparisons; adjusted across the
// whole report's ~30 metrics, in 8 of 20). A metric that moves alone needs
// more runs (RunsToStandAlone). The adjusted p of the i-th smallest of m
// p-values is min over j >= i of min(1, m·p_(j)/j).
//
// A metric whose every run on both sides has the same value (no errors
// anywhere) is left out of its family, as Tarone's rule for discrete tests
// leaves out a test that cannot reach significance: with all values tied
// every ordering of the runs gives the same statistic, so its p is 1
// whatever happened, and counting it would only dilute the others.
func (c *Comparison) adjust() {
	most, need := 0, 0
	for gi := range c.Groups {
		var family []*MetricComparison
		for mi := range c.Groups[gi].Metrics {
			if m := &c.Groups[gi].Metrics[mi]; m.P != nil && !allTied(m.BaseRuns, m.HeadRuns) {
				family = append(family, m)
			}
		}
		adjustFamily(family)
		if len(family) > most {
			most, need = len(family), RunsToStandAlone(len(family))
			if int(family[0].BaseN) >= need && int(family[0].HeadN) >= need {
				need = 0
			}
		}
	}
	if most == 0 {
		return
	}
	note := fmt.Sprintf("p-values adjusted within each group for its metrics, up to %d (Benjamini–Hochberg: with nothing changed, the chance of any significant metric of a group stays at %g)", most, Alpha)
	if need > 0 {
		note += fmt.Sprintf("; a metric that moves alone needs >= %d runs a side to be called significant", need)
	}
	c.Notes = append(c.Notes, note)
}

// adjustFamily adjusts the p-values of one family (Benjamini–Hochberg) and
// takes back a verdict its adjusted p no longer supports.
func adjustFamily(family []*MetricComparison) {
	n := len(family)
	if n == 0 {
		return
	}
	slices.SortStableFunc(family, func(a, b *MetricComparison) int { return cmp.Compare(*a.P, *b.P) })
	adj := make([]float64, n)
	running := 1.0
	for i := n - 1; i >= 0; i-- {
		running = min(running, float64(n)**family[i].P/float64(i+1))
		adj[i] = running
	}
	for i, m := range family {
		a := adj[i]
		m.PAdjusted = &a
		if a <= Alpha || !m.Significant {
			continue
		}
		// Significant alone, not as one of n: no verdict beyond "~".
		m.Significant = false
		m.Verdict = Unchanged
		m.Why = fmt.Sprintf("~ not significant among %d metrics (p=%.3f, adjusted %.3f n=%d+%d)", n, *m.P, a, m.BaseN, m.HeadN)
	}
}

// allTied reports whether every value of both sides is the same.
func allTied(a, b []float64) bool {
	for _, v := range slices.Concat(a, b) {
		if v != a[0] {
			return false
		}
	}
	return true
}

// RunsToStandAlone is the fewest runs a side for which one metric, moving
// alone among m compared, can be called significant after the adjustment:
// its smallest possible p must be <= Alpha/m.
func RunsToStandAlone(m int) int {
	for k := 1; k < 100; k++ {
		if minP(k, k) <= Alpha/float64(max(m, 1)) {
			return k
		}
	}
	return 100
}

// tooFewValues reports whether some run of either side has fewer values
// than the metric's minimum, with the fewest and most values any run had.
// One short run makes the whole comparison of that metric unfit: dropping
// only the short runs would compare different runs on the two sides.
func tooFewValues(rm runMetric, group string, sides ...[]*reports.Report) (lo, hi int64, short bool) {
	if rm.minCount == 0 {
		return 0, 0, false
	}
	lo = math.MaxInt64
	for _, reps := range sides {
		for _, r := range reps {
			g := r.Group(group)
			if g == nil {
				continue
			}
			n := rm.count(g)
			lo, hi = min(lo, n), max(hi, n)
			short = short || n < rm.minCount
		}
	}
	return lo, hi, short
}

// runValues returns each run's value of the metric, skipping runs without
// one.
func runValues(reps []*reports.Report, group string, rm runMetric) []float64 {
	var out []float64
	for _, r := range reps {
		g := r.Group(group)
		if g == nil {
			continue
		}
		if v, ok := rm.value(r, g); ok {
			out = append(out, v)
		}
	}
	return out
}

// minP is the smallest p-value the U test can give for samples of n1 and
// n2 values: the p of two samples with no overlap at all, as benchmath
// computes it.
func minP(n1, n2 int) float64 {
	a, b := make([]float64, n1), make([]float64, n2)
	for i := range a {
		a[i] = float64(i)
	}
	for i := range b {
		b[i] = float64(n1 + i)
	}
	return benchmath.AssumeNothing.Compare(benchmath.NewSample(a, thresholds), benchmath.NewSample(b, thresholds)).P
}

// RunsNeeded is the fewest runs a side for which the U test can reach
// significance at Alpha (4 at Alpha = 0.05).
func RunsNeeded() int {
	for n := 1; n < 100; n++ {
		if minP(n, n) <= Alpha {
			return n
		}
	}
	return 100
}

// sample returns a benchmath sample of a copy of vs (NewSample sorts its
// argument).
func sample(vs []float64) *benchmath.Sample {
	return benchmath.NewSample(slices.Clone(vs), thresholds)
}

func judgeRuns(rm runMetric, bv, hv []float64, tol float64) MetricComparison {
	m := MetricComparison{Metric: rm.key, Unit: rm.unit, BaseN: int64(len(bv)), HeadN: int64(len(hv)), BaseRuns: bv, HeadRuns: hv, mode: ModeRuns}
	spread := func(vs []float64) (center, lo, hi float64) {
		if len(vs) == 0 {
			return 0, 0, 0
		}
		return benchmath.AssumeNothing.Summary(sample(vs), 0.95).Center, slices.Min(vs), slices.Max(vs)
	}
	m.Base, m.BaseLow, m.BaseHigh = spread(bv)
	m.Head, m.HeadLow, m.HeadHigh = spread(hv)
	if rm.absolute {
		m.Change = m.Head - m.Base
	} else {
		m.Change = relChange(m.Base, m.Head)
	}
	n := fmt.Sprintf("n=%d+%d", len(bv), len(hv))
	if len(bv) == 0 || len(hv) == 0 || minP(len(bv), len(hv)) > Alpha {
		m.Verdict = TooFewRuns
		m.Why = fmt.Sprintf("too few runs: %s can never reach p<=%g; need >=%d runs a side", n, Alpha, RunsNeeded())
		return m
	}
	cmp := benchmath.AssumeNothing.Compare(sample(bv), sample(hv))
	p := cmp.P
	m.P = &p
	pn := fmt.Sprintf("p=%.3f %s", p, n)
	if p > Alpha {
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("~ not significant (%s)", pn)
		return m
	}
	m.Significant = true
	worse := m.Head > m.Base
	if !rm.higherWorse {
		worse = m.Head < m.Base
	}
	var beyond bool
	var tolText string
	if rm.absolute {
		beyond = math.Abs(m.Change) > tol
		tolText = "±" + format.TrimFloat(tol*100) + "pp"
	} else {
		beyond = math.Abs(m.Head-m.Base) > math.Abs(m.Base)*tol
		tolText = "±" + format.TrimFloat(tol*100) + "%"
	}
	switch {
	case beyond && worse:
		m.Verdict, m.Why = Regressed, fmt.Sprintf("%s beyond tolerance %s (%s)", m.FormatDelta(), tolText, pn)
	case beyond:
		m.Verdict, m.Why = Improved, fmt.Sprintf("%s beyond tolerance %s (%s)", m.FormatDelta(), tolText, pn)
	default:
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("significant (%s) but within tolerance %s", pn, tolText)
	}
	return m
}
