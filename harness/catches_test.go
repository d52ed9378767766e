package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/testenv"
)

// The fast self-check. The long tests (internal/testenv.Long: TestReconnect,
// TestShutdown, TestSlowReader, TestReferenceServersAsCommandTarget) run the
// scenario files against every planted bug; here each planted bug they
// catch is caught by the same assertion on the cheapest run that shows it —
// a scenario cut down to the one fault or teardown the bug needs — so the
// README's `go test -race ./...` still proves every assertion can fail.

// reconnectFast is reconnect.yaml cut to its first fault: one sever of
// every connection, which every subscriber rides out by resubscribing from
// the next seq it needs.
const reconnectFast = `name: reconnect-fast
seed: 42
duration: 3s
graceful_stop: 1s
target:
  builtin:
    feed: {rate: 50/s, payload: 256B, ring: 20000, queue: 4096}
link: tcp
groups:
  - name: subscribers
    rpc: Longlived/Subscribe
    clients: 60
    connections: 4
    reconnect: {base: 50ms, multiplier: 1.6, jitter: 0.2, max: 1s}
    idle: 5s
  - {name: pow, rpc: Math/Pow, clients: 20, connections: 2, messages: 20, interval: 20ms}
faults:
  - {at: 1s, kind: sever}
assert:
  - no_loss: subscribers
  - no_duplicates
  - eof: clean
  - correct
`

// shutdownFast is shutdown.yaml scaled down: streams of every kind open
// when the run ends, and subscribers that leave by their deadline.
const shutdownFast = `name: shutdown-fast
seed: 11
duration: 2s
graceful_stop: 1s
target:
  builtin:
    feed: {rate: 50/s, payload: 128B}
groups:
  - {name: subscribe, rpc: Longlived/Subscribe, clients: 40, connections: 2}
  - {name: leavers, rpc: Longlived/Subscribe, clients: 20, connections: 1, stream_timeout: 500ms}
  - {name: pow, rpc: Math/Pow, clients: 20, connections: 2, messages: 1000, base: 1, interval: 20ms}
  - {name: sqrt, rpc: Math/Sqrt, clients: 20, connections: 2, messages: 1000, interval: 20ms}
assert:
  - leaks: {settle: 2s}
`

// TestPlantedBugsCaughtFast: each scenario passes against the correct
// servers (so a failure against a bug is the bug's), and each bug fails the
// assertion meant for it, with its evidence.
func TestPlantedBugsCaughtFast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src, bug, assertion, detail string
	}{
		{"reconnect", reconnectFast, "", "", ""},
		{"reconnect", reconnectFast, "subscribe_ignores_from_seq", "no_loss: subscribers", "subscribers:"},
		{"reconnect", reconnectFast, "subscribe_replays_previous", "no_duplicates", "subscribers:"},
		{"reconnect", reconnectFast, "pow_nil_on_cancel", "eof: clean", "returned OK after their stream was cancelled"},
		{"reconnect", reconnectFast, "client_reset_as_eof", "eof: clean", "clean EOF"},
		{"shutdown", shutdownFast, "", "", ""},
		{"shutdown", shutdownFast, "subscribe_ignores_cancel", "leaks: {settle: 2s}", "faulty.(*ignoresCancel).Subscribe"},
		{"shutdown", shutdownFast, "sqrt_leaks_goroutine", "leaks: {settle: 2s}", "faulty.(*sqrtLeak).heartbeat"},
		{"shutdown", shutdownFast, "client_skips_close", "leaks: {settle: 2s}", "grpcsync.(*CallbackSerializer).run"},
	} {
		t.Run(tc.name+"/bug="+tc.bug, func(t *testing.T) {
			if tc.name == "reconnect" {
				// No leak assertion: these runs go side by side.
				t.Parallel()
			} else if testenv.Isolate(t) {
				// The shutdown runs judge the process's goroutines
				// (leaks): each in a process of its own.
				return
			}
			sc, err := scenario.Parse(tc.name+"-fast.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			var opts []harness.Option
			if tc.bug != "" {
				opts = append(opts, bug(t, tc.bug)...)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := streambench.Run(ctx, sc, opts...)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if tc.bug == "" {
				requirePassed(t, rep)
				if g := rep.Group("subscribers"); tc.name == "reconnect" && (g.Outages.Opened == 0 || g.Recovery.Count == 0) {
					t.Fatalf("the sever broke no subscriber: %+v", g.Outages)
				}
				return
			}
			requireCaught(t, rep, tc.assertion, tc.detail)
		})
	}
	// The single-loop fan-out stalls every subscriber behind the slowest:
	// isolation fails even under -race (it is judged here).
	t.Run("slow-reader/bug=subscribe_single_loop_fanout", func(t *testing.T) {
		sc, err := streambench.Load("../scenarios/slow-reader.yaml")
		if err != nil {
			t.Fatal(err)
		}
		rep := runScaled(t, sc, 0.25, 0.2, bug(t, "subscribe_single_loop_fanout")...)
		requireCaught(t, rep, "isolation: {bound: 250ms, factor: 3, group: fast}", "stalled")
	})
}
