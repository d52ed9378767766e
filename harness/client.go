package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/metadata"

	"github.com/streambench/streambench/harness/clock"
	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/load"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
)

// client is one simulated client: a driver, its sink and its pacing.
type client struct {
	id      int32
	tr      *transport // per-stream metadata
	streams int        // opened so far
	d       driver.Driver
	sink    *record.Client
	group   string
	index   int // within its group
	start   time.Duration
	repeat  bool
	pause   time.Duration
	backoff driver.Backoff
	rnd     *rand.Rand
	// tag: send the group and index as metadata (only stream faults read
	// them; at 100,000 streams they cost every stream a header map on
	// the server).
	tag bool
}

// newClient builds client index of group g, with run-wide id.
func (r *run) newClient(g *group, index int, id int32) *client {
	spec := g.spec
	entry, _ := r.p.rpcs.Lookup(spec.RPC) // the plan validated it
	p := driver.Params{
		ID:            id,
		Messages:      spec.Messages,
		Interval:      spec.Interval.D(),
		Payload:       int(spec.Payload),
		StreamTimeout: spec.StreamTimeout.D(),
		Read: driver.ReadMode{
			Delay:      spec.Read.Delay.D(),
			StallAfter: spec.Read.StallAfter.D(),
			StallFor:   spec.Read.StallFor.D(),
			Stop:       spec.Read.Stop,
		},
		Idle:      spec.Idle.D(),
		AfterStop: g.stopper.AfterStop,
		Setup:     g.setup,
		Seed:      uint64(r.seed)*0x9e3779b97f4a7c15 ^ uint64(id),
	}
	if entry.Configure != nil {
		entry.Configure(spec, &p)
	}
	sink := g.rec.Client(int(id))
	conn := g.share.localConnFor[index%g.share.totalConns]
	st := g.stats[conn]
	st.clients++
	if g.share.totalConns > 1 {
		sink = g.rec.ClientOn(int(id), &st.latency)
	}
	cc := g.conns[conn]
	return &client{
		id:      id,
		tr:      &r.p.tr,
		d:       entry.Factory(cc, p, sink),
		sink:    sink,
		group:   spec.Name,
		index:   index,
		start:   spec.Start.D(),
		repeat:  spec.RepeatOrDefault(),
		pause:   spec.Pause.D(),
		backoff: backoffOf(spec),
		// Jitter draws come from the scenario's seed and the client's id.
		rnd: rand.New(rand.NewPCG(uint64(r.seed), uint64(id))),
		tag: r.p.streamFaults(),
	}
}

func backoffOf(g scenario.Group) driver.Backoff {
	rc := scenario.DefaultReconnect
	if g.Reconnect != nil {
		rc = *g.Reconnect
	}
	return driver.Backoff{Base: rc.Base.D(), Max: rc.Max.D(), Multiplier: rc.Multiplier, Jitter: rc.Jitter}.WithDefaults()
}

// dialOptions are the options of group g's ClientConns beyond the link's.
func (r *run) dialOptions(g scenario.Group) []grpc.DialOption {
	b := backoffOf(g)
	opts := []grpc.DialOption{
		// The ClientConn reconnects with the group's backoff too, so
		// recovery measures the target, not gRPC's 1s..120s default.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: b.Base, Multiplier: b.Multiplier, Jitter: b.Jitter, MaxDelay: b.Max},
			MinConnectTimeout: time.Second,
		}),
	}
	if g.Keepalive.Time > 0 || g.Keepalive.Timeout > 0 {
		opts = append(opts, driver.KeepaliveDialOption(g.Keepalive.Time.D(), g.Keepalive.Timeout.D()))
	}
	if w := int32(g.Window); w > 0 {
		opts = append(opts, grpc.WithInitialWindowSize(w), grpc.WithInitialConnWindowSize(w))
	}
	if g.Buffers.Write > 0 {
		opts = append(opts, grpc.WithWriteBufferSize(int(g.Buffers.Write)))
	}
	if g.Buffers.Read > 0 {
		opts = append(opts, grpc.WithReadBufferSize(int(g.Buffers.Read)))
	}
	if g.Buffers.SharedWrite {
		opts = append(opts, grpc.WithSharedWriteBuffer(true))
	}
	if v := r.cfg.variant; v != nil && v.Client != nil {
		opts = append(opts, grpc.WithChainStreamInterceptor(v.Client))
	}
	return opts
}

// withMetadata tags ctx with the client's group and index: the server side
// reads them to scope stream faults. Set once per client, not per stream,
// and only when the plan has stream faults.
func (c *client) withMetadata(ctx context.Context) context.Context {
	if !c.tag {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, fault.MDGroup, c.group, fault.MDClient, strconv.Itoa(c.index))
}

// streamContext is ctx for the client's next stream: with the target's
// per-stream metadata rendered for it, when there is any.
func (c *client) streamContext(ctx context.Context) context.Context {
	kv := c.tr.streamMetadata(c.id, c.group, c.streams)
	c.streams++
	if kv == nil {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// runIntervals is a closed-loop client's life under the group's stages:
// active in each interval (offsets from start), idle between them. An
// interval that runs to the group's end (`whole`) ends with stop itself: a
// timer per client firing at the same instant as stop would only add
// 100,000 goroutines to the end of a 100,000-client run.
func (c *client) runIntervals(ctx, stop context.Context, start time.Time, spans []load.Interval, whole time.Duration) {
	ctx = c.withMetadata(ctx)
	for _, sp := range spans {
		if d := time.Until(start.Add(c.start + sp.From)); d > 0 && !wait(ctx, stop, d) {
			return
		}
		if sp.To >= whole {
			c.loop(ctx, stop)
			return
		}
		// Leaving the interval is a soft stop: the stream in flight
		// finishes (a subscriber unsubscribes).
		spanStop, cancel := context.WithDeadline(stop, start.Add(c.start+sp.To))
		c.loop(ctx, spanStop)
		cancel()
		if stop.Err() != nil || ctx.Err() != nil {
			return
		}
	}
}

// loop runs streams one after another until stop, with the group's pause
// after a good stream and its backoff after failed ones.
func (c *client) loop(ctx, stop context.Context) {
	attempt := 0
	for stop.Err() == nil && ctx.Err() == nil {
		before := c.sink.Messages()
		end := c.d.Stream(c.streamContext(ctx), stop)
		if !c.repeat {
			return
		}
		wait_ := c.pause
		if failed(end) {
			if c.sink.Messages() > before {
				attempt = 0 // this stream delivered: a fresh outage
			}
			wait_ = max(wait_, c.backoff.Delay(attempt, c.rnd))
			attempt++
		} else {
			attempt = 0
		}
		if wait_ > 0 && !wait(ctx, stop, wait_) {
			return
		}
	}
}

func failed(e record.End) bool {
	return e.Class != record.Complete && e.Class != record.Canceled
}

// wait sleeps d unless ctx or stop ends first; it reports whether it slept.
func wait(ctx, stop context.Context, d time.Duration) bool {
	return clock.SleepOr(ctx.Done(), stop.Done(), d)
}

// readText describes a group's read mode for reports ("" at full speed).
func readText(r scenario.Read) string {
	var parts []string
	if r.Delay > 0 {
		parts = append(parts, "delay "+r.Delay.String())
	}
	switch {
	case r.Stop:
		parts = append(parts, fmt.Sprintf("stop after %s", r.StallAfter))
	case r.StallFor > 0:
		parts = append(parts, fmt.Sprintf("stall %s after %s", r.StallFor, r.StallAfter))
	}
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ", "
		}
		out += p
	}
	return out
}
