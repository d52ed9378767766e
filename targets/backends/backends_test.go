package backends_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/metrics"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/testenv"
	"github.com/streambench/streambench/reports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// load reads scenarios/name.yaml.
func load(t *testing.T, name string) *scenario.Scenario {
	t.Helper()
	sc, err := streambench.Load("../../scenarios/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// run runs sc compressed in time by compress and scaled in clients by
// clients, and returns its report.
func run(t *testing.T, sc *scenario.Scenario, compress, clients float64) *reports.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := streambench.Run(ctx, sc, harness.WithCompress(compress), harness.WithClientScale(clients))
	if err != nil {
		t.Fatalf("run %s: %v", sc.Name, err)
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("run %s: errors %v", sc.Name, rep.Errors)
	}
	return rep
}

// keep keeps only the assertions whose text starts with one of names
// (timing thresholds mean little under -race on two cores).
func keep(sc *scenario.Scenario, names ...string) {
	kept := sc.Assert[:0:0]
	for _, a := range sc.Assert {
		for _, n := range names {
			if strings.HasPrefix(a.String(), n) {
				kept = append(kept, a)
				break
			}
		}
	}
	sc.Assert = kept
}

// verdict is the verdict of the assertion whose text starts with name.
func verdict(t *testing.T, rep *reports.Report, name string) reports.Verdict {
	t.Helper()
	for _, v := range rep.Assertions {
		if strings.HasPrefix(v.Name, name) {
			return v
		}
	}
	t.Fatalf("no verdict %s in %v", name, rep.Assertions)
	return reports.Verdict{}
}

func requirePassed(t *testing.T, rep *reports.Report) {
	t.Helper()
	for _, v := range rep.Assertions {
		if !v.Pass {
			t.Errorf("%s: expected %s, got %s (%s)", v.Name, v.Expected, v.Actual, v.Detail)
		}
	}
	if t.Failed() {
		// A warning says when the machine, not the backends, was short of CPU.
		t.Logf("warnings: %q", rep.Warnings)
	}
}

// requireRebalanced: the newcomer holds a real share near the end (a fair
// one is a quarter; without max_connection_age it holds none) and no
// subscriber lost or repeated a message on the way.
func requireRebalanced(t *testing.T, rep *reports.Report) {
	t.Helper()
	for _, name := range []string{"no_loss", "no_duplicates"} {
		if v := verdict(t, rep, name); !v.Pass {
			t.Errorf("%s: %s (%s)", name, v.Actual, v.Detail)
		}
	}
	if s := spreadAt(rep, rep.Scenario.DurationSeconds-1); s.Backends != 4 || s.Min*8 < s.Total {
		t.Errorf("near the end the emptiest backend %s held %d of %d streams, want at least an eighth", s.MinBackend, s.Min, s.Total)
	}
}

// spreadAt is the report's spread in the second ending nearest to off.
func spreadAt(rep *reports.Report, off float64) reports.SpreadWindow {
	var best reports.SpreadWindow
	for _, s := range rep.Backends.Spread {
		if s.Offset <= off+0.5 {
			best = s
		}
	}
	return best
}

// TestRebalance runs scenarios/rebalance.yaml at half its length and a
// fifth of its clients: with max_connection_age the fourth backend takes
// its share without loss; without, it gets nothing, and balance and
// rebalance_time fail naming its share. (At a quarter of its length,
// beside other packages' tests, the newcomer once held none of 548
// streams by the end.) The scenario's time bounds are judged where timing
// means something: by .ci/run's run of the scenario at full scale without
// -race. Under -race, beside other packages' tests, the initial spread
// came within 1.5 only after the first recycling round, or not at all
// (1.71 and 1.75 in two runs on 2026-12-05).
func TestRebalance(t *testing.T) {
	t.Parallel()
	testRebalance(t, 0.5, 0.2, []rebalanceCase{
		{"l4 with max_connection_age", scenario.BalancerL4, true, true, false},
		{"l4 without max_connection_age", scenario.BalancerL4, false, false, true},
	})
}

// TestRebalanceClientRoundRobin: the same with the clients' own
// round_robin balancing (a long test: .ci/run's second pass). It runs
// there beside four other packages under -race, where the recycling
// rounds stretch and the spread came within 1.5 only after 15.6 s, or not
// by the end (1.64 with the newcomer at 17%): it judges that the newcomer
// takes its share and nothing is lost, not the scenario's time bounds.
func TestRebalanceClientRoundRobin(t *testing.T) {
	testenv.Long(t)
	testRebalance(t, 0.5, 0.4, []rebalanceCase{
		{"client round_robin with max_connection_age", scenario.BalancerClient, true, true, false},
	})
}

type rebalanceCase struct {
	name     string
	balancer string
	maxAge   bool
	pass     bool
	// timing: a passing case must pass balance and rebalance_time too
	// (their bounds), not only take the newcomer in without loss.
	timing bool
}

// testRebalance runs each case of rebalance.yaml compressed in time by
// compress and scaled in clients by clients.
func testRebalance(t *testing.T, compress, clients float64, cases []rebalanceCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // in-process runs that judge no leaks
			sc := load(t, "rebalance")
			keep(sc, "balance", "rebalance_time", "no_loss", "no_duplicates")
			b := sc.Target.Backends
			b.Balancer = tc.balancer
			if tc.balancer == scenario.BalancerClient {
				b.Policy = "round_robin"
			}
			if !tc.maxAge {
				b.MaxConnectionAge, b.MaxConnectionAgeGrace = 0, 0
			}
			rep := run(t, sc, compress, clients)
			if rep.Backends == nil || strings.Join(rep.Backends.Names, ",") != "b0,b1,b2,b3" {
				t.Fatalf("backends: %+v", rep.Backends)
			}
			if v := verdict(t, rep, "no_loss"); !v.Pass {
				t.Errorf("no_loss: %s (%s)", v.Actual, v.Detail)
			}
			bal, rt := verdict(t, rep, "balance"), verdict(t, rep, "rebalance_time")
			if tc.pass && !tc.timing {
				requireRebalanced(t, rep)
				return
			}
			if tc.pass {
				requirePassed(t, rep)
				if !strings.HasSuffix(rt.Actual, "s") {
					t.Errorf("rebalance_time's actual is not a time on pass: %q", rt.Actual)
				}
				return
			}
			if bal.Pass || !strings.Contains(bal.Detail, "b3 held 0 of") {
				t.Errorf("balance without max_connection_age: pass %v, %s (%s); want a failure naming b3's share", bal.Pass, bal.Actual, bal.Detail)
			}
			if rt.Pass || rt.Actual != "never" {
				t.Errorf("rebalance_time without max_connection_age: pass %v, %s (%s)", rt.Pass, rt.Actual, rt.Detail)
			}
			if s := spreadAt(rep, rep.Scenario.DurationSeconds-1); s.Min != 0 || s.MinBackend != "b3" {
				t.Errorf("at the end the newcomer held %d streams (%s the emptiest), want 0", s.Min, s.MinBackend)
			}
		})
	}
}

// TestPickFirst: the client balancer with pick_first sends every
// ClientConn's streams to one backend, the first listed unless connecting
// to it took over 250 ms (grpc-go's Happy Eyeballs, gRFC A61, then tries
// the next one too, and the first to connect wins: under load one of 12
// ClientConns once landed on b1). Most streams are on b0, some backend
// gets nothing, and balance fails on it.
func TestPickFirst(t *testing.T) {
	t.Parallel()
	sc := load(t, "rebalance")
	keep(sc, "balance", "no_loss")
	sc.Faults = nil
	b := sc.Target.Backends
	b.Balancer, b.Policy = scenario.BalancerClient, "pick_first"
	b.MaxConnectionAge, b.MaxConnectionAgeGrace = 0, 0
	sc.Duration = scenario.Duration(12 * time.Second)
	rep := run(t, sc, 0.5, 0.2)
	bal := verdict(t, rep, "balance")
	if bal.Pass || !strings.Contains(bal.Detail, "held 0 of") {
		t.Errorf("balance with pick_first: pass %v, %s (%s); want a failure naming an empty backend", bal.Pass, bal.Actual, bal.Detail)
	}
	s := spreadAt(rep, 4)
	if s.MaxBackend != "b0" || s.Max*2 <= s.Total {
		t.Errorf("pick_first: %s held %d of %d streams, want b0 most of them", s.MaxBackend, s.Max, s.Total)
	}
}

// TestBackendLeave runs scenarios/backend-leave.yaml (at half its length
// and 40% of its clients): a backend killed under load; its subscribers
// resume on the others by seq without loss or duplicates. Not parallel:
// recovered judges freshness against the p99 before the fault, and beside
// the other runs here 8 of 300 subscribers (a fifth of the clients) were
// still behind that bound at the end. A long test (.ci/run's second
// pass): beside the README's whole first pass, 8 to 11 of 600 subscribers,
// some receiving nothing for seconds, were not back by the end in 2 of 3
// runs — a recovery under CPU starvation that needs its own look. The
// first pass keeps TestBackendFaults' graceful leave, and .ci/run judges
// backend-leave.yaml at full scale without -race.
func TestBackendLeave(t *testing.T) {
	testenv.Long(t)
	sc := load(t, "backend-leave")
	keep(sc, "no_loss", "no_duplicates", "recovered", "balance")
	rep := run(t, sc, 0.5, 0.4)
	requirePassed(t, rep)
	if f := rep.Group("subscribers").Ends["status:Unavailable"]; f == 0 {
		t.Errorf("no subscriber was displaced (ends %v): the leave did not happen", rep.Group("subscribers").Ends)
	}
	if s := spreadAt(rep, rep.Scenario.DurationSeconds-1); s.Backends != 2 {
		t.Errorf("at the end %d backends in service, want 2", s.Backends)
	}
}

// TestCommandReplicas runs the scenarios against processes of
// `streambench serve` numbered from one --epoch: displaced subscribers
// resume on other processes without loss (which holds only because the
// processes publish one sequence), and a fourth process that joins gets
// its share once serve's --max-connection-age recycles the connections.
func TestCommandReplicas(t *testing.T) {
	testenv.Long(t) // builds streambench and starts four processes: .ci/run's second pass
	bin := filepath.Join(t.TempDir(), "streambench")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/streambench").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	command := func(sc *scenario.Scenario, extra ...string) {
		f := sc.Target.Builtin.Feed
		sc.Target.Builtin = nil
		sc.Target.Command = append([]string{bin, "serve", "--addr", "127.0.0.1:{port}", "--epoch", "{epoch}",
			"--rate", f.Rate.String(), "--ring", "20000", "--queue", "4096"}, extra...)
		sc.Target.Ready = &scenario.Ready{Timeout: scenario.Duration(20 * time.Second)}
		sc.Target.StopTimeout = scenario.Duration(5 * time.Second)
	}
	t.Run("a backend leaves hard", func(t *testing.T) {
		sc := load(t, "backend-leave")
		keep(sc, "no_loss", "no_duplicates", "recovered", "balance")
		command(sc)
		rep := run(t, sc, 0.5, 0.4)
		requirePassed(t, rep)
		if !strings.Contains(rep.Target, "3 × command") {
			t.Errorf("target %q", rep.Target)
		}
	})
	t.Run("a backend joins, serve recycles connections", func(t *testing.T) {
		sc := load(t, "rebalance")
		// Not the steady-state balance: under -race, four processes on
		// two cores recycle their connections in rounds slow enough that
		// a second mid-round is out of bound now and then (1.63 seen);
		// TestRebalance judges it on the builtin replicas.
		keep(sc, "rebalance_time", "no_loss", "no_duplicates")
		sc.Target.Backends.MaxConnectionAge, sc.Target.Backends.MaxConnectionAgeGrace = 0, 0
		// The compressed run's age: half the scenario's 8s and 2s.
		command(sc, "--max-connection-age", "4s", "--max-connection-age-grace", "1s")
		rep := run(t, sc, 0.5, 0.4)
		requirePassed(t, rep)
		if strings.Join(rep.Backends.Names, ",") != "b0,b1,b2,b3" {
			t.Errorf("backends %v", rep.Backends.Names)
		}
		if s := spreadAt(rep, sc.Duration.D().Seconds()*0.5-1); s.Backends != 4 || s.Min*6 < s.Total {
			t.Errorf("near the end the emptiest backend %s held %d of %d streams, want at least a sixth", s.MinBackend, s.Min, s.Total)
		}
	})
}

// TestRebalanceFull runs rebalance.yaml at full length and scale, and its
// failing variant (no max_connection_age). Under -race, with .ci/run's
// second pass running four other packages beside it on two cores, the
// connections recycle in rounds slow and uneven enough that a steady
// second before the join is out of the 1.5 bound now and then (1.53-1.69
// seen) and the rebalance took 15.6 s once: the scenario's time bounds
// are judged at full scale by .ci/run's run of the scenario without
// -race; here, that the newcomer takes its
// share without loss, and that without max age it gets nothing.
func TestRebalanceFull(t *testing.T) {
	testenv.Long(t)
	sc := load(t, "rebalance")
	keep(sc, "rebalance_time", "no_loss", "no_duplicates")
	rep := run(t, sc, 1, 1)
	requireRebalanced(t, rep)
	t.Logf("rebalance_time under -race: %s", verdict(t, rep, "rebalance_time").Actual)
	sc = load(t, "rebalance")
	sc.Target.Backends.MaxConnectionAge, sc.Target.Backends.MaxConnectionAgeGrace = 0, 0
	rep = run(t, sc, 1, 1)
	if v := verdict(t, rep, "balance"); v.Pass || !strings.Contains(v.Detail, "b3 held 0 of 3000") {
		t.Errorf("without max_connection_age: balance %v: %s (%s)", v.Pass, v.Actual, v.Detail)
	}
}

// TestPlanRefuses: what a target of several backends cannot take is
// refused at validation, at its line, naming why.
func TestPlanRefuses(t *testing.T) {
	t.Parallel()
	const head = "name: x\nduration: 5s\n"
	const groups = "groups:\n  - {name: s, rpc: Longlived/Subscribe, clients: 10}\n"
	for _, tc := range []struct {
		name, src, want string
	}{
		{"a join on a single target", head + "target: {builtin: {}}\n" + groups + "faults:\n  - {at: 1s, kind: backend_join}\n",
			"x.yaml:7:20: faults[0].kind: backend_join acts on the target's set of backends; the builtin target is not a target of several backends streambench runs"},
		{"a leave on running addresses", head + "target:\n  insecure: true\n  backends: {addresses: [\"127.0.0.1:1\", \"127.0.0.1:2\"]}\n" + groups + "faults:\n  - {at: 1s, kind: backend_leave}\n",
			"faults[0].kind: backend_leave acts on one backend; the backends target (2 addresses) is not"},
		{"toxiproxy in front", head + "target: {backends: {replicas: 2}}\nlink: toxiproxy\n" + groups,
			"x.yaml:4:7: link: a target of several backends is reached over tcp"},
		{"a stream fault", head + "target: {backends: {replicas: 2}}\n" + groups + "faults:\n  - {at: 1s, kind: stream_abort, status: Unavailable}\n",
			"faults[0].kind: stream_abort acts at the target's gRPC layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenario.Decode("x.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := streambench.NewPlan(sc); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("plan error:\n%v\nwant %q", err, tc.want)
			}
		})
	}
}

// TestBackendFaults: a graceful leave and a restart of one builtin
// replica under subscribers: the displaced streams resume without loss,
// the events name the backend, and the restarted one is back in service.
func TestBackendFaults(t *testing.T) {
	t.Parallel()
	const src = `name: faults
duration: 6s
graceful_stop: 2s
target:
  builtin:
    feed: {rate: 20/s, ring: 20000}
  backends: {replicas: 3}
groups:
  - name: subs
    rpc: Longlived/Subscribe
    clients: 120
    connections: 12
    reconnect: {base: 50ms, multiplier: 1.6, jitter: 0.2, max: 500ms}
faults:
  - FAULT
assert:
  - no_loss: subs
  - no_duplicates
`
	for _, tc := range []struct {
		name, fault string
		events      []string // kind: detail prefix, in order
		upAtEnd     int
	}{
		{"graceful leave", "{at: 2s, kind: backend_leave, backend: b1, grace: 500ms}", []string{"backend_leave: b1: graceful stop"}, 2},
		{"restart", "{at: 2s, for: 1s, kind: backend_restart, backend: b2}", []string{"backend_leave: b2: hard stop", "backend_join: b2"}, 3},
		{"graceful_restart of every backend", "{at: 2s, kind: graceful_restart, grace: 500ms}", nil, 3},
		{"max_connection_age on every replica", "{at: 1s, for: 4s, kind: max_connection_age, age: 1s, grace: 200ms}", nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc, err := scenario.Decode("faults.yaml", []byte(strings.Replace(src, "FAULT", tc.fault, 1)))
			if err != nil {
				t.Fatal(err)
			}
			rep := run(t, sc, 1, 1)
			requirePassed(t, rep)
			var got []string
			for _, e := range rep.Events {
				if strings.HasPrefix(e.Kind, "backend_") {
					got = append(got, e.Kind+": "+e.Detail)
				}
			}
			if len(got) != len(tc.events) {
				t.Fatalf("backend events %q, want %q", got, tc.events)
			}
			for i, w := range tc.events {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("event %d %q, want %q", i, got[i], w)
				}
			}
			if g := rep.Group("subs"); g.Ends["status:Unavailable"] == 0 {
				t.Errorf("no subscriber was displaced: ends %v", g.Ends)
			}
			up := 0
			for _, w := range rep.Backends.Windows {
				if w.Offset == rep.Backends.Windows[len(rep.Backends.Windows)-1].Offset && w.Up {
					up++
				}
			}
			if up != tc.upAtEnd {
				t.Errorf("%d backends in service at the end, want %d", up, tc.upAtEnd)
			}
		})
	}
}

// TestBackendLiveMetrics: with live metrics on, a target of several
// backends exports one series per backend whose totals at the end equal
// the report's per-backend windows summed, and the backend that left is
// no longer up.
func TestBackendLiveMetrics(t *testing.T) {
	t.Parallel()
	sc := load(t, "backend-leave")
	keep(sc, "no_loss")
	set := metrics.New(metrics.Labels{Scenario: sc.Name})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := streambench.Run(ctx, sc, harness.WithCompress(0.3), harness.WithClientScale(0.2), harness.WithMetrics(set))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Backends == nil || len(rep.Backends.Names) < 2 {
		t.Fatalf("no backends in the report: %+v", rep.Backends)
	}
	opened, msgs := map[string]uint64{}, map[string]uint64{}
	up := map[string]bool{}
	for _, w := range rep.Backends.Windows {
		opened[w.Backend] += w.Opened
		msgs[w.Backend] += w.Messages
		up[w.Backend] = w.Up
	}
	mfs, err := set.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "backend" {
					continue
				}
				if got[mf.GetName()] == nil {
					got[mf.GetName()] = map[string]float64{}
				}
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
				got[mf.GetName()][l.GetValue()] = v
			}
		}
	}
	left := 0
	for _, b := range rep.Backends.Names {
		if g := got[metrics.BackendOpened][b]; g != float64(opened[b]) {
			t.Errorf("%s: %s %v, the report's windows sum to %d", b, metrics.BackendOpened, g, opened[b])
		}
		if g := got[metrics.BackendMessages][b]; g != float64(msgs[b]) || g == 0 && b != "b1" {
			t.Errorf("%s: %s %v, the report's windows sum to %d", b, metrics.BackendMessages, g, msgs[b])
		}
		want := 0.0
		if up[b] {
			want = 1
		} else {
			left++
		}
		if g, ok := got[metrics.BackendUp][b]; !ok || g != want {
			t.Errorf("%s: %s %v (exported %v), want %v", b, metrics.BackendUp, g, ok, want)
		}
		if _, ok := got[metrics.BackendActive][b]; !ok {
			t.Errorf("%s: no %s series", b, metrics.BackendActive)
		}
	}
	if left != 1 {
		t.Errorf("%d backends not up at the end, want the one that left", left)
	}
}
