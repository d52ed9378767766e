package compare

import (
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/format"

	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// MetricVerdict is the outcome of comparing one metric between two runs.
type MetricVerdict string

// The verdicts of a comparison.
const (
	Improved  MetricVerdict = "improved"
	Unchanged MetricVerdict = "unchanged"
	Regressed MetricVerdict = "regressed"
	// TooFewRuns is a set comparison's metric with so few runs that the
	// U test could not reach significance even if every head run were
	// worse than every base run: never a regression.
	TooFewRuns MetricVerdict = "too_few_runs"
	// TooFewValues is a set comparison's quantile that some run took from
	// fewer than TailValues values beyond it (a p99 from under 1,000): a
	// run's maximum, not its tail. Not judged: never a regression.
	TooFewValues MetricVerdict = "too_few_values"
)

// Statistical settings of Reports.
const (
	// IntervalZ is the normal quantile of each run's two-sided 95%
	// uncertainty interval for a percentile. A percentile only moves when
	// the two runs' intervals do not overlap, which is stricter than a
	// two-sample test at 95% (about 99.4% for equal widths).
	IntervalZ = 1.96
	// TestZ is the critical value (two-sided 99%) of the two-proportion
	// test on error rates and of the Welch test on per-second throughput.
	TestZ = 2.576
	// MinSamples is the fewest values either run needs for a percentile
	// (or per-second windows for throughput, MinWindows) before a change
	// can count; with fewer the verdict is "unchanged within noise".
	MinSamples = 30
	MinWindows = 3
)

// Tolerance keys, in display order. Latency, stream-duration and recovery
// tolerances are relative increases, error_rate an absolute increase in
// percentage points, throughput a relative decrease. recovery (the p99 of
// the time from a broken stream to the next message) is judged in set
// comparisons only.
var ToleranceKeys = []string{"p50", "p90", "p99", "p99.9", "max", "duration.p50", "duration.p99", "error_rate", "throughput", "recovery", "rebalance_time", "spread.cv"}

// Tolerances maps a tolerance key to its value: a fraction (0.10 = 10%)
// for relative metrics, a fraction of streams (0.001 = 0.1 percentage
// points) for error_rate.
type Tolerances map[string]float64

// DefaultTolerances returns the documented defaults.
func DefaultTolerances() Tolerances {
	return Tolerances{
		"p50": 0.05, "p90": 0.10, "p99": 0.10, "p99.9": 0.20, "max": 0.50,
		"duration.p50": 0.05, "duration.p99": 0.10,
		"error_rate": 0.001, "throughput": 0.05, "recovery": 0.20,
		"rebalance_time": 0.25, "spread.cv": 0.25,
	}
}

// ParseTolerances reads KEY=VALUE settings ("p99=10%", "error_rate=0.1pp",
// "throughput=5%") over the defaults. Each spec may hold several settings
// separated by commas.
func ParseTolerances(specs []string) (Tolerances, error) {
	t := DefaultTolerances()
	for _, spec := range specs {
		for _, kv := range strings.Split(spec, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || v == "" {
				return nil, fmt.Errorf("tolerance %q: want KEY=VALUE such as p99=10%% (keys: %s)", kv, strings.Join(ToleranceKeys, ", "))
			}
			if _, known := t[k]; !known {
				return nil, fmt.Errorf("tolerance %q: unknown key %q (keys: %s)", kv, k, strings.Join(ToleranceKeys, ", "))
			}
			f, err := parseTolerance(k, v)
			if err != nil {
				return nil, fmt.Errorf("tolerance %q: %w", kv, err)
			}
			t[k] = f
		}
	}
	return t, nil
}

func parseTolerance(key, v string) (float64, error) {
	scale := 1.0
	switch {
	case strings.HasSuffix(v, "pp"):
		if key != "error_rate" {
			return 0, fmt.Errorf("percentage points (pp) apply to error_rate only; write a percentage such as 10%%")
		}
		v, scale = strings.TrimSuffix(v, "pp"), 0.01
	case strings.HasSuffix(v, "%"):
		v, scale = strings.TrimSuffix(v, "%"), 0.01
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("value must be a non-negative number or percentage (e.g. 10%%, 0.1, 0.1pp)")
	}
	f *= scale
	if key == "throughput" && f > 1 {
		return 0, fmt.Errorf("a throughput drop above 100%% is meaningless")
	}
	return f, nil
}

// String formats the tolerance for key as the user would write it.
func (t Tolerances) String(key string) string {
	v := t[key]
	switch key {
	case "error_rate":
		return "+" + format.TrimFloat(v*100) + "pp"
	case "throughput":
		return "-" + format.TrimFloat(v*100) + "%"
	}
	return "+" + format.TrimFloat(v*100) + "%"
}

// errNoReports is returned for an empty side.
var errNoReports = errors.New("no reports")

// ErrMismatch marks runs that are not like for like (a different scenario
// source, seed, duration, client scale, time compression or streambench
// version between or within the sides).
var ErrMismatch = errors.New("runs are not like for like")

// RunInfo identifies one side of a comparison.
type RunInfo struct {
	File        string    `json:"file,omitempty"`
	Start       time.Time `json:"start"`
	Seed        int64     `json:"seed"`
	Elapsed     float64   `json:"elapsed_seconds"`
	Streambench string    `json:"streambench"`
	Passed      bool      `json:"passed"`
	// Runs is how many runs the side holds (set comparisons); Elapsed is
	// then the first run's and Passed is true when every run passed.
	Runs int `json:"runs,omitempty"`
}

// Comparison modes.
const (
	// ModeSingle compares one report with one report: within-run
	// statistics plus the single-run noise floor.
	ModeSingle = "single"
	// ModeRuns compares sets of runs: a Mann–Whitney U test on each
	// run's statistic.
	ModeRuns = "runs"
)

// Comparison is two runs (or two sets of runs) of one scenario compared
// metric by metric.
type Comparison struct {
	Scenario string `json:"scenario"`
	// Mode is ModeSingle or ModeRuns.
	Mode       string            `json:"mode"`
	Base       RunInfo           `json:"base"`
	Head       RunInfo           `json:"head"`
	Tolerances Tolerances        `json:"tolerances"`
	Groups     []GroupComparison `json:"groups"`
	// Alpha is the significance level of the U test (ModeRuns).
	Alpha float64 `json:"alpha,omitempty"`
	// Mismatches are the differences between runs that
	// Options.AllowMismatch let through; without it they are an
	// error.
	Mismatches []string `json:"mismatches,omitempty"`
	// Notes are things a reader should know (groups present on one side
	// only, an interrupted run, different machines).
	Notes []string `json:"notes,omitempty"`

	// BaseReports and HeadReports are the reports compared, in run order
	// (for renderers that draw them; not part of the JSON).
	BaseReports []*reports.Report `json:"-"`
	HeadReports []*reports.Report `json:"-"`
}

// GroupComparison is one client group's metrics.
type GroupComparison struct {
	Name string `json:"name"`
	// Only is "base" or "head" when the group exists on one side only.
	Only    string             `json:"only,omitempty"`
	Metrics []MetricComparison `json:"metrics,omitempty"`
}

// MetricComparison is one metric before and after.
type MetricComparison struct {
	// Metric is the tolerance key: "p99", "duration.p50", "error_rate",
	// "throughput", "recovery".
	Metric string `json:"metric"`
	// Unit of Base, Head and the intervals: "ms", "ratio" or "msg/s".
	Unit string `json:"unit"`
	// Base and Head are the figures: each run's value (ModeSingle) or the
	// median of the runs' values (ModeRuns).
	Base float64 `json:"base"`
	Head float64 `json:"head"`
	// Change is (Head-Base)/Base (NaN when Base is 0); for error_rate it is
	// Head-Base.
	Change float64 `json:"-"`
	// BaseLow..BaseHigh and HeadLow..HeadHigh are each side's spread: the
	// run's 95% uncertainty interval (ModeSingle) or the lowest and highest
	// run (ModeRuns).
	BaseLow  float64 `json:"base_low"`
	BaseHigh float64 `json:"base_high"`
	HeadLow  float64 `json:"head_low"`
	HeadHigh float64 `json:"head_high"`
	// BaseN and HeadN are the sample counts behind the figures: values in
	// the histogram (ModeSingle) or runs (ModeRuns).
	BaseN int64 `json:"base_n"`
	HeadN int64 `json:"head_n"`
	// BaseRuns and HeadRuns are each run's value, in run order (ModeRuns).
	BaseRuns []float64 `json:"base_runs,omitempty"`
	HeadRuns []float64 `json:"head_runs,omitempty"`
	// P is the U test's p-value (ModeRuns; absent when too few runs).
	P *float64 `json:"p,omitempty"`
	// PAdjusted is P adjusted for the number of metrics compared
	// (Benjamini–Hochberg across every metric of the comparison that has a
	// p-value; ModeRuns): when nothing changed, the chance that any metric
	// is called significant stays at Alpha however many are compared.
	PAdjusted *float64 `json:"p_adjusted,omitempty"`
	// Significant is true when PAdjusted <= the comparison's Alpha.
	Significant bool `json:"significant,omitempty"`
	// Verdict and why.
	Verdict MetricVerdict `json:"verdict"`
	Why     string        `json:"why"`
	mode    string
}

// Regressed reports whether any metric regressed beyond tolerance.
func (c *Comparison) Regressed() bool { return c.Verdict() == Regressed }

// Verdict is regressed when any metric regressed, improved when some
// improved and none regressed, too few runs when every metric had too few
// runs to judge, unchanged otherwise.
func (c *Comparison) Verdict() MetricVerdict {
	out := Unchanged
	for _, g := range c.Groups {
		for _, m := range g.Metrics {
			switch m.Verdict {
			case Regressed:
				return Regressed
			case Improved:
				out = Improved
			}
		}
	}
	// Too few runs for every metric (a tail quantile may be short of
	// values as well): nothing could be judged.
	if n := c.Count(TooFewRuns); out == Unchanged && n > 0 && n+c.Count(TooFewValues) == c.Total() {
		return TooFewRuns
	}
	return out
}

// Total is the number of metrics compared.
func (c *Comparison) Total() int {
	n := 0
	for _, g := range c.Groups {
		n += len(g.Metrics)
	}
	return n
}

// Count returns how many metrics have verdict v.
func (c *Comparison) Count(v MetricVerdict) int {
	n := 0
	for _, g := range c.Groups {
		for _, m := range g.Metrics {
			if m.Verdict == v {
				n++
			}
		}
	}
	return n
}

func runInfo(r *reports.Report) RunInfo {
	return RunInfo{File: r.Scenario.File, Start: r.Start, Seed: r.Seed, Elapsed: r.Elapsed, Streambench: r.Environment.Streambench, Passed: r.Passed}
}

func sideInfo(s *reports.Side) RunInfo {
	ri := runInfo(s.Reports[0])
	ri.File = s.Path
	if s.Set {
		ri.Runs = len(s.Reports)
		for _, r := range s.Reports {
			ri.Passed = ri.Passed && r.Passed
		}
	}
	return ri
}

// Options tunes Sides.
type Options struct {
	// Tolerances over DefaultTolerances (nil: the defaults).
	Tolerances Tolerances
	// AllowMismatch compares runs that are not like for like, recording
	// the differences in Comparison.Mismatches instead of refusing.
	AllowMismatch bool
}

// Reports compares one report with another (ModeSingle). Reports that are
// not like for like (see reports.Identity) are refused with an error wrapping
// ErrMismatch; a histogram that does not decode is an error too.
func Reports(base, head *reports.Report, tol Tolerances) (*Comparison, error) {
	if base == nil || head == nil {
		return nil, fmt.Errorf("compare: missing report")
	}
	return Sides(reports.SingleSide(base.Scenario.File, base), reports.SingleSide(head.Scenario.File, head), Options{Tolerances: tol})
}

// Sides compares head against base, group by group. Two single
// reports are compared run against run (ModeSingle); when either side is a
// set, each metric is judged from the runs' values (ModeRuns). Sides that
// are not like for like, between or within themselves, are refused with an
// error wrapping ErrMismatch unless o.AllowMismatch is set.
func Sides(base, head *reports.Side, o Options) (*Comparison, error) {
	if base == nil || head == nil || len(base.Reports) == 0 || len(head.Reports) == 0 {
		return nil, fmt.Errorf("compare: %w on one side", errNoReports)
	}
	mm := reports.Mismatches(base, head)
	if len(mm) > 0 && !o.AllowMismatch {
		return nil, fmt.Errorf("%w: %s", ErrMismatch, strings.Join(mm, "; "))
	}
	tol := Tolerances{}
	for k, v := range DefaultTolerances() {
		tol[k] = v
	}
	for k, v := range o.Tolerances {
		tol[k] = v
	}
	c := &Comparison{Scenario: base.Reports[0].Scenario.Name, Base: sideInfo(base), Head: sideInfo(head), Tolerances: tol,
		Mismatches: mm, BaseReports: base.Reports, HeadReports: head.Reports}
	for _, side := range []struct {
		name string
		s    *reports.Side
	}{{"base", base}, {"head", head}} {
		for i, r := range side.s.Reports {
			if r.Interrupted {
				c.Notes = append(c.Notes, fmt.Sprintf("%s run %s was interrupted: its report is partial", side.name, side.s.Files[i]))
			}
		}
	}
	if bc, hc := base.Reports[0].Environment.CPUs, head.Reports[0].Environment.CPUs; bc != hc {
		c.Notes = append(c.Notes, fmt.Sprintf("machines differ: base had %d cores, head %d", bc, hc))
	}
	if !base.Set && !head.Set {
		c.Mode = ModeSingle
		if err := c.compareSingle(base.Reports[0], head.Reports[0], tol); err != nil {
			return nil, err
		}
		return c, nil
	}
	c.Mode, c.Alpha = ModeRuns, Alpha
	c.compareRuns(base.Reports, head.Reports, tol)
	return c, nil
}

func (c *Comparison) compareSingle(base, head *reports.Report, tol Tolerances) error {
	for _, bg := range base.Groups {
		hg := head.Group(bg.Name)
		if hg == nil {
			c.Groups = append(c.Groups, GroupComparison{Name: bg.Name, Only: "base"})
			c.Notes = append(c.Notes, fmt.Sprintf("group %s is in the base run only", bg.Name))
			continue
		}
		gc, err := compareGroup(base, head, &bg, hg, tol)
		if err != nil {
			return fmt.Errorf("compare group %s: %w", bg.Name, err)
		}
		c.Groups = append(c.Groups, gc)
	}
	for _, hg := range head.Groups {
		if base.Group(hg.Name) == nil {
			c.Groups = append(c.Groups, GroupComparison{Name: hg.Name, Only: "head"})
			c.Notes = append(c.Notes, fmt.Sprintf("group %s is in the head run only", hg.Name))
		}
	}
	c.compareBackends([]*reports.Report{base}, []*reports.Report{head}, tol, true)
	return nil
}

var quantileMetrics = []struct {
	key string
	q   float64 // 0..1; 1 is the maximum
}{{"p50", .50}, {"p90", .90}, {"p99", .99}, {"p99.9", .999}, {"max", 1}}

func compareGroup(base, head *reports.Report, bg, hg *reports.Group, tol Tolerances) (GroupComparison, error) {
	gc := GroupComparison{Name: bg.Name}
	bl, err := decodeOrEmpty(bg.Latency)
	if err != nil {
		return gc, fmt.Errorf("base latency: %w", err)
	}
	hl, err := decodeOrEmpty(hg.Latency)
	if err != nil {
		return gc, fmt.Errorf("head latency: %w", err)
	}
	bw, err := windowHistograms(base, bg.Name)
	if err != nil {
		return gc, fmt.Errorf("base latency: %w", err)
	}
	hw, err := windowHistograms(head, hg.Name)
	if err != nil {
		return gc, fmt.Errorf("head latency: %w", err)
	}
	for _, qm := range quantileMetrics {
		gc.Metrics = append(gc.Metrics, compareQuantile(qm.key, qm.q, bl, hl, bw, hw, tol[qm.key]))
	}
	bd, err := decodeOrEmpty(bg.StreamDuration)
	if err != nil {
		return gc, fmt.Errorf("base stream_duration: %w", err)
	}
	hd, err := decodeOrEmpty(hg.StreamDuration)
	if err != nil {
		return gc, fmt.Errorf("head stream_duration: %w", err)
	}
	for _, qm := range quantileMetrics[:3] {
		if qm.key == "p90" {
			continue
		}
		key := "duration." + qm.key
		gc.Metrics = append(gc.Metrics, compareQuantile(key, qm.q, bd, hd, nil, nil, tol[key]))
	}
	gc.Metrics = append(gc.Metrics, compareErrorRate(bg, hg, tol["error_rate"]))
	gc.Metrics = append(gc.Metrics, compareThroughput(base, head, bg, hg, tol["throughput"]))
	return gc, nil
}

func decodeOrEmpty(h reports.Histogram) (*hdrhistogram.Histogram, error) {
	if h.Count == 0 && h.HDR == "" {
		return nil, nil
	}
	return h.Decode()
}

// quantileInterval returns the value at quantile q (0..1, 1 = max) and the
// 95% interval of values whose ranks lie within IntervalZ standard
// deviations of the quantile's rank q·n (the binomial spread of an order
// statistic, at least one rank).
func quantileInterval(h *hdrhistogram.Histogram, q float64, windows []*hdrhistogram.Histogram) (v, lo, hi float64, n int64) {
	if h == nil || h.TotalCount() == 0 {
		return 0, 0, 0, 0
	}
	n = h.TotalCount()
	nf := float64(n)
	at := func(rank float64) float64 {
		rank = math.Min(math.Max(rank, 1), nf)
		if rank >= nf {
			return format.MSFromUS(float64(h.Max()))
		}
		return format.MSFromUS(float64(h.ValueAtPercentile(100 * rank / nf)))
	}
	sd := math.Max(math.Sqrt(nf*q*(1-q)), 1)
	r := q * nf
	v = at(r)
	if q >= 1 {
		v = format.MSFromUS(float64(h.Max()))
	}
	lo, hi = at(r-IntervalZ*sd), at(r+IntervalZ*sd)
	// Batch means: latencies within a run are correlated (one GC pause or
	// scheduling hiccup delays many messages at once), so the order
	// statistic's interval alone is far too narrow. The spread of the
	// quantile between the run's per-second windows measures the noise
	// that correlation adds; the wider of the two intervals counts.
	var per []float64
	for _, w := range windows {
		if w == nil || w.TotalCount() < MinSamples {
			continue
		}
		if q >= 1 {
			per = append(per, format.MSFromUS(float64(w.Max())))
		} else {
			per = append(per, format.MSFromUS(float64(w.ValueAtPercentile(100*q))))
		}
	}
	if len(per) >= MinWindows {
		_, variance := meanVar(per)
		half := IntervalZ * math.Sqrt(variance/float64(len(per)))
		lo, hi = math.Min(lo, v-half), math.Max(hi, v+half)
	}
	return v, math.Max(lo, 0), hi, n
}

// windowHistograms decodes a group's per-second latency histograms.
func windowHistograms(r *reports.Report, group string) ([]*hdrhistogram.Histogram, error) {
	var out []*hdrhistogram.Histogram
	for _, w := range r.Windows {
		if w.Group != group || w.Latency == nil || w.Latency.Count == 0 {
			continue
		}
		h, err := w.Latency.Decode()
		if err != nil {
			return nil, fmt.Errorf("window at %.1fs: %w", w.Offset, err)
		}
		out = append(out, h)
	}
	return out, nil
}

func compareQuantile(key string, q float64, bh, hh *hdrhistogram.Histogram, bw, hw []*hdrhistogram.Histogram, tol float64) MetricComparison {
	m := MetricComparison{Metric: key, Unit: "ms"}
	m.Base, m.BaseLow, m.BaseHigh, m.BaseN = quantileInterval(bh, q, bw)
	m.Head, m.HeadLow, m.HeadHigh, m.HeadN = quantileInterval(hh, q, hw)
	m.Change = relChange(m.Base, m.Head)
	switch {
	case m.BaseN < MinSamples || m.HeadN < MinSamples:
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within noise: too few samples (%d vs %d, need %d)", m.BaseN, m.HeadN, MinSamples)
	case m.Head > m.Base*(1+tol) && m.HeadLow > m.BaseHigh && beyondFloor(key, m.Base, m.Head):
		m.Verdict, m.Why = Regressed, fmt.Sprintf("%s > tolerance %s and the noise floor %s, outside noise (head ≥ %s, base ≤ %s)", fmtPct(m.Change), "+"+format.TrimFloat(tol*100)+"%", floorText(key), format.MS(m.HeadLow, 1), format.MS(m.BaseHigh, 1))
	case m.Head < m.Base*(1-tol) && m.HeadHigh < m.BaseLow && beyondFloor(key, m.Head, m.Base):
		m.Verdict, m.Why = Improved, fmt.Sprintf("%s beyond tolerance %s and the noise floor %s, outside noise (head ≤ %s, base ≥ %s)", fmtPct(m.Change), "-"+format.TrimFloat(tol*100)+"%", floorText(key), format.MS(m.HeadHigh, 1), format.MS(m.BaseLow, 1))
	case math.Abs(m.Head-m.Base) <= m.Base*tol:
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within tolerance ±%s%%", format.TrimFloat(tol*100))
	case !beyondFloor(key, m.Base, m.Head) && !beyondFloor(key, m.Head, m.Base):
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within the single-run noise floor %s (A/A runs; compare sets of runs to see less)", floorText(key))
	default:
		m.Verdict, m.Why = Unchanged, "within noise: the runs' 95% intervals overlap"
	}
	return m
}

// Single-run noise floors. Two runs of the same code, scenario and seed,
// one right after the other, differ far more than the sampling noise
// within a run (scheduling, GC and other load on the machine shift a whole
// run), so a single-run compare flags a metric only when it moved beyond
// its tolerance, outside both runs' intervals AND by more than the floor:
// the larger figure must exceed the smaller by more than a factor of
// 1 + floor, in either direction. Each figure is the largest A/A change
// that `go run ./bench/gate` measured on the project's 2-core machine on
// 2026-12-01 in three sessions (14:23, 14:29 and 14:35 UTC; smoke.yaml,
// 3 s runs; in each session the two correct-target runs A and A' of 24
// time-adjacent triples, compared both ways: 144 comparisons, any group),
// rounded up. The machine was shared with other engineers' builds and tests
// (1-minute load average 3 to 10). Largest changes: latency p50 +118,995%
// (×1,191, a run that stalled under load), stream duration p99 +482%,
// throughput +1,385% (one run received 1/15 of what the other did within
// the 3 s). docs/reports.md has the measurements.
const (
	// NoiseFloorLatency applies to the message latency quantiles p50 … max.
	NoiseFloorLatency = 1200.0
	// NoiseFloorDuration applies to the stream duration quantiles.
	NoiseFloorDuration = 5.0
	// NoiseFloorThroughput applies to messages received per second.
	NoiseFloorThroughput = 14.0
)

// NoiseFloor returns the single-run noise floor of a tolerance key (0 for
// error_rate, whose A/A runs of smoke.yaml never failed a stream: the z
// test and the tolerance decide it).
func NoiseFloor(key string) float64 {
	switch {
	case key == "throughput":
		return NoiseFloorThroughput
	case strings.HasPrefix(key, "duration."):
		return NoiseFloorDuration
	case key == "error_rate" || key == "recovery":
		return 0
	}
	return NoiseFloorLatency
}

// beyondFloor reports whether hi exceeds lo by more than the key's noise
// floor factor.
func beyondFloor(key string, lo, hi float64) bool {
	return hi > lo*(1+NoiseFloor(key))
}

func floorText(key string) string {
	return "×" + format.TrimFloat(1+NoiseFloor(key))
}

func relChange(base, head float64) float64 {
	if base == 0 {
		if head == 0 {
			return 0
		}
		return math.NaN()
	}
	return (head - base) / base
}

func fmtPct(f float64) string {
	if math.IsNaN(f) {
		return "new"
	}
	s := format.TrimFloat(math.Round(f*1000) / 10)
	if f >= 0 {
		s = "+" + s
	}
	return s + "%"
}

// wilson is the Wilson score interval of k successes in n trials.
func wilson(k, n uint64, z float64) (lo, hi float64) {
	if n == 0 {
		return 0, 0
	}
	nf := float64(n)
	p := float64(k) / nf
	d := 1 + z*z/nf
	c := (p + z*z/(2*nf)) / d
	h := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / d
	return math.Max(0, c-h), math.Min(1, c+h)
}

func compareErrorRate(bg, hg *reports.Group, tol float64) MetricComparison {
	m := MetricComparison{Metric: "error_rate", Unit: "ratio", BaseN: int64(bg.Streams.Ended), HeadN: int64(hg.Streams.Ended)}
	rate := func(g *reports.Group) float64 {
		if g.Streams.Ended == 0 {
			return 0
		}
		return float64(g.Streams.Failed) / float64(g.Streams.Ended)
	}
	m.Base, m.Head = rate(bg), rate(hg)
	m.Change = m.Head - m.Base
	m.BaseLow, m.BaseHigh = wilson(bg.Streams.Failed, bg.Streams.Ended, IntervalZ)
	m.HeadLow, m.HeadHigh = wilson(hg.Streams.Failed, hg.Streams.Ended, IntervalZ)
	if m.BaseN == 0 || m.HeadN == 0 {
		m.Verdict, m.Why = Unchanged, "within noise: no stream ended in one of the runs"
		return m
	}
	// Two-proportion z test with the pooled rate.
	n1, n2 := float64(m.BaseN), float64(m.HeadN)
	p := (float64(bg.Streams.Failed) + float64(hg.Streams.Failed)) / (n1 + n2)
	se := math.Sqrt(p * (1 - p) * (1/n1 + 1/n2))
	z := 0.0
	if se > 0 {
		z = (m.Head - m.Base) / se
	}
	pp := func(v float64) string { return format.TrimFloat(math.Round(v*1e4)/1e2) + "pp" }
	switch {
	case m.Change > tol && z > TestZ:
		m.Verdict, m.Why = Regressed, fmt.Sprintf("+%s > tolerance +%s, z = %.1f", pp(m.Change), pp(tol), z)
	case -m.Change > tol && z < -TestZ:
		m.Verdict, m.Why = Improved, fmt.Sprintf("-%s beyond tolerance, z = %.1f", pp(-m.Change), z)
	case math.Abs(m.Change) <= tol:
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within tolerance ±%s", pp(tol))
	default:
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within noise: z = %.1f (need |z| > %.2f)", z, TestZ)
	}
	return m
}

// windowRates returns a group's receive rate in each of its windows.
func windowRates(r *reports.Report, group string) []float64 {
	var out []float64
	for _, w := range r.Windows {
		if w.Group != group {
			continue
		}
		d := w.Span()
		if d <= 0 {
			continue
		}
		out = append(out, float64(w.Received)/d)
	}
	return out
}

func meanVar(xs []float64) (mean, variance float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		variance += (x - mean) * (x - mean)
	}
	if len(xs) > 1 {
		variance /= float64(len(xs) - 1)
	}
	return mean, variance
}

func compareThroughput(base, head *reports.Report, bg, hg *reports.Group, tol float64) MetricComparison {
	m := MetricComparison{Metric: "throughput", Unit: "msg/s"}
	// The steady rate, as in set comparisons: received / elapsed would
	// count the graceful stop, whose length varies from run to run.
	m.Base, _ = steadyRate(base, bg)
	m.Head, _ = steadyRate(head, hg)
	m.Change = relChange(m.Base, m.Head)
	br, hr := windowRates(base, bg.Name), windowRates(head, hg.Name)
	m.BaseN, m.HeadN = int64(len(br)), int64(len(hr))
	if len(br) < MinWindows || len(hr) < MinWindows {
		m.BaseLow, m.BaseHigh, m.HeadLow, m.HeadHigh = m.Base, m.Base, m.Head, m.Head
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within noise: too few per-second windows (%d vs %d, need %d)", len(br), len(hr), MinWindows)
		return m
	}
	bm, bv := meanVar(br)
	hm, hv := meanVar(hr)
	bse, hse := math.Sqrt(bv/float64(len(br))), math.Sqrt(hv/float64(len(hr)))
	m.BaseLow, m.BaseHigh = bm-IntervalZ*bse, bm+IntervalZ*bse
	m.HeadLow, m.HeadHigh = hm-IntervalZ*hse, hm+IntervalZ*hse
	se := math.Hypot(bse, hse)
	t := 0.0
	if se > 0 {
		t = (hm - bm) / se
	} else if hm != bm {
		t = math.Inf(1)
		if hm < bm {
			t = math.Inf(-1)
		}
	}
	switch {
	case m.Head < m.Base*(1-tol) && t < -TestZ && beyondFloor("throughput", m.Head, m.Base):
		m.Verdict, m.Why = Regressed, fmt.Sprintf("%s below tolerance -%s%% and the noise floor %s, Welch t = %.1f over per-second rates", fmtPct(m.Change), format.TrimFloat(tol*100), floorText("throughput"), t)
	case m.Head > m.Base*(1+tol) && t > TestZ && beyondFloor("throughput", m.Base, m.Head):
		m.Verdict, m.Why = Improved, fmt.Sprintf("%s beyond the noise floor %s, Welch t = %.1f over per-second rates", fmtPct(m.Change), floorText("throughput"), t)
	case math.Abs(m.Head-m.Base) <= m.Base*tol:
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within tolerance ±%s%%", format.TrimFloat(tol*100))
	case !beyondFloor("throughput", m.Base, m.Head) && !beyondFloor("throughput", m.Head, m.Base):
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within the single-run noise floor %s (A/A runs; compare sets of runs to see less)", floorText("throughput"))
	default:
		m.Verdict, m.Why = Unchanged, fmt.Sprintf("within noise: Welch t = %.1f (need |t| > %.2f)", t, TestZ)
	}
	return m
}

// FormatValue formats a metric value in its unit.
func (m MetricComparison) FormatValue(v float64, n int64) string {
	switch m.Unit {
	case "ms":
		return format.MS(v, n)
	case "ratio":
		return format.TrimFloat(math.Round(v*1e4)/1e2) + "%"
	case "msg/s":
		return format.Rate(v)
	}
	return format.TrimFloat(v)
}

// FormatBase formats the base figure; for a set comparison the median of
// the runs and their spread (the farther of the lowest and highest run
// from the median, benchstat style).
func (m MetricComparison) FormatBase() string {
	return m.formatSide(m.Base, m.BaseLow, m.BaseHigh, m.BaseN)
}

// FormatHead formats the head figure, as FormatBase.
func (m MetricComparison) FormatHead() string {
	return m.formatSide(m.Head, m.HeadLow, m.HeadHigh, m.HeadN)
}

func (m MetricComparison) formatSide(v, lo, hi float64, n int64) string {
	if m.mode != ModeRuns {
		return m.FormatValue(v, max(n, 1))
	}
	if n == 0 {
		return "-"
	}
	s := m.FormatValue(v, 1000)
	d := math.Max(hi-v, v-lo)
	switch {
	case m.Unit == "ratio":
		return s + " ±" + format.TrimFloat(math.Round(d*1e4)/1e2) + "pp"
	case v == 0:
		return s
	}
	return s + " ±" + format.TrimFloat(math.Round(100*d/math.Abs(v))) + "%"
}

// FormatDelta formats the change: relative for ms and msg/s, percentage
// points for error_rate; "~" for a set comparison's metric whose change
// is not significant.
func (m MetricComparison) FormatDelta() string {
	if m.mode == ModeRuns && !m.Significant {
		return "~"
	}
	if m.Unit == "ratio" {
		d := m.Change * 100
		s := format.TrimFloat(math.Round(d*100) / 100)
		if d >= 0 {
			s = "+" + s
		}
		return s + "pp"
	}
	return fmtPct(m.Change)
}

// SortedNotes returns the notes in a stable order.
func (c *Comparison) SortedNotes() []string {
	out := append([]string(nil), c.Notes...)
	sort.Strings(out)
	return out
}
