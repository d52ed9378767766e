package compare

import (
	"fmt"
	"math"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/format"
)

// BackendsGroup names the comparison's entry for the figures of a target
// of several backends (report.backends). No client group can have this
// name (group names take no spaces).
const BackendsGroup = "backends (target)"

// backendMetric is one metric of a target of several backends: a run's
// value, and the least difference a single-run comparison counts (the
// per-second sampling's resolution for a time).
type backendMetric struct {
	rm    runMetric
	value func(r *reports.Report) (float64, bool)
	floor float64
}

// backendMetrics: how long the slowest join took to even out
// (reports.Report.Rebalance, in ms), and how uneven the streams were on
// average (reports.Report.MeanCV).
var backendMetrics = []backendMetric{
	{runMetric{key: "rebalance_time", unit: "ms", higherWorse: true}, func(r *reports.Report) (float64, bool) {
		s, ok := r.Rebalance()
		return s * 1000, ok
	}, 1000},
	{runMetric{key: "spread.cv", unit: "cv", higherWorse: true}, (*reports.Report).MeanCV, 0.05},
}

// compareBackends adds the backends entry when either side measured per
// backend: each metric judged run against run (one report a side) or from
// the runs' values (sets).
func (c *Comparison) compareBackends(base, head []*reports.Report, tol Tolerances, single bool) {
	gc := GroupComparison{Name: BackendsGroup}
	for _, bm := range backendMetrics {
		var bv, hv []float64
		for _, side := range []struct {
			reps []*reports.Report
			into *[]float64
		}{{base, &bv}, {head, &hv}} {
			for _, r := range side.reps {
				if v, ok := bm.value(r); ok {
					*side.into = append(*side.into, v)
				}
			}
		}
		if len(bv) == 0 && len(hv) == 0 {
			continue
		}
		if single {
			gc.Metrics = append(gc.Metrics, judgeSingleBackend(bm, bv, hv, tol[bm.rm.key]))
		} else {
			gc.Metrics = append(gc.Metrics, judgeRuns(bm.rm, bv, hv, tol[bm.rm.key]))
		}
	}
	if len(gc.Metrics) > 0 {
		c.Groups = append(c.Groups, gc)
	}
}

// judgeSingleBackend compares one run's figure with another's: a change
// counts beyond the tolerance and the floor both.
func judgeSingleBackend(bm backendMetric, bv, hv []float64, tol float64) MetricComparison {
	m := MetricComparison{Metric: bm.rm.key, Unit: bm.rm.unit, BaseN: int64(len(bv)), HeadN: int64(len(hv)), mode: ModeSingle}
	if len(bv) == 0 || len(hv) == 0 {
		m.Verdict, m.Why = Unchanged, "measured on one side only"
		return m
	}
	m.Base, m.Head = bv[0], hv[0]
	m.BaseLow, m.BaseHigh, m.HeadLow, m.HeadHigh = m.Base, m.Base, m.Head, m.Head
	m.Change = relChange(m.Base, m.Head)
	d := m.Head - m.Base
	floor := format.TrimFloat(bm.floor)
	if bm.rm.unit == "ms" {
		floor = format.MS(bm.floor, 1)
	}
	switch {
	case d > m.Base*tol && d > bm.floor:
		m.Verdict, m.Why = Regressed, fmt.Sprintf("%s beyond tolerance +%s%% and %s", fmtPct(m.Change), format.TrimFloat(tol*100), floor)
	case -d > m.Base*tol && -d > bm.floor:
		m.Verdict, m.Why = Improved, fmt.Sprintf("%s beyond tolerance and %s", fmtPct(m.Change), floor)
	case math.Abs(d) <= bm.floor:
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within %s", floor)
	default:
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within tolerance ±%s%%", format.TrimFloat(tol*100))
	}
	return m
}
