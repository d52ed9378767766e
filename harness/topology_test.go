package harness_test

import (
	"fmt"
	"testing"
)

// TestOpenWaitShowsStreamLimit: 12 clients on one connection to a server
// that allows 3 streams at once; 9 must wait in the open call for a slot,
// and the report says so. With the limit lifted nobody waits.
func TestOpenWaitShowsStreamLimit(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	const src = `name: slots
duration: 2s
graceful_stop: 3s
target:
  builtin:
    server: {max_concurrent_streams: %s}
groups:
  - {name: pow, rpc: Math/Pow, clients: 12, connections: 1, messages: 5, interval: 40ms}
`
	limited := runInline(t, sprintf(src, "3"))
	requirePassed(t, limited)
	ow := limited.Group("pow").OpenWait
	if ow == nil || ow.PeakWaiting < 6 || ow.MaxMS < 50 {
		t.Fatalf("open wait with 12 clients on 3 slots = %+v, want several waiting at once for a stream's length (200ms)", ow)
	}
	free := runInline(t, sprintf(src, "0"))
	requirePassed(t, free)
	if ow := free.Group("pow").OpenWait; ow == nil || ow.MaxMS >= 50 {
		t.Fatalf("open wait without a stream limit = %+v, want no wait near a stream's length", ow)
	}
}

// TestEstablishedAndPerConnection: every subscriber is counted established
// once the server answered, all-open is reported, and with two
// connections each has its own figures that add up to the group's.
func TestEstablishedAndPerConnection(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	rep := runInline(t, `name: conns
duration: 2s
graceful_stop: 3s
target:
  builtin:
    feed: {rate: 50/s}
groups:
  - {name: subs, rpc: Longlived/Subscribe, clients: 40, connections: 2}
  - {name: sum, rpc: Math/Sum, clients: 2, messages: 5}
assert:
  - no_loss
`)
	requirePassed(t, rep)
	g := rep.Group("subs")
	if g.Streams.Established != 40 || g.Open == nil || g.Open.Count != 40 || g.AllOpenSeconds <= 0 {
		t.Fatalf("subs: established %d, open %+v, all open at %v; want 40, 40 and > 0", g.Streams.Established, g.Open, g.AllOpenSeconds)
	}
	if len(g.ConnStats) != 2 {
		t.Fatalf("subs: %d per-connection entries, want 2", len(g.ConnStats))
	}
	var msgs uint64
	for _, c := range g.ConnStats {
		if c.Clients != 20 || c.Messages == 0 || c.P99MS <= 0 || c.P99MS < c.P50MS || c.MaxMS < c.P99MS/1.125 {
			t.Errorf("conn %d: %+v, want 20 clients, messages and ordered quantiles", c.Index, c)
		}
		msgs += c.Messages
	}
	if msgs != g.Messages.Received {
		t.Errorf("per-connection messages add up to %d, group received %d", msgs, g.Messages.Received)
	}
	if s := rep.Group("sum"); s.Streams.Established == 0 || s.ConnStats != nil {
		t.Errorf("sum: established %d, conn stats %v; want > 0 and none for one connection", s.Streams.Established, s.ConnStats)
	}
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// TestOpeningAssertionsFailOnAStreamLimit: a server that allows 3 streams
// per connection to 6 subscribers sharing one connection. Half of them
// wait in the open call for the whole run, so `all_open` reads never and
// `open_wait.peak == 0` fails; without the limit all_open passes (the
// peak may still count opens that merely overlapped).
func TestOpeningAssertionsFailOnAStreamLimit(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	const src = `name: slots
duration: 2s
graceful_stop: 2s
target:
  builtin:
    feed: {rate: 20/s}
    server: {max_concurrent_streams: %s}
groups:
  - {name: subs, rpc: Longlived/Subscribe, clients: 6, connections: 1}
assert:
  - subs.all_open < 1s
  - subs.open_wait.peak == 0
`
	limited := runInline(t, sprintf(src, "3"))
	for _, v := range limited.Assertions {
		if v.Pass {
			t.Errorf("%s passed with 6 subscribers on 3 stream slots (actual %s)", v.Name, v.Actual)
		}
	}
	if v := limited.Assertions[0]; v.Actual != "never" {
		t.Errorf("all_open actual = %q, want never", v.Actual)
	}
	free := runInline(t, sprintf(src, "0"))
	for _, v := range free.Assertions {
		if !v.Pass && v.Name != "subs.open_wait.peak == 0" {
			t.Errorf("%s failed without a stream limit: %s", v.Name, v.Actual)
		}
	}
}
