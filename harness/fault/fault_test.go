package fault

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streambench/streambench/harness/clock"
	"github.com/streambench/streambench/harness/scenario"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var allNet = Caps{Link: "bufconn", Target: everything{}, TargetName: "test target"}

// everything is a target with every capability a fault kind can need.
type everything struct{}

func (everything) StopServer(time.Duration) bool          { return true }
func (everything) StartServer() error                     { return nil }
func (everything) SetMaxConnectionAge(_, _ time.Duration) {}
func (everything) Pause() error                           { return nil }
func (everything) Resume() error                          { return nil }
func (everything) HostStreams(*Streams)                   {}

func parse(t *testing.T, faults string) *scenario.Scenario {
	t.Helper()
	src := "name: f\nduration: 60s\ngroups:\n  - {name: subs, rpc: Longlived/Subscribe, clients: 10, connections: 5}\n  - {name: pow, rpc: Math/Pow, clients: 4}\nfaults:\n" + faults
	sc, err := scenario.Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, faults string
		want         []string
	}{
		{"unknown kind", "  - {at: 1s, kind: sevrelated}\n", []string{"f.yaml:7:20", "unknown fault kind", "sever, blackhole"}},
		{"unknown setting", "  - {at: 1s, kind: latency, latency: 10ms, jiter: 1ms}\n", []string{"f.yaml:7:51", `did you mean "jitter"`, "settings of latency: latency, jitter, direction, toxicity"}},
		{"bad value", "  - {at: 1s, kind: latency, latency: fast}\n", []string{"f.yaml:7:38", "bad duration"}},
		{"setting of another kind", "  - {at: 1s, kind: sever, latency: 10ms}\n", []string{"f.yaml:7:36", "unknown key \"latency\"", "sever takes no settings"}},
		{"missing required", "  - {at: 1s, for: 1s, kind: latency}\n", []string{"latency: must be set and > 0"}},
		{"link cannot", "  - {at: 1s, kind: timeout, timeout: 1s}\n", []string{"link bufconn cannot do timeout", "bandwidth, blackhole"}},
		{"toxicity off toxiproxy", "  - {at: 1s, kind: latency, latency: 1ms, toxicity: 0.5}\n", []string{"toxicity applies only to a toxiproxy link"}},
		{"server with scope", "  - {at: 1s, kind: server_restart, scope: {group: pow}}\n", []string{"takes no scope"}},
		{"instant with for", "  - {at: 1s, for: 2s, kind: sever}\n", []string{"sever is instant"}},
		{"bad status", "  - {at: 1s, kind: stream_abort, status: Broken}\n", []string{`status "Broken"`, "Unavailable"}},
		{"hard restart with grace", "  - {at: 1s, kind: server_restart, grace: 1s}\n", []string{"f.yaml:7:43", "server_restart takes no settings"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(parse(t, tc.faults), allNet)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestCompileAddressTarget(t *testing.T) {
	src := "name: f\nduration: 60s\ntarget: {address: 127.0.0.1:7070, insecure: true}\ngroups:\n  - {rpc: Math/Pow, clients: 1}\nfaults:\n  - {at: 1s, kind: server_restart}\n"
	sc, err := scenario.Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	// A target with no capability (as an address target) takes no server
	// or stream fault; one with only Pauser takes pause alone.
	for _, c := range []struct {
		target any
		want   string
	}{
		{struct{}{}, "server_restart acts on the target's server (a command target's process: SIGKILL, then started again on the same port); the address target (x) is not a server streambench can stop and start again, and takes no server faults"},
		{pauseOnly{}, "and takes server faults pause"},
	} {
		caps := Caps{Link: "tcp", Target: c.target, TargetName: "address target (x)"}
		if _, err := Compile(sc, caps); err == nil || !strings.Contains(err.Error(), "f.yaml:7:20") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want server faults refused naming the target kind: %q", err, c.want)
		}
	}
	caps := Caps{Link: "tcp", Target: everything{}, TargetName: "x"}
	if _, err := Compile(sc, caps); err != nil {
		t.Fatalf("a target that can restart refused server_restart: %v", err)
	}
}

type pauseOnly struct{}

func (pauseOnly) Pause() error  { return nil }
func (pauseOnly) Resume() error { return nil }

func TestExpand(t *testing.T) {
	sc := parse(t, `  - {at: 10s, kind: sever}
  - {every: 15s, for: 2s, kind: latency, latency: 100ms}
  - {at: 25s, for: 3s, kind: server_restart}
  - {at: 50s, every: 4s, until: 58s, for: 1s, kind: blackhole}
  - {at: 55s, kind: stream_stall, stall: 1s}
`)
	specs, err := Compile(sc, allNet)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range Expand(specs, 60*time.Second) {
		got = append(got, fmt.Sprintf("%s %v-%v", o.Name(), o.Start, o.End))
	}
	want := []string{
		"faults[1] latency #1 0s-2s",
		"faults[0] sever 10s-10s",
		"faults[1] latency #2 15s-17s",
		"faults[2] server_restart 25s-28s",
		"faults[1] latency #3 30s-32s",
		"faults[1] latency #4 45s-47s",
		"faults[3] blackhole #1 50s-51s",
		"faults[3] blackhole #2 54s-55s",
		"faults[4] stream_stall 55s-1m0s",
		"faults[3] blackhole #3 58s-59s",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func members(groups map[string]int) []Member {
	var out []Member
	for _, g := range []string{"pow", "subs"} {
		for i := 0; i < groups[g]; i++ {
			out = append(out, Member{Group: g, ID: i})
		}
	}
	return out
}

func TestPickIsSeeded(t *testing.T) {
	sc := parse(t, "  - {at: 1s, kind: sever, scope: {group: subs, fraction: 0.3}}\n")
	specs, _ := Compile(sc, allNet)
	o := Expand(specs, time.Minute)[0]
	pool := members(map[string]int{"subs": 100, "pow": 10})
	a, b, c := o.Pick(pool, 42), o.Pick(pool, 42), o.Pick(pool, 43)
	if len(a) != 30 {
		t.Fatalf("picked %d, want 30 of 100", len(a))
	}
	for _, m := range a {
		if m.Group != "subs" {
			t.Fatalf("picked outside the scope's group: %+v", m)
		}
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed picked different members")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("another seed picked the same members (vanishingly unlikely)")
	}
	if got := o.ScopeText(len(a), 100); got != "group subs, 30%: 30 of 100" {
		t.Fatalf("scope text %q", got)
	}
}

// fakeEnv records what the timeline did, at which fake-clock offset.
type fakeEnv struct {
	mu    sync.Mutex
	clk   *clock.Fake
	start time.Time
	log   []string
}

func (e *fakeEnv) note(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, fmt.Sprintf("%v ", e.clk.Now().Sub(e.start))+fmt.Sprintf(format, args...))
}

func (e *fakeEnv) Network(o Occurrence, conns []Member) (func() error, error) {
	e.note("net %s on %v", o.Name(), conns)
	return func() error { e.note("net revert %s", o.Name()); return nil }, nil
}
func (e *fakeEnv) StopServer(grace time.Duration) bool { e.note("stop grace=%v", grace); return true }
func (e *fakeEnv) Pause() error                        { e.note("pause"); return nil }
func (e *fakeEnv) Resume() error                       { e.note("resume"); return nil }
func (e *fakeEnv) StartServer() error                  { e.note("start"); return nil }
func (e *fakeEnv) SetMaxConnectionAge(age, grace time.Duration) {
	e.note("age %v %v", age, grace)
}
func (e *fakeEnv) Event(kind, fault, detail string) {}

// Target: the fake is its own target, with every capability.
func (e *fakeEnv) Target() any { return e }

func runTimeline(t *testing.T, seed int64) []string {
	t.Helper()
	sc := parse(t, `  - {at: 10s, kind: sever, scope: {fraction: 0.5}}
  - {at: 20s, for: 3s, kind: server_restart}
  - {every: 30s, for: 5s, kind: blackhole, scope: {group: subs}}
  - {at: 40s, for: 5s, kind: stream_abort, status: Unavailable, scope: {group: pow, fraction: 0.5}}
`)
	specs, err := Compile(sc, allNet)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1000, 0)
	clk := clock.NewFake(start)
	env := &fakeEnv{clk: clk, start: start}
	tl := &Timeline{
		Occurrences: Expand(specs, time.Minute), Streams: NewStreams(seed),
		Clients: members(map[string]int{"pow": 4, "subs": 10}), Conns: members(map[string]int{"pow": 1, "subs": 5}),
		Seed: seed, Clock: clk,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan []Applied)
	go func() { done <- tl.Run(ctx, start, env) }()
	var applied []Applied
	for step := 0; ; step++ {
		if step > 120 {
			t.Fatal("timeline did not finish within 120 fake seconds")
		}
		// Advance only once the timeline is parked on the clock (or done).
		deadline := time.Now().Add(5 * time.Second)
		for clk.Waiters() == 0 && time.Now().Before(deadline) {
			select {
			case applied = <-done:
				goto finished
			default:
				time.Sleep(100 * time.Microsecond)
			}
		}
		clk.Advance(time.Second)
	}
finished:
	if len(applied) != 5 {
		t.Fatalf("applied %d occurrences, want 5", len(applied))
	}
	return env.log
}

// TestTimelineReplays proves the same scenario and seed inject the same
// faults, on the same members, at the same offsets.
func TestTimelineReplays(t *testing.T) {
	a, b := runTimeline(t, 7), runTimeline(t, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs with seed 7 differ:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	want := []string{
		"0s net faults[2] blackhole #1 on [{subs 0} {subs 1} {subs 2} {subs 3} {subs 4}]",
		"5s net revert faults[2] blackhole #1",
		"20s stop grace=0s",
		"23s start",
		"30s net faults[2] blackhole #2 on [{subs 0} {subs 1} {subs 2} {subs 3} {subs 4}]",
		"35s net revert faults[2] blackhole #2",
	}
	joined := strings.Join(a, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("log lacks %q:\n%s", w, joined)
		}
	}
	if !strings.Contains(joined, "10s net faults[0] sever on [") {
		t.Errorf("sever not applied at 10s:\n%s", joined)
	}
}
