package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/testenv"
)

// TestHalfOpenClientHeldNeedsKeepalive: a connection half-open with the
// client's side held is the silent stall of grpc/grpc#16974 — no message
// and no error. A scenario tells which client settings recover within the
// recovery bound. Both groups have a 2 s idle watchdog, which sees the
// stall but cannot cure it: a new stream on the same silent connection
// hangs too. With client keepalive (10 s, the least grpc-go allows, and a
// 1 s ack timeout) the connection is declared dead and the subscribers are
// back about 9 s after the watchdog first fired; without it they hang
// until the half-open ends, 20 s after it began, and the same bound fails.
func TestHalfOpenClientHeldNeedsKeepalive(t *testing.T) {
	testenv.Long(t)
	const src = `name: stall
seed: 3
duration: 24s
graceful_stop: 3s
target:
  builtin:
    feed: {rate: 20/s}
    server: {keepalive: {min_time: 5s}}   # allow the clients' 10 s pings
link: tcp
groups:
  - {name: keepalive, rpc: Longlived/Subscribe, clients: 10, connections: 2, idle: 2s, keepalive: {time: 10s, timeout: 1s}}
  - {name: none, rpc: Longlived/Subscribe, clients: 10, connections: 2, idle: 2s}
faults:
  - {at: 1s, for: 20s, kind: half_open, hold: client}
assert:
  - no_loss
  - keepalive.recovery.max < 13s
  - none.recovery.max < 13s
`
	sc, err := scenario.Decode("stall.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := streambench.Run(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	verdict := map[string]bool{}
	for _, v := range rep.Assertions {
		verdict[v.Name] = v.Pass
		t.Logf("%v %s: %s", v.Pass, v.Name, v.Actual)
	}
	if !verdict["no_loss"] || !verdict["keepalive.recovery.max < 13s"] {
		t.Errorf("with keepalive the subscribers should recover within the bound, losing nothing")
	}
	if verdict["none.recovery.max < 13s"] {
		t.Errorf("without keepalive the subscribers recovered within the bound: the half-open did not stall them")
	}
	if g := rep.Group("none"); g == nil || g.Outages.Opened == 0 || len(rep.Faults) != 1 || rep.Faults[0].Scope != "all connections" {
		t.Errorf("the stall was not measured: outages %+v, fault windows %+v", g.Outages, rep.Faults)
	}
}
