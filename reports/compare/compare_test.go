package compare

import (
	"errors"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/reporttest"
)

func metric(t *testing.T, c *Comparison, group, key string) MetricComparison {
	t.Helper()
	for _, g := range c.Groups {
		if g.Name != group {
			continue
		}
		for _, m := range g.Metrics {
			if m.Metric == key {
				return m
			}
		}
	}
	t.Fatalf("no metric %s.%s", group, key)
	return MetricComparison{}
}

// twoGroups is a report with one group "g" whose latency has n values
// around median µs scaled by scale, and failed of ended streams failing.
func oneGroup(t *testing.T, n int, scale float64, failed, ended uint64, rates []uint64) *reports.Report {
	t.Helper()
	r := &reports.Report{Schema: reports.Schema, Scenario: reports.ScenarioEcho{Name: "s", DurationSeconds: float64(len(rates))}, Elapsed: float64(len(rates))}
	var recv uint64
	for i, x := range rates {
		recv += x
		r.Windows = append(r.Windows, reports.Window{Start: float64(i), Offset: float64(i + 1), Group: "g", Received: x})
	}
	r.Groups = []reports.Group{{Name: "g", Latency: reporttest.Hist(t, n, 1000, scale), StreamDuration: reporttest.Hist(t, n, 50_000, 1),
		Streams: reports.StreamCounts{Opened: ended, Ended: ended, Failed: failed}, Messages: reports.MessageCounts{Received: recv}}}
	return r
}

var steady = []uint64{1000, 1010, 990, 1005, 995, 1000, 1002, 998}

func TestCompareVerdicts(t *testing.T) {
	dropped := make([]uint64, len(steady))
	collapsed := make([]uint64, len(steady)) // beyond the throughput noise floor
	for i, x := range steady {
		dropped[i] = x * 8 / 10
		collapsed[i] = uint64(float64(x) / (1 + NoiseFloorThroughput) * 0.9)
	}
	// beyond is a latency factor past the single-run noise floor.
	beyond := (1 + NoiseFloorLatency) * 1.2
	for _, tc := range []struct {
		name       string
		base, head func(t *testing.T) *reports.Report
		metric     string
		want       MetricVerdict
		why        string
	}{
		{"identical runs", func(t *testing.T) *reports.Report { return oneGroup(t, 10000, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 10000, 1, 0, 1000, steady) }, "p99", Unchanged, "within tolerance"},
		{"p50 +3% is within its 5% tolerance", func(t *testing.T) *reports.Report { return oneGroup(t, 100000, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 100000, 1.03, 0, 1000, steady) }, "p50", Unchanged, "within tolerance"},
		{"p99 +60% on many samples is within the single-run noise floor", func(t *testing.T) *reports.Report { return oneGroup(t, 10000, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 10000, 1.6, 0, 1000, steady) }, "p99", Unchanged, "within the single-run noise floor"},
		{"p99 beyond the noise floor on many samples regresses", func(t *testing.T) *reports.Report { return oneGroup(t, 10000, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 10000, beyond, 0, 1000, steady) }, "p99", Regressed, "and the noise floor"},
		{"p99 +60% on 20 samples is noise", func(t *testing.T) *reports.Report { return oneGroup(t, 20, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 20, 1.6, 0, 1000, steady) }, "p99", Unchanged, "too few samples"},
		{"p99.9 +30% on 300 samples is noise", func(t *testing.T) *reports.Report { return oneGroup(t, 300, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 300, 1.3, 0, 1000, steady) }, "p99.9", Unchanged, "within the single-run noise floor"},
		{"p90 halved is within the single-run noise floor", func(t *testing.T) *reports.Report { return oneGroup(t, 10000, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 10000, 0.5, 0, 1000, steady) }, "p90", Unchanged, "within the single-run noise floor"},
		{"p90 divided beyond the noise floor improves", func(t *testing.T) *reports.Report { return oneGroup(t, 10000, beyond, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 10000, 1, 0, 1000, steady) }, "p90", Improved, "outside noise"},
		{"error rate 0 → 5% regresses", func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 50, 1000, steady) }, "error_rate", Regressed, "z ="},
		{"error rate 0 → 0.1% is within tolerance", func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 1, 1000, steady) }, "error_rate", Unchanged, "within tolerance"},
		{"error rate 0 → 1 of 20 is noise", func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 0, 20, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 1, 20, steady) }, "error_rate", Unchanged, "within noise"},
		{"throughput -20% is within the single-run noise floor", func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 0, 1000, dropped) }, "throughput", Unchanged, "within the single-run noise floor"},
		{"throughput beyond the noise floor regresses", func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 0, 1000, steady) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 0, 1000, collapsed) }, "throughput", Regressed, "Welch"},
		{"throughput over two windows is noise", func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 0, 1000, steady[:2]) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 1000, 1, 0, 1000, dropped[:2]) }, "throughput", Unchanged, "too few per-second windows"},
		{"no messages at all", func(t *testing.T) *reports.Report { return oneGroup(t, 0, 1, 0, 0, nil) },
			func(t *testing.T) *reports.Report { return oneGroup(t, 0, 1, 0, 0, nil) }, "p99", Unchanged, "too few samples"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Reports(tc.base(t), tc.head(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			m := metric(t, c, "g", tc.metric)
			if m.Verdict != tc.want || !strings.Contains(m.Why, tc.why) {
				t.Fatalf("%s: %s (%s); want %s (%s...)\nbase %v [%v, %v] n=%d\nhead %v [%v, %v] n=%d",
					tc.metric, m.Verdict, m.Why, tc.want, tc.why, m.Base, m.BaseLow, m.BaseHigh, m.BaseN, m.Head, m.HeadLow, m.HeadHigh, m.HeadN)
			}
			if got := c.Regressed(); got != (c.Count(Regressed) > 0) {
				t.Fatalf("Regressed() = %v with %d regressed metrics", got, c.Count(Regressed))
			}
		})
	}
}

func TestCompareRefusesMismatch(t *testing.T) {
	a, b := reporttest.Fixture(t, 1), reporttest.Fixture(t, 1)
	b.Scenario.Name = "other"
	if _, err := Reports(a, b, nil); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("err = %v, want ErrMismatch naming both scenarios", err)
	}
	b = reporttest.Fixture(t, 1)
	b.Groups[0].Latency.HDR = "garbage"
	if _, err := Reports(a, b, nil); err == nil || !strings.Contains(err.Error(), "subs") {
		t.Fatalf("err = %v, want an error naming the group", err)
	}
}

func TestCompareGroupsOnOneSide(t *testing.T) {
	a, b := reporttest.Fixture(t, 1), reporttest.Fixture(t, 1)
	b.Groups = b.Groups[:1]
	b.Groups = append(b.Groups, reports.Group{Name: "new"})
	c, err := Reports(a, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	only := map[string]string{}
	for _, g := range c.Groups {
		only[g.Name] = g.Only
	}
	if only["pow"] != "base" || only["new"] != "head" || only["subs"] != "" || c.Regressed() {
		t.Fatalf("only = %v, regressed = %v", only, c.Regressed())
	}
}

func TestParseTolerances(t *testing.T) {
	for _, tc := range []struct {
		specs   []string
		key     string
		want    float64
		wantErr string
	}{
		{nil, "p99", 0.10, ""},
		{[]string{"p99=15%"}, "p99", 0.15, ""},
		{[]string{"p50=2%,p99.9=0.5"}, "p99.9", 0.5, ""},
		{[]string{"error_rate=0.5pp"}, "error_rate", 0.005, ""},
		{[]string{"error_rate=1%"}, "error_rate", 0.01, ""},
		{[]string{"throughput=10%", "max=1"}, "max", 1, ""},
		{[]string{"p42=1%"}, "", 0, "unknown key \"p42\" (keys: p50, p90"},
		{[]string{"p99"}, "", 0, "want KEY=VALUE"},
		{[]string{"p99=-1%"}, "", 0, "non-negative"},
		{[]string{"p99=fast"}, "", 0, "non-negative number"},
		{[]string{"p99=5pp"}, "", 0, "error_rate only"},
		{[]string{"throughput=200%"}, "", 0, "meaningless"},
	} {
		t.Run(strings.Join(tc.specs, " "), func(t *testing.T) {
			got, err := ParseTolerances(tc.specs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := got[tc.key] - tc.want; d > 1e-12 || d < -1e-12 {
				t.Fatalf("%s = %v, want %v", tc.key, got[tc.key], tc.want)
			}
		})
	}
}

// TestCompareBackends: a head run whose newcomer never got its share
// rebalanced slower than the base's: rebalance_time regresses; the same
// runs compared with themselves are unchanged.
func TestCompareBackends(t *testing.T) {
	base := reporttest.WithBackends(reporttest.Fixture(t, 1))
	head := reporttest.WithBackends(reporttest.Fixture(t, 1))
	for i := range head.Backends.Windows {
		if w := &head.Backends.Windows[i]; w.Backend == "b3" && w.Up {
			w.Active = 0
		}
	}
	head.Backends.Spread = reports.SpreadOf(head.Backends.Windows)
	for _, tc := range []struct {
		name       string
		base, head *reports.Report
		rebalance  MetricVerdict
		cv         MetricVerdict
	}{
		{"never balanced", base, head, Regressed, Regressed},
		{"the same run", base, base, Unchanged, Unchanged},
		{"faster", head, base, Improved, Improved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Reports(tc.base, tc.head, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []MetricComparison
			for _, g := range c.Groups {
				if g.Name == BackendsGroup {
					got = g.Metrics
				}
			}
			if len(got) != 2 || got[0].Metric != "rebalance_time" || got[1].Metric != "spread.cv" {
				t.Fatalf("backends metrics: %+v", got)
			}
			if got[0].Verdict != tc.rebalance || got[1].Verdict != tc.cv {
				t.Errorf("rebalance_time %s (%s: %v → %v), spread.cv %s (%s); want %s, %s",
					got[0].Verdict, got[0].Why, got[0].Base, got[0].Head, got[1].Verdict, got[1].Why, tc.rebalance, tc.cv)
			}
		})
	}
	c, err := Reports(reporttest.Fixture(t, 1), reporttest.Fixture(t, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range c.Groups {
		if g.Name == BackendsGroup {
			t.Error("a comparison of single targets has a backends entry")
		}
	}
}
