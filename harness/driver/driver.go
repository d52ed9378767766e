// Package driver defines how the harness drives one client's streams: a
// Driver knows one RPC's protocol, checks it message by message and reports
// what it sees to a record.Sink. The drivers themselves live next to the
// servers whose protocol they speak (targets/longlived, targets/math).
package driver

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/record"
)

// Params are one client's stream parameters, taken from its scenario group.
type Params struct {
	// ID identifies the client, unique in the run (it is the Subscribe id).
	ID int32
	// Messages is the messages per stream (Pow count, Sum/Sqrt requests).
	Messages int
	// Interval is the pause between messages.
	Interval time.Duration
	// Payload is the payload size in bytes.
	Payload int
	// Base is Pow's base.
	Base int64
	// StreamTimeout is a deadline for each stream (0 = none).
	StreamTimeout time.Duration
	// Read is how the client reads a server stream (the zero value reads
	// as fast as it can). Drivers of server-streaming RPCs honour it.
	Read ReadMode
	// Idle is the per-stream idle watchdog: when no message arrives for
	// Idle while the client is reading, the driver cancels the stream and
	// ends it with record.Idle. Time the client spends in its own Read
	// pauses does not count. 0 = off. Unlike keepalive, it detects a
	// blackholed connection in any bounded time.
	Idle time.Duration
	// AfterStop, when set, is how a driver arranges work for when the
	// run's stop begins (a Subscribe client's Unsubscribe): like
	// context.AfterFunc(stop, fn), returning a cancel that reports whether
	// it kept fn from running. The harness sets it to a group's Stopper so
	// those calls go out in bounded waves. Nil means context.AfterFunc.
	AfterStop func(fn func()) (cancel func() bool)
	// Setup is what the RPC's catalog entry prepared for the group once
	// before the run (rpc.Entry.Setup; nil when it has none).
	Setup any
	// Seed seeds the client's random draws (the scenario's seed mixed
	// with the client's id).
	Seed uint64
}

// OnStop runs fn once stop ends, through p.AfterStop when set, else with
// context.AfterFunc. See Params.AfterStop.
func (p Params) OnStop(stop context.Context, fn func()) (cancel func() bool) {
	if p.AfterStop != nil {
		return p.AfterStop(fn)
	}
	return context.AfterFunc(stop, fn)
}

// ReadMode is how a client reads a server stream: as fast as it can (the
// zero value), with a delay after each message, and/or with one stall per
// stream. While the client pauses, stop still ends the stream promptly (the
// driver stops pausing and drains it) and a cancelled ctx ends it at once.
type ReadMode struct {
	// Delay is a pause after each message received: a reader slower than
	// the feed.
	Delay time.Duration
	// StallAfter is when, counted from the stream's start, the client stalls
	// (stops reading). The stall happens once per stream, when the client
	// is next about to read; it is enabled by StallFor > 0 or Stop.
	StallAfter time.Duration
	// StallFor is how long the stall lasts before the client reads again.
	StallFor time.Duration
	// Stop makes the stall last for good: from StallAfter on the client
	// never reads again until it is stopped ({Stop: true} never reads).
	Stop bool
}

// Stalls reports whether m has a stall (StallFor > 0 or Stop).
func (m ReadMode) Stalls() bool { return m.Stop || m.StallFor > 0 }

// Slow reports whether m reads slower than it could (any pause at all).
func (m ReadMode) Slow() bool { return m.Delay > 0 || m.Stalls() }

// Driver runs the streams of one client, one after another, from a single
// goroutine. It may keep state between streams (a Subscribe client
// remembers the next seq it needs).
type Driver interface {
	// Stream opens one stream, runs it to its end, reports it to the sink
	// and returns how it ended. stop is cancelled when the run wants the
	// client to finish: a finite stream is let finish, a Subscribe stream
	// unsubscribes. stop is a context, not a channel, so a driver can react
	// with context.AfterFunc instead of a watcher goroutine per stream (100k
	// streams would otherwise carry 100k idle goroutines). Cancelling ctx
	// aborts the stream at once (class Canceled).
	Stream(ctx, stop context.Context) record.End
}

// Factory builds the Driver of one client.
type Factory func(cc grpc.ClientConnInterface, p Params, sink record.Sink) Driver

type intendedKey struct{}

// WithIntended returns ctx carrying the time the stream was meant to start
// (an open-loop schedule's slot). Drivers measure coordinated-omission
// corrected latency from it.
func WithIntended(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, intendedKey{}, t)
}

// Intended returns when the stream in ctx was meant to start: the
// WithIntended time, else now (a closed-loop stream starts when it is due).
func Intended(ctx context.Context) time.Time {
	if t, ok := ctx.Value(intendedKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}
