package reports_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/reporttest"
)

// shardsOf makes n shard reports of the fixture, each with the whole
// fixture's figures, started `late` apart.
func shardsOf(t *testing.T, n int, late time.Duration) []*reports.Report {
	t.Helper()
	var out []*reports.Report
	for i := range n {
		r := reporttest.Fixture(t, 1)
		r.Shard = &reports.ShardInfo{Index: i, Count: n, Set: "abc"}
		r.DrainSeconds = 0.5 + float64(i) // shard i drained in i+0.5 s
		r.Start = r.Start.Add(time.Duration(i) * late)
		r.End = r.End.Add(time.Duration(i) * late)
		out = append(out, r)
	}
	return out
}

func TestMergeSumsAndAligns(t *testing.T) {
	shards := shardsOf(t, 3, 400*time.Millisecond)
	one := reporttest.Fixture(t, 1)
	m, err := reports.Merge(shards, []string{"a.json", "b.json", "c.json"})
	if err != nil {
		t.Fatal(err)
	}
	subs, one0 := m.Group("subs"), one.Group("subs")
	if subs.Clients != 3*one0.Clients || subs.Messages.Received != 3*one0.Messages.Received || subs.Ends["status:Unavailable"] != 36 ||
		subs.Latency.Count != 3*one0.Latency.Count || subs.Outages.Opened != 36 {
		t.Errorf("merged subs: %+v", subs)
	}
	// Three copies of one distribution have its percentiles.
	if subs.Latency.P99MS != one0.Latency.P99MS || subs.Latency.P50MS != one0.Latency.P50MS {
		t.Errorf("p99 %v p50 %v, want %v %v", subs.Latency.P99MS, subs.Latency.P50MS, one0.Latency.P99MS, one0.Latency.P50MS)
	}
	if m.DrainSeconds != 2.5 {
		t.Errorf("merged drain %v, want the slowest shard's 2.5 s", m.DrainSeconds)
	}
	if len(m.Shards) != 3 || m.Shards[2].File != "c.json" || m.Elapsed < one.Elapsed+0.79 {
		t.Errorf("shards %+v, elapsed %v", m.Shards, m.Elapsed)
	}
	// Windows: shard 2 started 0.8 s late, so its second 1 is the run's
	// second 2 (rounded); every second's deltas add up.
	var recv, corrected uint64
	for _, w := range m.Windows {
		if w.Group == "subs" {
			recv += w.Received
		}
		if w.LatencyCorrected != nil {
			corrected += uint64(w.LatencyCorrected.Count)
		}
	}
	if corrected != 3*6*1000 {
		t.Errorf("windows carry %d corrected latencies, want %d", corrected, 3*6*1000)
	}
	if recv != 3*(5*4000+1500) {
		t.Errorf("windows carry %d received, want %d", recv, 3*(5*4000+1500))
	}
	// A merged window spans its parts' real bounds, shifted onto the
	// earliest start: the run's second 2 holds shard 0's 1..2, shard 1's
	// 1.4..2.4 and shard 2's 0.8..1.8.
	for _, w := range m.Windows {
		if w.Group == "subs" && math.Round(w.Offset) == 2 && (w.Start != 0.8 || w.Offset != 2.4) {
			t.Errorf("merged window of the second 2 spans %.2f..%.2f, want 0.8..2.4", w.Start, w.Offset)
		}
	}
	if len(m.Events) != len(one.Events) || m.Faults[0].Start != one.Faults[0].Start {
		t.Errorf("events/faults are not shard 0's: %+v %+v", m.Events, m.Faults)
	}
	if m.Leaks.Clean || m.Leaks.Goroutines.After != 3*14 || len(m.Leaks.Goroutines.Leaked) != 3 {
		t.Errorf("leaks: %+v", m.Leaks)
	}
	if len(m.Assertions) != 0 {
		t.Error("a merged report must be judged afresh, not carry the shards' verdicts")
	}
	if len(m.Warnings) != 0 {
		t.Errorf("warnings %v for shards within the skew bound", m.Warnings)
	}
}

func TestMergeWarnsOfALateShard(t *testing.T) {
	m, err := reports.Merge(shardsOf(t, 2, 3*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "shard 1") || !strings.Contains(m.Warnings[0], "3.00s late") {
		t.Errorf("warnings %v", m.Warnings)
	}
}

func TestMergeRefuses(t *testing.T) {
	names := []string{"s0.json", "s1.json", "s2.json"}
	for _, tc := range []struct {
		name   string
		change func([]*reports.Report) []*reports.Report
		want   []string
	}{
		{"not a shard", func(rs []*reports.Report) []*reports.Report { rs[1].Shard = nil; return rs }, []string{"s1.json is not a shard's report"}},
		{"other run", func(rs []*reports.Report) []*reports.Report { rs[2].Shard.Set = "zzz"; return rs }, []string{"s2.json", "run zzz", "s0.json"}},
		{"other count", func(rs []*reports.Report) []*reports.Report { rs[1].Shard.Count = 4; return rs }, []string{"s1.json", "shard count"}},
		{"twice", func(rs []*reports.Report) []*reports.Report { rs[2].Shard.Index = 0; return rs }, []string{"shard 0/3 given twice: s0.json and s2.json"}},
		{"missing", func(rs []*reports.Report) []*reports.Report { return rs[:2] }, []string{"missing shard(s) [2]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reports.Merge(tc.change(shardsOf(t, 3, 0)), names)
			if err == nil {
				t.Fatal("merged")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestMergeSumsBackends: each shard measured its own clients per backend;
// the merged report sums them second by second and recomputes the spread.
func TestMergeSumsBackends(t *testing.T) {
	shards := shardsOf(t, 2, 0)
	for i, r := range shards {
		ws := []reports.BackendWindow{
			{Offset: 1.01, Backend: "b0", Up: true, Active: 100, Opened: 100, Messages: 500},
			{Offset: 1.01, Backend: "b1", Up: true, Active: int64(50 + 50*i), Opened: 50, Messages: 250},
		}
		r.Backends = &reports.Backends{Balancing: "l4 round robin", Names: []string{"b0", "b1"}, Windows: ws, Spread: reports.SpreadOf(ws)}
	}
	m, err := reports.Merge(shards, []string{"a.json", "b.json"})
	if err != nil {
		t.Fatal(err)
	}
	b := m.Backends
	if b == nil || len(b.Windows) != 2 || b.Windows[0].Active != 200 || b.Windows[1].Active != 150 || b.Windows[0].Messages != 1000 {
		t.Fatalf("merged backends: %+v", b)
	}
	if len(b.Spread) != 1 || b.Spread[0].Total != 350 || b.Spread[0].Ratio == nil || *b.Spread[0].Ratio != 200.0/150 {
		t.Errorf("merged spread: %+v", b.Spread)
	}
	shards = shardsOf(t, 2, 0)
	if m, err := reports.Merge(shards, []string{"a.json", "b.json"}); err != nil || m.Backends != nil {
		t.Errorf("shards without backends merged into %+v, %v", m.Backends, err)
	}
}

func TestSpread(t *testing.T) {
	w := func(active ...int64) []reports.BackendWindow {
		var out []reports.BackendWindow
		for i, a := range active {
			out = append(out, reports.BackendWindow{Offset: 1, Backend: string(rune('a' + i)), Up: a >= 0, Active: max(a, 0)})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		in       []reports.BackendWindow
		ok       bool
		ratio    float64 // 0: absent
		cv, jain float64
	}{
		{"even", w(100, 100, 100), true, 1, 0, 1},
		{"all on one", w(300, 0, 0), true, 0, 1.4142, 1.0 / 3},
		{"uneven", w(150, 50), true, 3, 0.5, 0.8},
		{"out of service is not judged", w(100, 100, -1), true, 1, 0, 1},
		{"nothing open", w(0, 0), false, 0, 0, 0},
		{"none in service", w(-1, -1), false, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := reports.Spread(tc.in)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if (s.Ratio == nil) != (tc.ratio == 0) || (s.Ratio != nil && *s.Ratio != tc.ratio) {
				t.Errorf("ratio %v, want %v", s.Ratio, tc.ratio)
			}
			if d := s.CV - tc.cv; d > 1e-3 || d < -1e-3 {
				t.Errorf("cv %v, want %v", s.CV, tc.cv)
			}
			if d := s.Jain - tc.jain; d > 1e-3 || d < -1e-3 {
				t.Errorf("jain %v, want %v", s.Jain, tc.jain)
			}
		})
	}
}
