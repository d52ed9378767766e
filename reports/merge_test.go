package reports_test

import (
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
