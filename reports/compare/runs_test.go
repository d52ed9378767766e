package compare

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/reporttest"
)

func TestCompareRunsVerdicts(t *testing.T) {
	aa := []float64{10, 10.4, 9.8, 10.1, 9.9}
	for _, tc := range []struct {
		name       string
		base, head []*reports.Report
		metric     string
		want       MetricVerdict
		why        string
		overall    MetricVerdict
	}{
		{"a real shift is flagged", reporttest.RunsOf(aa...), reporttest.RunsOf(13, 12.8, 13.5, 12.9, 13.1), "p99", Regressed, "p=0.008 n=5+5", Regressed},
		{"A/A is ~", reporttest.RunsOf(aa...), reporttest.RunsOf(10.2, 9.7, 10.3, 10.0, 9.95), "p99", Unchanged, "~ not significant", Unchanged},
		{"n=2 a side is too few runs, never a regression", reporttest.RunsOf(10, 10.1), reporttest.RunsOf(30, 31), "p99", TooFewRuns, "too few runs: n=2+2 can never reach p<=0.05; need >=4 runs a side", TooFewRuns},
		{"n=3 a side is too few runs", reporttest.RunsOf(10, 10.1, 10.2), reporttest.RunsOf(30, 31, 32), "p50", TooFewRuns, "need >=4 runs a side", TooFewRuns},
		{"n=4 a side can reach significance", reporttest.RunsOf(10, 10.1, 10.2, 9.9), reporttest.RunsOf(30, 31, 32, 29), "p50", Regressed, "p=0.029 n=4+4", Regressed},
		{"1 vs 5 is too few runs", reporttest.RunsOf(10), reporttest.RunsOf(30, 31, 32, 29, 33), "p99.9", TooFewRuns, "n=1+5", TooFewRuns},
		{"significant but within tolerance", reporttest.RunsOf(10, 10.01, 10.02, 10.03, 10.04), reporttest.RunsOf(10.3, 10.31, 10.32, 10.33, 10.34), "p99", Unchanged, "but within tolerance ±10%", Unchanged},
		{"an improvement", reporttest.RunsOf(aa...), reporttest.RunsOf(5, 5.1, 4.9, 5.2, 5.05), "p90", Improved, "beyond tolerance", Improved},
		{"stream duration shift", reporttest.RunsOf(aa...), reporttest.RunsOf(12, 12.2, 12.1, 11.9, 12.3), "duration.p50", Regressed, "+21% beyond tolerance ±5%", Regressed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Sides(reporttest.SideOf("base", tc.base), reporttest.SideOf("head", tc.head), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Mode != ModeRuns {
				t.Fatalf("mode %q, want %q", c.Mode, ModeRuns)
			}
			m := metric(t, c, "g", tc.metric)
			if m.Verdict != tc.want || !strings.Contains(m.Why, tc.why) {
				t.Fatalf("%s: %s (%s); want %s (%s…)\nbase %v head %v", tc.metric, m.Verdict, m.Why, tc.want, tc.why, m.BaseRuns, m.HeadRuns)
			}
			if got := c.Verdict(); got != tc.overall {
				t.Fatalf("overall %s, want %s", got, tc.overall)
			}
			if c.Regressed() != (tc.overall == Regressed) {
				t.Fatalf("Regressed() = %v", c.Regressed())
			}
			if (m.P != nil) != (m.Verdict != TooFewRuns) {
				t.Fatalf("p = %v with verdict %s", m.P, m.Verdict)
			}
		})
	}
}

// varied makes one run per rate whose latencies vary from run to run
// (interleaved, so the two sides' latencies do not differ): a comparison
// of such runs tests every latency metric too.
func varied(rates []float64) []*reports.Report {
	var out []*reports.Report
	for i, r := range rates {
		out = append(out, reporttest.SetRun(10+0.1*float64(i%3)-0.05*float64(i%2), 0, r))
	}
	return out
}

func TestCompareRunsErrorRateAndThroughput(t *testing.T) {
	mk := func(failed []uint64, rates []float64) []*reports.Report {
		var out []*reports.Report
		for i := range failed {
			out = append(out, reporttest.SetRun(10, failed[i], rates[i]))
		}
		return out
	}
	// A metric that moves alone among the 8 compared needs 6 runs a side
	// to stand out after the adjustment (RunsToStandAlone); 5 cannot.
	steadyRates := []float64{1000, 1010, 990, 1005, 995, 1002}
	zeros := make([]uint64, 6)
	for _, tc := range []struct {
		name       string
		base, head []*reports.Report
		metric     string
		want       MetricVerdict
		why        string
	}{
		{"throughput -20% regresses", mk(zeros, steadyRates), mk(zeros, []float64{800, 805, 795, 810, 790, 802}), "throughput", Regressed, "-20"},
		{"throughput +20% improves", mk(zeros, steadyRates), mk(zeros, []float64{1200, 1205, 1195, 1210, 1190, 1202}), "throughput", Improved, "+20"},
		{"errors 0 -> 5% regress", mk(zeros, steadyRates), mk([]uint64{50, 49, 51, 52, 48, 50}, steadyRates), "error_rate", Regressed, "+5pp"},
		{"no errors either side is ~", mk(zeros, steadyRates), mk(zeros, steadyRates), "error_rate", Unchanged, "~"},
		{"errors 0 -> 0.05% is within 0.1pp", mk(zeros, steadyRates), mk([]uint64{1, 1, 1, 1, 1, 1}, steadyRates), "error_rate", Unchanged, "within tolerance ±0.1pp"},
		{"a lone shift with 5 runs a side is ~", varied(steadyRates[:5]), varied([]float64{800, 805, 795, 810, 790}), "throughput", Unchanged, "~ not significant among 7 metrics (p=0.008, adjusted 0.056 n=5+5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Sides(reporttest.SideOf("base", tc.base), reporttest.SideOf("head", tc.head), Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := metric(t, c, "g", tc.metric)
			if m.Verdict != tc.want || !strings.Contains(m.Why, tc.why) {
				t.Fatalf("%s: %s (%s); want %s (%s…)", tc.metric, m.Verdict, m.Why, tc.want, tc.why)
			}
		})
	}
}

// TestCompareRunsRecoveryWherePresent: recovery is judged when the runs
// measured outages, and left out otherwise.
func TestCompareRunsRecoveryWherePresent(t *testing.T) {
	with := func(lat float64) *reports.Report {
		r := reporttest.SetRun(10, 0, 1000)
		r.Groups[0].Recovery = reports.Histogram{Count: 20, P99MS: lat}
		return r
	}
	var b, h []*reports.Report
	for i := range 6 { // recovery moves alone: 6 runs a side (RunsToStandAlone)
		b, h = append(b, with(100+float64(i))), append(h, with(300+float64(i)))
	}
	c, err := Sides(reporttest.SideOf("base", b), reporttest.SideOf("head", h), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m := metric(t, c, "g", "recovery"); m.Verdict != Regressed {
		t.Fatalf("recovery: %s (%s), want regressed", m.Verdict, m.Why)
	}
	c, err = Sides(reporttest.SideOf("base", reporttest.RunsOf(1, 2, 3, 4, 5)), reporttest.SideOf("head", reporttest.RunsOf(1, 2, 3, 4, 5)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Groups[0].Metrics {
		if m.Metric == "recovery" {
			t.Fatalf("recovery judged without outages: %+v", m)
		}
	}
}

func TestCompareSidesRefusesMismatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(r *reports.Report)
		inBase bool // change the second base run instead of the head
		want   string
	}{
		{"seed", func(r *reports.Report) { r.Seed = 2 }, false, "base vs head: seed: 1 vs 2 (base/run-1/report.json vs head/run-1/report.json)"},
		{"duration", func(r *reports.Report) { r.Scenario.DurationSeconds = 10 }, false, "duration: 3s vs 10s"},
		{"scenario source", func(r *reports.Report) { r.Scenario.Source += "# edited\n" }, false, "scenario source: sha256"},
		{"client scale", func(r *reports.Report) { r.Scenario.ClientScale = 0.5 }, false, "client scale: 1 vs 0.5"},
		{"version", func(r *reports.Report) { r.Environment.Streambench = "v0.3.0" }, false, `streambench version: "devel" vs "v0.3.0"`},
		{"scenario name", func(r *reports.Report) { r.Scenario.Name = "other" }, false, `scenario: "s" vs "other"`},
		{"within a set", func(r *reports.Report) { r.Seed = 7 }, true, "within base: seed: 1 vs 7 (base/run-1/report.json vs base/run-2/report.json)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, head := reporttest.RunsOf(10, 10, 10, 10, 10), reporttest.RunsOf(10, 10, 10, 10, 10)
			if tc.inBase {
				tc.change(base[1])
			} else {
				tc.change(head[0])
			}
			_, err := Sides(reporttest.SideOf("base", base), reporttest.SideOf("head", head), Options{})
			if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrMismatch with %q", err, tc.want)
			}
			c, err := Sides(reporttest.SideOf("base", base), reporttest.SideOf("head", head), Options{AllowMismatch: true})
			if err != nil {
				t.Fatalf("with AllowMismatch: %v", err)
			}
			if len(c.Mismatches) == 0 || !strings.Contains(strings.Join(c.Mismatches, "\n"), tc.want) {
				t.Fatalf("mismatches %q, want one with %q", c.Mismatches, tc.want)
			}
		})
	}
	// Like for like: no error, nothing recorded.
	c, err := Sides(reporttest.SideOf("base", reporttest.RunsOf(10, 10, 10, 10)), reporttest.SideOf("head", reporttest.RunsOf(10, 10, 10, 10)), Options{})
	if err != nil || len(c.Mismatches) != 0 {
		t.Fatalf("like for like: err %v, mismatches %q", err, c.Mismatches)
	}
}

// TestRunsNeeded: benchmath's U test reaches 0.05 with 4 runs a side, not 3.
func TestRunsNeeded(t *testing.T) {
	if n := RunsNeeded(); n != 4 {
		t.Fatalf("RunsNeeded() = %d, want 4", n)
	}
	if p := minP(3, 3); p <= Alpha {
		t.Fatalf("minP(3,3) = %v, want > %v", p, Alpha)
	}
}

// TestSteadyRate: throughput is the rate over the scenario's duration:
// the graceful stop after the duration and other groups do not count.
func TestSteadyRate(t *testing.T) {
	r := &reports.Report{Scenario: reports.ScenarioEcho{DurationSeconds: 3}}
	for i, n := range []uint64{500, 1000, 1000, 100, 100, 100} {
		r.Windows = append(r.Windows, reports.Window{Start: float64(i), Offset: float64(i + 1), Group: "g", Received: n})
		r.Windows = append(r.Windows, reports.Window{Start: float64(i), Offset: float64(i + 1), Group: "other", Received: 7})
	}
	got, ok := steadyRate(r, &reports.Group{Name: "g"})
	if !ok || got != 2500.0/3 {
		t.Fatalf("steadyRate = %v, %v; want 2500/3", got, ok)
	}
	if _, ok := steadyRate(&reports.Report{}, &reports.Group{Name: "g"}); ok {
		t.Fatal("steadyRate without windows claims a value")
	}
}

// TestCompareRunsNeedsValuesBeyondAQuantile: a run's tail quantile is
// compared only when the run has TailValues values beyond it. With 800
// values a run's p99.9 is its maximum and its p99 its 8th largest: even a
// real shift there is "too few values", never a regression, while p50 and
// p90 of the same runs are judged.
func TestCompareRunsNeedsValuesBeyondAQuantile(t *testing.T) {
	withCount := func(n int64, reps []*reports.Report) []*reports.Report {
		for _, r := range reps {
			r.Groups[0].Latency.Count = n
		}
		return reps
	}
	base := withCount(800, reporttest.RunsOf(10, 10.4, 9.8, 10.1, 9.9))
	head := withCount(800, reporttest.RunsOf(13, 12.8, 13.5, 12.9, 13.1))
	c, err := Sides(reporttest.SideOf("base", base), reporttest.SideOf("head", head), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		metric string
		want   MetricVerdict
		why    string
	}{
		{"p50", Regressed, "p=0.008"},
		{"p90", Regressed, "p=0.008"},
		{"p99", TooFewValues, "too few values: a run's p99 needs >= 1000 values (10 beyond it) to be compared; these runs had 800 to 800"},
		{"p99.9", TooFewValues, "needs >= 10000 values"},
	} {
		if m := metric(t, c, "g", tc.metric); m.Verdict != tc.want || !strings.Contains(m.Why, tc.why) {
			t.Errorf("%s: %s (%s), want %s (%s)", tc.metric, m.Verdict, m.Why, tc.want, tc.why)
		}
	}
	// One short run on either side is enough to hold the quantile back.
	base = reporttest.RunsOf(10, 10.4, 9.8, 10.1, 9.9)
	head = reporttest.RunsOf(13, 12.8, 13.5, 12.9, 13.1)
	head[2].Groups[0].Latency.Count = 999
	c, err = Sides(reporttest.SideOf("base", base), reporttest.SideOf("head", head), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m := metric(t, c, "g", "p99"); m.Verdict != TooFewValues || !strings.Contains(m.Why, "had 999 to 10000") {
		t.Errorf("p99 with one run of 999 values: %s (%s)", m.Verdict, m.Why)
	}
	if m := metric(t, c, "g", "p50"); m.Verdict != Regressed {
		t.Errorf("p50: %s (%s), want regressed", m.Verdict, m.Why)
	}
	if c.Verdict() != Regressed || c.Count(TooFewValues) != 2 {
		t.Errorf("verdict %s with %d too-few-values quantiles, want regressed with 2", c.Verdict(), c.Count(TooFewValues))
	}
	if got := quantileMin(0.999); got != 10000 {
		t.Errorf("quantileMin(0.999) = %d, want 10000", got)
	}
}

// noisyRun is a run of four groups whose latency and throughput carry
// run-to-run noise (5%, independent per metric), and whose group "g0" is
// slower by slow (0.2: 20% slower latency and stream duration, 20% less
// throughput).
func noisyRun(rng *rand.Rand, slow float64) *reports.Report {
	r := &reports.Report{Schema: reports.Schema, Seed: 1, Elapsed: 4.5,
		Scenario:    reports.ScenarioEcho{Name: "s", DurationSeconds: 3, Source: "name: s\nduration: 3s\n"},
		Environment: reports.Environment{Streambench: "devel", CPUs: 2}}
	noise := func() float64 { return 1 + 0.05*rng.NormFloat64() }
	for gi := range 4 {
		name := fmt.Sprintf("g%d", gi)
		f, rate := 1.0, 1000.0
		if gi == 0 {
			f, rate = 1+slow, 1000*(1-slow)
		}
		h := func(v float64) reports.Histogram {
			return reports.Histogram{Unit: reports.UnitMicroseconds, Count: 10000, P50MS: v * noise(), P90MS: 1.5 * v * noise(), P99MS: 2 * v * noise(), P999MS: 3 * v * noise(), MaxMS: 4 * v}
		}
		for i := 1; i <= 3; i++ {
			r.Windows = append(r.Windows, reports.Window{Start: float64(i - 1), Offset: float64(i), Group: name, Received: uint64(rate * noise())})
		}
		r.Groups = append(r.Groups, reports.Group{Name: name, Latency: h(10 * f), StreamDuration: h(1000 * f),
			Streams: reports.StreamCounts{Opened: 1000, Ended: 1000}, Messages: reports.MessageCounts{Received: uint64(rate * 3)}})
	}
	return r
}

// TestAdjustedComparisonsAAAndAB: 20 A/A comparisons of 5 noisy runs a
// side (four groups of 8 metrics) report no regression, where the
// unadjusted U tests flag some metric in most of them; a 20% slowdown of
// one group is still caught in at least 19 of 20. (bench/gate measures the
// same on real runs: docs/reports.md.)
func TestAdjustedComparisonsAAAndAB(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	side := func(slow float64) []*reports.Report {
		var out []*reports.Report
		for range 5 {
			out = append(out, noisyRun(rng, slow))
		}
		return out
	}
	var aaRegressed, aaRaw, abCaught int
	for range 20 {
		c, err := Sides(reporttest.SideOf("base", side(0)), reporttest.SideOf("head", side(0)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Regressed() {
			aaRegressed++
		}
		raw := false
		for _, g := range c.Groups {
			for _, m := range g.Metrics {
				raw = raw || (m.P != nil && *m.P <= Alpha)
			}
		}
		if raw {
			aaRaw++
		}
		c, err = Sides(reporttest.SideOf("base", side(0)), reporttest.SideOf("head", side(0.2)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Regressed() {
			abCaught++
		}
	}
	t.Logf("A/A: %d of 20 regressed (unadjusted, some metric p<=%.2f in %d); A/B 20%% slower: %d of 20 caught", aaRegressed, Alpha, aaRaw, abCaught)
	if aaRegressed != 0 {
		t.Errorf("A/A: %d of 20 comparisons regressed, want 0", aaRegressed)
	}
	if abCaught < 19 {
		t.Errorf("a 20%% slowdown caught in %d of 20, want >= 19", abCaught)
	}
	if aaRaw < 5 {
		t.Errorf("the unadjusted U tests flagged some metric in only %d of 20 A/A comparisons: the test shows no need for the adjustment", aaRaw)
	}
}
