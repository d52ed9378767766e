package harness_test

import (
	"github.com/streambench/streambench"

	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
)

const planSrc = `name: p
duration: 20s
seed: 7
groups:
  - {name: subs, rpc: Longlived/Subscribe, clients: 10, connections: 2}
  - {rpc: Math/Pow, clients: 4}
faults:
  - {at: 5s, for: 1s, kind: latency, latency: 10ms}
  - {at: 12s, kind: server_restart}
assert:
  - eof: clean
`

func decode(t *testing.T, src string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Decode("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestPlanResolvesOnce(t *testing.T) {
	sc := decode(t, planSrc)
	before, _ := scenario.Marshal(sc)
	p, err := streambench.NewPlan(sc, harness.WithClientScale(2), harness.WithDuration(15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := scenario.Marshal(sc)
	if string(before) != string(after) {
		t.Errorf("NewPlan changed its input:\n%s\n---\n%s", before, after)
	}
	eff := p.Scenario()
	switch {
	case p.Duration() != 15*time.Second, p.Seed() != 7, p.Target() != "builtin", p.Link() != "bufconn":
		t.Errorf("plan: duration %v seed %d target %s link %s", p.Duration(), p.Seed(), p.Target(), p.Link())
	case eff.Groups[0].Clients != 20 || eff.Groups[0].Connections != 4 || eff.Groups[1].Name != "pow" || eff.Groups[1].Messages != 10:
		t.Errorf("effective groups: %+v", eff.Groups)
	case p.Describe() != "p (2 groups, 28 clients)":
		t.Errorf("Describe = %q", p.Describe())
	}
	// The copy a caller gets cannot change the plan.
	eff.Groups[0].Clients = 1
	if p.Scenario().Groups[0].Clients != 20 {
		t.Error("Scenario() shares the plan's groups")
	}
}

func TestPlanSeedPicked(t *testing.T) {
	p, err := streambench.NewPlan(decode(t, strings.Replace(planSrc, "seed: 7", "seed: 0", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Seed() == 0 {
		t.Error("a zero seed was not replaced by a picked one")
	}
	p2, err := streambench.NewPlan(decode(t, planSrc), harness.WithSeed(99))
	if err != nil || p2.Seed() != 99 {
		t.Errorf("seed override: %v %v", p2, err)
	}
}

func TestPlanRefusesBadOverrides(t *testing.T) {
	const addr = "127.0.0.1:9"
	opts := func(o ...harness.PlanOption) []harness.PlanOption { return o }
	for _, tc := range []struct {
		name string
		opts []harness.PlanOption
		want []string
	}{
		{"duration zero", opts(harness.WithDuration(0)), []string{"duration override: must be > 0"}},
		{"duration negative", opts(harness.WithDuration(-time.Second)), []string{"duration override: must be > 0"}},
		{"duration drops faults", opts(harness.WithDuration(10 * time.Second)),
			[]string{"p.yaml:9:10: faults[1].at: must be before the end of the run (duration 10s, set by the duration override), got 12s"}},
		{"client scale zero", opts(harness.WithClientScale(0)), []string{"client scale override: must be > 0"}},
		{"compress above one", opts(harness.WithCompress(2)), []string{"compress override: must be > 0 and at most 1"}},
		{"graceful stop negative", opts(harness.WithGracefulStop(-time.Second)), []string{"graceful stop override: must be >= 0"}},
		{"target not loopback", opts(harness.WithTarget("10.0.0.1:80"), harness.WithInsecure()), []string{"target override", "not a loopback address"}},
		{"target with faults", opts(harness.WithTarget(addr), harness.WithInsecure()),
			[]string{"p.yaml:9:21: faults[1].kind: server_restart", "the address target (127.0.0.1:9, set by the target override) is not a server streambench can stop and start again, and takes no server faults"}},
		{"target without insecure or tls", opts(harness.WithTarget(addr)),
			[]string{"target override: say how to dial 127.0.0.1:9: plaintext", "or TLS"}},
		{"insecure without target", opts(harness.WithInsecure()), []string{"target override: insecure and tls apply to a target override only"}},
		{"tls without target", opts(harness.WithTLS(scenario.TLS{CA: "ca.pem"})), []string{"target override: insecure and tls apply to a target override only"}},
		{"tls and insecure", opts(harness.WithTarget(addr), harness.WithInsecure(), harness.WithTLS(scenario.TLS{CA: "ca.pem"})),
			[]string{"in plaintext (--insecure) or over TLS (--cacert ...), not both"}},
		{"tls cert without key", opts(harness.WithTarget(addr), harness.WithTLS(scenario.TLS{Cert: "c.pem"})), []string{"give both a client certificate and its key"}},
		{"tls CA missing", opts(harness.WithTarget(addr), harness.WithTLS(scenario.TLS{CA: "/nonexistent/ca.pem"})),
			[]string{"target.tls.ca: (set by the TLS override) cannot read the CA file: open /nonexistent/ca.pem"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := streambench.NewPlan(decode(t, planSrc), tc.opts...)
			if _, ok := scenario.AsErrors(err); !ok {
				t.Fatalf("err = %v, want scenario errors", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			// Run refuses the same thing, before anything starts.
			var all []harness.Option
			for _, o := range tc.opts {
				all = append(all, o)
			}
			if rep, err := streambench.Run(context.Background(), decode(t, planSrc), all...); rep != nil || err == nil {
				t.Errorf("Run ran a plan NewPlan refused: %v", err)
			}
		})
	}
}

// TestRunValidatesCodeBuiltScenarios: a scenario built in Go gets the same
// validation as a file: an unknown RPC is an error naming the catalog, not
// a nil driver call.
func TestRunValidatesCodeBuiltScenarios(t *testing.T) {
	sc := &scenario.Scenario{Name: "code", Duration: scenario.Duration(time.Second),
		Groups: []scenario.Group{{Name: "g", RPC: "Math/Cube", Clients: 1}}}
	rep, err := streambench.Run(context.Background(), sc)
	if rep != nil || err == nil || !strings.Contains(err.Error(), `groups[0].rpc: unknown rpc "Math/Cube"`) ||
		!strings.Contains(err.Error(), "Math/Pow") {
		t.Fatalf("Run = %v, %v", rep, err)
	}
	sc.Groups[0] = scenario.Group{Name: "g", RPC: "Math/Sum", Clients: 1, Read: scenario.Read{Delay: scenario.Duration(time.Millisecond)}}
	if _, err := streambench.NewPlan(sc); err == nil || !strings.Contains(err.Error(), "slow reading is implemented for Longlived/Subscribe only, not Math/Sum") {
		t.Errorf("read on Sum: %v", err)
	}
	base := int64(3)
	sc.Groups[0] = scenario.Group{Name: "g", RPC: "Math/Sum", Clients: 1, Base: &base}
	if _, err := streambench.NewPlan(sc); err == nil || !strings.Contains(err.Error(), "base applies to Math/Pow only, not Math/Sum") {
		t.Errorf("base on Sum: %v", err)
	}
}

func TestCatalog(t *testing.T) {
	names := streambench.RPCs().Names()
	if strings.Join(names, " ") != "Longlived/Subscribe Math/Pow Math/Sum Math/Sqrt generic" {
		t.Errorf("catalog = %v", names)
	}
	f := func(grpc.ClientConnInterface, driver.Params, record.Sink) driver.Driver { return nil }
	for _, tc := range []struct {
		entries []rpc.Entry
		want    string
	}{
		{[]rpc.Entry{{Name: "A/B", Factory: f}, {Name: "A/B", Factory: f}}, "A/B listed twice"},
		{[]rpc.Entry{{Name: "A/B"}}, "A/B has no driver factory"},
		{[]rpc.Entry{{Factory: f}}, "an entry has no name"},
	} {
		if _, err := rpc.New(tc.entries...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rpc.New: %v, want %q", err, tc.want)
		}
	}
}

const shardSrc = `name: s
duration: 20s
seed: 3
target: {address: "127.0.0.1:9", insecure: true}
groups:
  - {name: subs, rpc: Longlived/Subscribe, clients: 10, connections: 4}
  - {name: pow, rpc: Math/Pow, clients: 7, arrival: {rate: 100/s}}
  - {name: sum, rpc: Math/Sum, clients: 9, connections: 3, stages: [{duration: 5s, target: 9}]}
`

// TestShardsSplitEveryClientOnce: the shards of a run take every client of
// every group exactly once, and split open-loop rates and stage targets in
// the same proportion.
func TestShardsSplitEveryClientOnce(t *testing.T) {
	const n = 3
	total := 0
	var rate float64
	for i := range n {
		p, err := streambench.NewPlan(decode(t, shardSrc), harness.WithShard(harness.Shard{Index: i, Count: n}))
		if err != nil {
			t.Fatal(err)
		}
		total += p.Clients()
		eff := p.Scenario()
		rate += float64(eff.Groups[1].Arrival.Rate)
		if !strings.Contains(p.Describe(), fmt.Sprintf("shard %d/%d", i, n)) {
			t.Errorf("Describe = %q", p.Describe())
		}
		if p0, _ := streambench.NewPlan(decode(t, shardSrc), harness.WithShard(harness.Shard{Index: 0, Count: n})); p0.SetID() != p.SetID() {
			t.Error("shards of one run have different set ids")
		}
	}
	if total != 26 {
		t.Errorf("the shards run %d clients in all, want 26", total)
	}
	if math.Abs(rate-100) > 1e-9 {
		t.Errorf("the shards' arrival rates add up to %v, want 100", rate)
	}
	p1, _ := streambench.NewPlan(decode(t, shardSrc))
	p2, _ := streambench.NewPlan(decode(t, shardSrc), harness.WithShard(harness.Shard{Index: 0, Count: 2}))
	if p1.SetID() == p2.SetID() {
		t.Error("a whole run and a shard of a two-shard run share a set id")
	}
}

func TestShardRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		sh   harness.Shard
		want string
	}{
		{"builtin target", planSrc, harness.Shard{Index: 0, Count: 2}, "a sharded run needs a target every shard reaches"},
		{"index out of range", shardSrc, harness.Shard{Index: 2, Count: 2}, "shard override: shard 2/2: want 0 <= i < n"},
		{"no shards", shardSrc, harness.Shard{Index: 0, Count: 0}, "want 0 <= i < n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := streambench.NewPlan(decode(t, tc.src), harness.WithShard(tc.sh))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	for _, text := range []string{"1", "a/b", "3/2", "-1/2", "1/0"} {
		if _, err := harness.ParseShard(text); err == nil {
			t.Errorf("ParseShard(%q) accepted", text)
		}
	}
	if s, err := harness.ParseShard(" 1/4"); err != nil || s != (harness.Shard{Index: 1, Count: 4}) {
		t.Errorf("ParseShard(1/4) = %v, %v", s, err)
	}
}

// TestRemoteTargetIsOptIn: a host other than loopback is refused unless the
// caller says --allow-remote-target (NewPlan sends nothing either way).
func TestRemoteTargetIsOptIn(t *testing.T) {
	src := strings.Replace(shardSrc, `"127.0.0.1:9"`, `"streambench-target.default.svc:7070"`, 1)
	if _, err := streambench.NewPlan(decode(t, src)); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("remote address accepted without the opt-in: %v", err)
	}
	if _, err := streambench.NewPlan(decode(t, shardSrc), harness.WithTarget("target.svc:7070"), harness.WithInsecure()); err == nil {
		t.Error("remote --target accepted without the opt-in")
	}
	p, err := streambench.NewPlan(decode(t, src), harness.WithRemoteTarget(), harness.WithShard(harness.Shard{Index: 1, Count: 4}))
	if err != nil || p.Scenario().Target.Address != "streambench-target.default.svc:7070" {
		t.Errorf("with the opt-in: %v, %v", p, err)
	}
}

// TestFaultsByTargetKind: every target takes its link's network faults;
// the server faults each target kind can take, and the reason for the
// others, are said at the fault's line.
func TestFaultsByTargetKind(t *testing.T) {
	const cmd = "target:\n  command: [streambench, serve, --addr, \"127.0.0.1:{port}\"]\n"
	const addr = "target: {address: \"127.0.0.1:9\", insecure: true}\n"
	const builtin = ""
	for _, tc := range []struct {
		name, target, fault, want string
	}{
		{"pause on builtin", builtin, "{at: 1s, for: 1s, kind: pause}", "pause acts on a process streambench runs (SIGSTOP, SIGCONT); the builtin target is not a process streambench runs, and takes server faults server_restart, graceful_restart, max_connection_age"},
		{"max age on command", cmd, "{at: 1s, kind: max_connection_age, age: 1s}", "the command target is not a server whose connection age streambench can set, and takes server faults server_restart, graceful_restart, pause"},
		{"restart on address", addr, "{at: 1s, kind: server_restart}", "the address target (127.0.0.1:9) is not a server streambench can stop and start again, and takes no server faults"},
		{"stream fault on command", cmd, "{at: 1s, kind: stream_abort, status: Unavailable}", ""},
		{"stream fault on address", addr, "{at: 1s, kind: stream_delay, delay: 1ms}", ""},
		{"stream fault on address over tls", "target: {address: \"127.0.0.1:9\", tls: {}}\n", "{at: 1s, kind: stream_stall, stall: 1s}", "faults[0].kind: stream_stall acts at the target's gRPC layer; the address target (127.0.0.1:9) is not a server running streambench's stream interceptor (the builtin target is, and an address or command target through streambench's gRPC proxy, without target.tls"},
		{"stream fault on command over tls", cmd + "  tls: {}\n", "{at: 1s, kind: stream_abort, status: Unavailable}", "the command target is not a server running streambench's stream interceptor"},
		{"sever on address", addr, "{at: 1s, kind: sever}", ""},
		{"pause on command", cmd, "{at: 1s, for: 1s, kind: pause}", ""},
		{"latency on command", cmd + "link: toxiproxy\n", "{at: 1s, for: 1s, kind: latency, latency: 10ms}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "name: f\nduration: 10s\n" + tc.target + "groups:\n  - {rpc: Math/Pow, clients: 1}\nfaults:\n  - " + tc.fault + "\n"
			_, err := streambench.NewPlan(decode(t, src))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCommandTargetValidation(t *testing.T) {
	for _, tc := range []struct{ target, want string }{
		{"  command: [server]\n", "put {port} in an argument or an env entry"},
		{"  command: [\"\", \"{port}\"]\n", "the program (the first entry) must not be empty"},
		{"  command: [s, \"{port}\"]\n  env: [NOEQUALS]\n", `target.env[0]: "NOEQUALS" is not KEY=VALUE`},
		{"  command: [s, \"{port}\"]\n  ready: {tcp: true, log: up}\n", "give one of tcp and log"},
		{"  command: [s, \"{port}\"]\n  ready: {log: \"(\"}\n", "target.ready.log: not a regexp"},
		{"  command: [s, \"{port}\"]\n  ready: {timeout: 0s}\n", "target.ready.timeout: must be > 0"},
		{"  address: \"127.0.0.1:9\"\n  insecure: true\n  ready: {tcp: true}\n", "target.ready: applies to a command target only"},
		{"  command: [s, \"{port}\"]\n  address: \"127.0.0.1:9\"\n", "set exactly one of target.builtin, target.address and target.command"},
		{"  command: [s, \"{port}\"]\nlink: bufconn\n", "reach the command target over tcp"},
	} {
		src := "name: c\nduration: 1s\ntarget:\n" + tc.target + "groups:\n  - {rpc: Math/Pow, clients: 1}\n"
		if _, err := streambench.NewPlan(decode(t, src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.target, err, tc.want)
		}
	}
}

// TestMetadataOverride: run -H adds metadata to every call, replacing the
// scenario's value of a key, and is checked as target.metadata is.
func TestMetadataOverride(t *testing.T) {
	src := "name: m\nduration: 1s\ntarget: {address: 127.0.0.1:9, insecure: true, metadata: {x-a: file, x-b: file}}\ngroups:\n  - {rpc: Math/Pow, clients: 1}\n"
	p, err := streambench.NewPlan(decode(t, src), harness.WithMetadata("x-b", "flag"), harness.WithMetadata("x-c", "flag"))
	if err != nil {
		t.Fatal(err)
	}
	if md := p.Scenario().Target.Metadata; md["x-a"] != "file" || md["x-b"] != "flag" || md["x-c"] != "flag" {
		t.Errorf("metadata %v", md)
	}
	if _, err := streambench.NewPlan(decode(t, src), harness.WithMetadata("Bad", "v")); err == nil || !strings.Contains(err.Error(), `"Bad" is not a gRPC metadata key`) {
		t.Errorf("a bad key: %v", err)
	}
}
