package streambench_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const loopbackScenario = `name: loopback
duration: 1s
graceful_stop: 2s
target: {kind: loopback}
groups:
  - {name: pow, rpc: Math/Pow, clients: 4, messages: 5}
faults:
  - {at: 200ms, kind: sever, scope: {fraction: 0.5}}
assert:
  - pow.streams.established > 0
`

// TestThrowawayTargetKind: a kind of target outside the engine is its own
// file plus one registration line; a scenario runs against it, and a fault
// it has no capability for is refused at validation, naming the kind.
func TestThrowawayTargetKind(t *testing.T) {
	sc, err := scenario.Decode("loopback.yaml", []byte(loopbackScenario))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := streambench.Run(ctx, sc, harness.WithTargetKind(loopbackKind)) // the registration line
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.Target != "loopback" || rep.Link != "bufconn" {
		t.Fatalf("passed %v, target %q, link %q; failed: %v", rep.Passed, rep.Target, rep.Link, rep.Failed())
	}
	if g := rep.Groups[0]; g.Streams.Ended == 0 || len(rep.Faults) != 1 {
		t.Fatalf("streams ended %d, fault windows %d: the run did not stream and sever", g.Streams.Ended, len(rep.Faults))
	}

	for _, c := range []struct{ fault, want string }{
		{"{at: 200ms, kind: server_restart}", "faults[1].kind: server_restart acts on the target's server (a command target's process: SIGKILL, then started again on the same port); the loopback target is not a server streambench can stop and start again, and takes no server faults"},
		{"{at: 200ms, kind: stream_abort, status: Unavailable}", "faults[1].kind: stream_abort acts at the target's gRPC layer; the loopback target is not a server running streambench's stream interceptor"},
	} {
		src := strings.Replace(loopbackScenario, "assert:", "  - "+c.fault+"\nassert:", 1)
		sc, err := scenario.Decode("loopback.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		_, err = streambench.NewPlan(sc, harness.WithTargetKind(loopbackKind))
		if err == nil || !strings.Contains(err.Error(), "loopback.yaml:9:") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("plan error:\n%v\nwant at loopback.yaml:9 %q", err, c.want)
		}
	}

	// Without the registration line the kind is unknown, naming the ones
	// there are.
	if _, err := streambench.NewPlan(sc); err == nil || !strings.Contains(err.Error(), `target.kind: unknown target kind "loopback"; valid choices: builtin, address, command or backends`) {
		t.Errorf("unregistered kind: %v", err)
	}
}

// TestEngineImportsNoTarget: the engine (harness and its packages) links no
// target and not protocompile; only this package assembles them.
func TestEngineImportsNoTarget(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./harness/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/streambench/streambench/targets") || strings.Contains(p, "protocompile") {
			t.Errorf("the engine depends on %s", p)
		}
	}
}
