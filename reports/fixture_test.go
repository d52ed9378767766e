package reports

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
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
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (go test ./reports -update rewrites it after a deliberate change); first difference at byte %d:\n got: %q\nwant: %q",
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

// hist builds a histogram of n deterministic values (µs): a log-normal-ish
// body around median µs with a tail, scaled by scale.
func hist(t *testing.T, n int, median float64, scale float64) Histogram {
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
	out, err := FromHDR(h, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fixture is a small hand-made report with every section filled: two
// groups, windows, a fault with its ends, server figures, leak evidence,
// one failed assertion. scale multiplies the "subs" latency (for compare).
// regressedScale scales a fixture's "subs" latency past the single-run
// noise floor, so that a single-run compare calls it a regression.
const regressedScale = (1 + NoiseFloorLatency) * 1.25

func fixture(t *testing.T, scale float64) *Report {
	t.Helper()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &Report{
		Schema: Schema,
		Scenario: ScenarioEcho{Name: "fixture", Description: "A hand-made report for golden tests.", File: "scenarios/fixture.yaml",
			DurationSeconds: 6, GracefulStopSeconds: 1, Source: "name: fixture\nseed: 7\nduration: 6s\ngroups:\n  - name: subs\n    rpc: Longlived/Subscribe\n    clients: 40\n"},
		Seed: 7, Start: start, End: start.Add(6500 * time.Millisecond), Elapsed: 6.5,
		Target: "builtin", Link: "bufconn",
		Environment: Environment{Streambench: "v0.0.0-test", GoVersion: "go1.26.0", GRPCVersion: "1.85.0", OS: "linux", Arch: "amd64", CPUs: 8, GOMAXPROCS: 8, Hostname: "ci"},
	}
	subs := Group{Name: "subs", RPC: "Longlived/Subscribe", Clients: 40, Connections: 2, Read: "delay 2ms",
		Streams:  StreamCounts{Opened: 52, Ended: 52, Failed: 12},
		Messages: MessageCounts{Received: 24000},
		Ends:     map[string]uint64{"complete": 40, "status:Unavailable": 12}, Violations: map[string]uint64{},
		Latency: hist(t, 24000, 2000, scale), StreamDuration: hist(t, 52, 5_000_000, 1), Recovery: hist(t, 11, 80_000, 1),
		RecoveryFirst: hist(t, 12, 30_000, 1),
		Freshness:     &Freshness{BoundMS: 100, BaselineMS: 6.3, Factor: 3, FloorMS: 100},
		Outages:       Outages{Opened: 12, Resumed: 12, Recovered: 11, Unrecovered: 1},
		Samples:       []Sample{{End: "status:Unavailable", Detail: "rpc error: code = Unavailable desc = connection reset", At: start.Add(2 * time.Second)}},
	}
	pow := Group{Name: "pow", RPC: "Math/Pow", Clients: 10, Connections: 1,
		Streams:  StreamCounts{Opened: 300, Ended: 300},
		Messages: MessageCounts{Sent: 300, Received: 6000},
		Ends:     map[string]uint64{"complete": 300}, Violations: map[string]uint64{},
		Latency: hist(t, 6000, 400, 1), StreamDuration: hist(t, 300, 100_000, 1), Recovery: hist(t, 0, 1, 1),
		LatencyCorrected: hist(t, 6000, 3000, 1),
	}
	r.Groups = []Group{subs, pow}
	for s := 1; s <= 6; s++ {
		off := float64(s)
		failed := uint64(0)
		subsRecv := uint64(4000)
		if s == 3 {
			failed, subsRecv = 12, 1500
		}
		wl := hist(t, 200, 1800+float64(s)*100, scale)
		// pow runs behind its schedule more each second.
		wc := hist(t, 1000, 1000*float64(s), scale)
		r.Windows = append(r.Windows,
			Window{Offset: off, Group: "subs", Started: map[bool]uint64{true: 40, false: 0}[s == 1] + failed, Ended: failed, Failed: failed, Received: subsRecv, Latency: &wl,
				Ends: map[string]uint64{"status:Unavailable": failed}},
			Window{Offset: off, Group: "pow", Started: 50, Ended: 50, Sent: 50, Received: 1000, Ends: map[string]uint64{"complete": 50}, LatencyCorrected: &wc})
	}
	r.Events = []Event{{Offset: 2.5, Kind: "fault_start", Fault: "faults[0] sever"}, {Offset: 3.5, Kind: "fault_end", Fault: "faults[0] sever"}}
	r.Faults = []FaultWindow{
		{Name: "faults[0] sever", Kind: "sever", Start: 2.5, End: 3.5, Scope: "group subs", Ends: map[string]uint64{"status:Unavailable": 12, "complete": 50}, Overlaps: []string{"faults[1] latency #1"}},
		{Name: "faults[1] latency #1", Kind: "latency", Start: 4.5, End: 5.2, Scope: "all", Ends: map[string]uint64{"complete": 80}, Overlaps: []string{"faults[0] sever"}},
	}
	r.Server = &ServerStats{Published: 600, FeedRate: 100, SendBlocked: hist(t, 500, 300, 1), CutOff: 1, MaxQueue: 37,
		Ends: map[string]uint64{"OK": 340, "Unavailable": 12}}
	r.Leaks = &Leaks{Clean: false, SettleSeconds: 2,
		Goroutines: GoroutineLeaks{Baseline: 12, After: 14, Leaked: []LeakedFunction{{Function: "example.com/x.(*feed).loop", Count: 2, Stack: "goroutine 42 [select]:\nexample.com/x.(*feed).loop()\n\tx.go:10"}}},
		FDs:        FDLeaks{Baseline: 9, After: 9},
		Heap:       HeapCheck{BaselineBytes: 4 << 20, AfterBytes: 5 << 20, BoundBytes: 64 << 20},
		Server:     &ServerLeaks{Source: "registry"},
	}
	r.Assertions = []Verdict{
		{Name: "eof: clean", Expected: "0 premature EOFs", Actual: "0 premature EOFs", Pass: true},
		{Name: "subs.latency.p99 < 10ms", Expected: "subs.latency.p99 < 10ms", Actual: "31.2ms", Pass: false, Detail: "subs: p99 31.2ms <script>x</script>"},
		{Name: "recovery.p99 < 2s", Expected: "recovery.p99 < 2s", Actual: "120ms", Pass: true},
	}
	return r
}
