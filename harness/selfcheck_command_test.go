package harness_test

import (
	"github.com/streambench/streambench"

	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/testenv"
)

// serveBinary builds streambench once per test binary (bounded).
func serveBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "streambench")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/streambench").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// asCommandTarget adapts scenario sc to run against the reference servers
// as a process streambench starts — `streambench serve` on {port}, with the
// builtin target's settings as flags (and a planted bug with --faulty) —
// instead of in process. What the adaptation changes, and why:
//   - the link is tcp (bufconn cannot reach another process);
//   - server restarts become pauses (SIGSTOP for their for:, 1 s when
//     none): a restarted process loses the feed's memory, which the
//     in-process restart keeps on purpose, so resubscribers would wait for
//     seqs the new process has not reached;
//   - stream faults are dropped (through the proxy they would need, they
//     are tested on their own: streamproxy_test.go);
//   - pprof is served on a free port, so the target's goroutines are
//     evidence for leaks: none.
func asCommandTarget(t *testing.T, sc *scenario.Scenario, bin, bug string) *scenario.Scenario {
	t.Helper()
	out := sc.Clone()
	b := out.Target.Builtin
	if b == nil {
		b = &scenario.Builtin{}
	}
	pprof := freePort(t)
	argv := []string{bin, "serve", "--addr", "127.0.0.1:{port}", "--pprof", "127.0.0.1:" + pprof}
	if f := b.Feed; f.Rate > 0 {
		argv = append(argv, "--rate", f.Rate.String())
	}
	if f := b.Feed; f.Payload > 0 {
		argv = append(argv, "--payload", f.Payload.String())
	}
	if f := b.Feed; f.Ring > 0 {
		argv = append(argv, "--ring", strconv.Itoa(f.Ring))
	}
	if f := b.Feed; f.Queue > 0 {
		argv = append(argv, "--queue", strconv.Itoa(f.Queue))
	}
	if m := b.Server.MaxConcurrentStreams; m > 0 {
		argv = append(argv, "--max-concurrent-streams", strconv.Itoa(int(m)))
	}
	if k := b.Server.Keepalive; k.MinTime > 0 {
		argv = append(argv, "--keepalive-min-time", k.MinTime.String())
	}
	if bug != "" {
		argv = append(argv, "--faulty", bug)
	}
	out.Target = scenario.Target{Command: argv, Ready: &scenario.Ready{Timeout: scenario.Duration(30 * time.Second)},
		Pprof: "http://127.0.0.1:" + pprof}
	out.Link = scenario.Link{Kind: scenario.LinkTCP}
	var faults []scenario.Fault
	for _, f := range sc.Faults {
		switch f.Kind {
		case "server_restart", "graceful_restart":
			f.Kind, f.Params = "pause", nil
			if f.For == 0 {
				f.For = scenario.Duration(time.Second)
			}
		case "stream_abort", "stream_delay", "stream_stall", "max_connection_age":
			continue
		}
		faults = append(faults, f)
	}
	out.Faults = faults
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// TestReferenceServersAsCommandTarget: the reference servers run as a
// process streambench starts pass reconnect.yaml, slow-reader.yaml and
// shutdown.yaml adapted to that target, and every planted bug a
// `serve --faulty NAME` process can show is caught by the same assertion
// as in process — from what the clients observe and from the target's own
// evidence (channelz, pprof), not from the builtin server's counters.
func TestReferenceServersAsCommandTarget(t *testing.T) {
	testenv.Long(t)
	if testing.Short() {
		t.Skip("-short: runs the reference servers as processes")
	}
	bin := serveBinary(t)
	for _, tc := range []struct {
		scenario          string
		compress, clients float64
		bug, assertion    string
		detail            string
	}{
		{"reconnect", 0.2, 0.1, "", "", ""},
		{"reconnect", 0.2, 0.1, "subscribe_ignores_from_seq", "no_loss: subscribers", "subscribers:"},
		{"reconnect", 0.2, 0.1, "subscribe_replays_previous", "no_duplicates", "subscribers:"},
		{"slow-reader", 0.5, 0.2, "", "", ""},
		{"slow-reader", 0.5, 0.2, "subscribe_single_loop_fanout", "isolation: {bound: 250ms, factor: 3, group: fast}", "stalled"},
		{"shutdown", 1, 0.25, "", "", ""},
		{"shutdown", 1, 0.25, "subscribe_ignores_cancel", "leaks: none", "calls in flight"},
		{"shutdown", 1, 0.25, "sqrt_leaks_goroutine", "leaks: none", "pprof goroutines"},
	} {
		t.Run(fmt.Sprintf("%s/bug=%s", tc.scenario, tc.bug), func(t *testing.T) {
			sc := loadScenario(t, tc.scenario)
			if tc.bug != "" && tc.scenario == "slow-reader" {
				// The planted bug must fail isolation even under -race.
				var err error
				if sc, err = streambench.Load("../scenarios/slow-reader.yaml"); err != nil {
					t.Fatal(err)
				}
			}
			rep := runScaled(t, asCommandTarget(t, sc, bin, tc.bug), tc.compress, tc.clients)
			if rep.TargetProcess == nil || rep.Server != nil {
				t.Fatalf("not run against a process: %+v, server %+v", rep.TargetProcess, rep.Server)
			}
			if tc.bug == "" {
				requirePassed(t, rep)
				return
			}
			requireCaught(t, rep, tc.assertion, tc.detail)
		})
	}
}
