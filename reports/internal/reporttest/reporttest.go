// Package reporttest holds the fixtures the report packages' tests share:
// a hand-made report with every section filled, deterministic histograms,
// small sets of runs, and golden files rewritten under -update.
package reporttest

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/streambench/streambench/reports"
)

// update is the -update flag of every test binary that imports this package.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Golden compares got with testdata/name (in the test's package folder), or
// rewrites it under -update.
func Golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports/render -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (go test ./reports/render -update rewrites it after a deliberate change); first difference at byte %d:\n got: %q\nwant: %q",
			name, firstDiff(got, want), excerpt(got, firstDiff(got, want)), excerpt(want, firstDiff(got, want)))
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func excerpt(b []byte, at int) string {
	lo, hi := max(at-60, 0), min(at+60, len(b))
	return string(b[lo:hi])
}

// Hist builds a histogram of n deterministic values (µs): a log-normal-ish
// body around median µs with a tail, scaled by scale.
func Hist(t testing.TB, n int, median float64, scale float64) reports.Histogram {
	t.Helper()
	h := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	for i := 0; i < n; i++ {
		// Quantile of the i-th value, mapped through an exponential tail.
		q := (float64(i) + 0.5) / float64(n)
		v := median * math.Exp(1.2*math.Log(q/(1-q))/2.5) * scale
		if err := h.RecordValue(int64(math.Max(1, v))); err != nil {
			t.Fatal(err)
		}
	}
	out, err := reports.FromHDR(h, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Fixture is a small hand-made report with every section filled: two
// groups, windows, a fault with its ends, server figures, leak evidence,
// one failed assertion. scale multiplies the "subs" latency (for compare).
func Fixture(t testing.TB, scale float64) *reports.Report {
	t.Helper()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &reports.Report{
		Schema: reports.Schema,
		Scenario: reports.ScenarioEcho{Name: "fixture", Description: "A hand-made report for golden tests.", File: "scenarios/fixture.yaml",
			DurationSeconds: 6, GracefulStopSeconds: 1, Source: "name: fixture\nseed: 7\nduration: 6s\ngroups:\n  - name: subs\n    rpc: Longlived/Subscribe\n    clients: 40\n"},
		Seed: 7, Start: start, End: start.Add(6500 * time.Millisecond), Elapsed: 6.5,
		Target: "builtin", Link: "bufconn",
		Environment: reports.Environment{Streambench: "v0.0.0-test", GoVersion: "go1.26.0", GRPCVersion: "1.85.0", OS: "linux", Arch: "amd64", CPUs: 8, GOMAXPROCS: 8, Hostname: "ci"},
	}
	subs := reports.Group{Name: "subs", RPC: "Longlived/Subscribe", Clients: 40, Connections: 2, Read: "delay 2ms",
		Streams:  reports.StreamCounts{Opened: 52, Ended: 52, Failed: 12},
		Messages: reports.MessageCounts{Received: 24000},
		Ends:     map[string]uint64{"complete": 40, "status:Unavailable": 12}, Violations: map[string]uint64{},
		Latency: Hist(t, 24000, 2000, scale), StreamDuration: Hist(t, 52, 5_000_000, 1), Recovery: Hist(t, 11, 80_000, 1),
		RecoveryFirst: Hist(t, 12, 30_000, 1),
		Freshness:     &reports.Freshness{BoundMS: 100, BaselineMS: 6.3, Factor: 3, FloorMS: 100},
		Outages:       reports.Outages{Opened: 12, Resumed: 12, Recovered: 11, Unrecovered: 1},
		Samples:       []reports.Sample{{End: "status:Unavailable", Detail: "rpc error: code = Unavailable desc = connection reset", At: start.Add(2 * time.Second)}},
	}
	pow := reports.Group{Name: "pow", RPC: "Math/Pow", Clients: 10, Connections: 1,
		Streams:  reports.StreamCounts{Opened: 300, Ended: 300},
		Messages: reports.MessageCounts{Sent: 300, Received: 6000},
		Ends:     map[string]uint64{"complete": 300}, Violations: map[string]uint64{},
		Latency: Hist(t, 6000, 400, 1), StreamDuration: Hist(t, 300, 100_000, 1), Recovery: Hist(t, 0, 1, 1),
		LatencyCorrected: Hist(t, 6000, 3000, 1),
	}
	r.Groups = []reports.Group{subs, pow}
	for s := 1; s <= 6; s++ {
		off := float64(s)
		failed := uint64(0)
		subsRecv := uint64(4000)
		if s == 3 {
			failed, subsRecv = 12, 1500
		}
		wl := Hist(t, 200, 1800+float64(s)*100, scale)
		// pow runs behind its schedule more each second.
		wc := Hist(t, 1000, 1000*float64(s), scale)
		r.Windows = append(r.Windows,
			reports.Window{Start: off - 1, Offset: off, Group: "subs", Started: map[bool]uint64{true: 40, false: 0}[s == 1] + failed, Ended: failed, Failed: failed, Received: subsRecv, Latency: &wl,
				Ends: map[string]uint64{"status:Unavailable": failed}},
			reports.Window{Start: off - 1, Offset: off, Group: "pow", Started: 50, Ended: 50, Sent: 50, Received: 1000, Ends: map[string]uint64{"complete": 50}, LatencyCorrected: &wc})
	}
	r.Events = []reports.Event{{Offset: 2.5, Kind: "fault_start", Fault: "faults[0] sever"}, {Offset: 3.5, Kind: "fault_end", Fault: "faults[0] sever"}}
	r.Faults = []reports.FaultWindow{
		{Name: "faults[0] sever", Kind: "sever", Start: 2.5, End: 3.5, Scope: "group subs", Ends: map[string]uint64{"status:Unavailable": 12, "complete": 50}, Overlaps: []string{"faults[1] latency #1"}},
		{Name: "faults[1] latency #1", Kind: "latency", Start: 4.5, End: 5.2, Scope: "all", Ends: map[string]uint64{"complete": 80}, Overlaps: []string{"faults[0] sever"}},
	}
	r.Server = &reports.ServerStats{Published: 600, FeedRate: 100, SendBlocked: Hist(t, 500, 300, 1), CutOff: 1, MaxQueue: 37,
		Ends: map[string]uint64{"OK": 340, "Unavailable": 12}}
	r.Leaks = &reports.Leaks{Clean: false, SettleSeconds: 2,
		Goroutines: reports.GoroutineLeaks{Baseline: 12, After: 14, Leaked: []reports.LeakedFunction{{Function: "example.com/x.(*feed).loop", Count: 2, Stack: "goroutine 42 [select]:\nexample.com/x.(*feed).loop()\n\tx.go:10"}}},
		FDs:        reports.FDLeaks{Baseline: 9, After: 9},
		Heap:       reports.HeapCheck{BaselineBytes: 4 << 20, AfterBytes: 5 << 20, BoundBytes: 64 << 20},
		Server:     &reports.ServerLeaks{Source: "registry"},
	}
	r.Assertions = []reports.Verdict{
		{Name: "eof: clean", Expected: "0 premature EOFs", Actual: "0 premature EOFs", Pass: true},
		{Name: "subs.latency.p99 < 10ms", Expected: "subs.latency.p99 < 10ms", Actual: "31.2ms", Pass: false, Detail: "subs: p99 31.2ms <script>x</script>"},
		{Name: "recovery.p99 < 2s", Expected: "recovery.p99 < 2s", Actual: "120ms", Pass: true},
	}
	return r
}

// SetRun is one run's report with group "g": latency quantiles lat ms (p50)
// and multiples of it, failed of 1000 streams failing, rate msg/s over 3 s.
func SetRun(lat float64, failed uint64, rate float64) *reports.Report {
	h := func(v float64) reports.Histogram {
		return reports.Histogram{Unit: reports.UnitMicroseconds, Count: 10000, P50MS: v, P90MS: 1.5 * v, P99MS: 2 * v, P999MS: 3 * v, MaxMS: 4 * v}
	}
	var windows []reports.Window
	for i := 1; i <= 3; i++ {
		windows = append(windows, reports.Window{Start: float64(i - 1), Offset: float64(i), Group: "g", Received: uint64(rate)})
	}
	windows = append(windows, reports.Window{Start: 3, Offset: 4.5, Group: "g", Received: 1}) // graceful stop: not counted
	return &reports.Report{Schema: reports.Schema, Seed: 1, Elapsed: 4.5, Windows: windows,
		Scenario:    reports.ScenarioEcho{Name: "s", DurationSeconds: 3, Source: "name: s\nduration: 3s\n"},
		Environment: reports.Environment{Streambench: "devel", CPUs: 2},
		Groups: []reports.Group{{Name: "g", Latency: h(lat), StreamDuration: h(100 * lat),
			Streams: reports.StreamCounts{Opened: 1000, Ended: 1000, Failed: failed}, Messages: reports.MessageCounts{Received: uint64(rate * 3)}}},
	}
}

// RunsOf makes one report per latency value.
func RunsOf(lats ...float64) []*reports.Report {
	var out []*reports.Report
	for _, l := range lats {
		out = append(out, SetRun(l, 0, 1000))
	}
	return out
}

// SideOf is a set side of reps, its files named after name (base/run-1/report.json ...).
func SideOf(name string, reps []*reports.Report) *reports.Side {
	files := make([]string, len(reps))
	for i := range reps {
		files[i] = filepath.Join(name, "run-"+string(rune('1'+i)), "report.json")
	}
	return reports.SetSide(name+"/set.json", files, reps)
}
