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
}

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
