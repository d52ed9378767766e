package faulty

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/streambench/streambench/targets/proto"
)

// Names of the planted leaks (the harness and CLI select by name).
const (
	SubscribeIgnoresCancel        = "subscribe_ignores_cancel"
	SqrtLeaksGoroutine            = "sqrt_leaks_goroutine"
	SubscribeStrandsOnResubscribe = "subscribe_strands_on_resubscribe"
)

// StrandLimit bounds how long a planted leak holds a goroutine it stranded
// when nobody calls Release, so a forgotten leak does not outlive a test
// process by much.
const StrandLimit = time.Minute

// Leak is implemented by the servers the planted leaks' wrappers return.
// The leak check runs while the goroutines are stranded; Release comes
// after it. (Deliberately not io.Closer: the builtin target closes a
// Longlived wrapper that has Close() error when it stops, which is before
// the leak check, and would erase the evidence.)
type Leak interface {
	// Stranded is how many goroutines the bug holds right now.
	Stranded() int
	// Release ends every stranded goroutine (each returns what it would
	// have returned) and makes the bug let later ones go at once.
	// Idempotent.
	Release()
}

func leakBugs() []Bug {
	return []Bug{
		{
			Name: SubscribeIgnoresCancel,
			Description: "A Subscribe handler whose client went away (cancel, deadline, lost connection) does not " +
				"return but waits on, like the long-lived tutorial's `case <-fin:` branch that logs and loops, so " +
				"the leak check finds goroutines in faulty.(*ignoresCancel).Subscribe, the server's live " +
				"subscriber count above zero and, while it serves, calls in flight in channelz.",
			Longlived: IgnoreCancel,
		},
		{
			Name: SqrtLeaksGoroutine,
			Description: "Sqrt starts a heartbeat goroutine per stream that never watches the stream's context, so " +
				"every Sqrt stream leaves one goroutine in faulty.(*sqrtLeak).heartbeat behind (the handlers " +
				"themselves return: channelz and the registries stay at zero, only the goroutine check sees it).",
			Math: LeakSqrtGoroutine,
		},
		{
			Name: SubscribeStrandsOnResubscribe,
			Description: "A Subscribe with the id of a live stream strands the old stream: its handler blocks " +
				"instead of ending with Aborted, even after its client leaves, so the leak check finds goroutines " +
				"in faulty.(*strandsOnResubscribe).Subscribe, live subscribers above zero and, while the server " +
				"serves, calls in flight in channelz.",
			Longlived: StrandOnResubscribe,
		},
	}
}

// strands is what the leaks share: a release channel and a count of the
// goroutines held.
type strands struct {
	once sync.Once
	rel  chan struct{}
	held atomic.Int64
}

func newStrands() *strands { return &strands{rel: make(chan struct{})} }

// Stranded implements Leak.
func (s *strands) Stranded() int { return int(s.held.Load()) }

// Release implements Leak.
func (s *strands) Release() { s.once.Do(func() { close(s.rel) }) }

// ---- subscribe_ignores_cancel ----

// IgnoreCancel wraps s so that a Subscribe handler whose client went away
// does not return until Release (or StrandLimit). The returned server
// implements Leak and Subscribers() int (handlers that have not returned).
func IgnoreCancel(s pb.LonglivedServer) pb.LonglivedServer {
	return &ignoresCancel{LonglivedServer: s, strands: newStrands()}
}

type ignoresCancel struct {
	pb.LonglivedServer
	*strands
	live atomic.Int64
}

// Subscribers returns how many Subscribe handlers have not returned.
func (w *ignoresCancel) Subscribers() int { return int(w.live.Load()) }

func (w *ignoresCancel) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.Update]) error {
	w.live.Add(1)
	defer w.live.Add(-1)
	err := w.LonglivedServer.Subscribe(req, stream)
	if stream.Context().Err() == nil {
		return err
	}
	// The client is gone. The tutorial's handler logs "client left" in
	// its `case <-fin:` branch and goes round its loop again instead of
	// returning; this one waits the same way, just without the logging.
	w.held.Add(1)
	defer w.held.Add(-1)
	limit := time.NewTimer(StrandLimit)
	defer limit.Stop()
	for {
		select {
		case <-w.rel:
			return err
		case <-limit.C:
			return err
		}
	}
}

// ---- subscribe_strands_on_resubscribe ----

// StrandOnResubscribe wraps s so that a Subscribe stream replaced by a newer
// Subscribe with the same id (the correct server ends it with Aborted) does
// not end: its handler blocks, whatever its client does, until Release (or
// StrandLimit), then returns Aborted. The returned server implements Leak
// and Subscribers() int.
func StrandOnResubscribe(s pb.LonglivedServer) pb.LonglivedServer {
	return &strandsOnResubscribe{LonglivedServer: s, strands: newStrands()}
}

type strandsOnResubscribe struct {
	pb.LonglivedServer
	*strands
	live atomic.Int64
}

// Subscribers returns how many Subscribe handlers have not returned.
func (w *strandsOnResubscribe) Subscribers() int { return int(w.live.Load()) }

func (w *strandsOnResubscribe) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.Update]) error {
	w.live.Add(1)
	defer w.live.Add(-1)
	err := w.LonglivedServer.Subscribe(req, stream)
	if status.Code(err) != codes.Aborted {
		return err
	}
	// Replaced: the old stream should end with Aborted; it is left
	// waiting for an end that never comes.
	w.held.Add(1)
	defer w.held.Add(-1)
	limit := time.NewTimer(StrandLimit)
	defer limit.Stop()
	select {
	case <-w.rel:
	case <-limit.C:
	}
	return err
}

// ---- sqrt_leaks_goroutine ----

// LeakSqrtGoroutine wraps s so that each Sqrt stream starts a goroutine
// that outlives it: it ends only at Release (or StrandLimit). The returned
// server implements Leak.
func LeakSqrtGoroutine(s pb.MathServer) pb.MathServer {
	return &sqrtLeak{MathServer: s, strands: newStrands()}
}

type sqrtLeak struct {
	pb.MathServer
	*strands
}

func (w *sqrtLeak) Sqrt(stream grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
	w.held.Add(1)
	go w.heartbeat(stream.Context())
	return w.MathServer.Sqrt(stream)
}

// heartbeat is meant to report the stream's progress until the stream
// ends, but never looks at ctx.Done(): it keeps the stream's context (and
// what it references) alive until Release.
func (w *sqrtLeak) heartbeat(ctx context.Context) {
	defer w.held.Add(-1)
	limit := time.NewTimer(StrandLimit)
	defer limit.Stop()
	select {
	case <-w.rel:
	case <-limit.C:
	}
	_ = ctx
}
