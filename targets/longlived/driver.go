package longlived

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/clock"
	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

// Unsubscribe pacing: the call itself is bounded by UnsubscribeTimeout; an
// answer found=false before the first update arrived is retried (the
// Unsubscribe may have overtaken the Subscribe it is meant to end) with a
// growing pause, for as long as the stream lasts: at 100,000 subscribers a
// Subscribe can take seconds to reach the server, and giving up left those
// streams subscribed until the hard stop cancelled them.
const (
	// UnsubscribeTimeout bounds each Unsubscribe call the driver makes.
	UnsubscribeTimeout = 5 * time.Second

	unsubscribeRetryFirst = 5 * time.Millisecond
	unsubscribeRetryMax   = 200 * time.Millisecond
)

// subscribeDriver is one Subscribe client. It remembers the next seq it
// needs across streams, so a new stream resumes where the last one ended.
type subscribeDriver struct {
	client pb.LonglivedClient
	p      driver.Params
	sink   record.Sink
	next   uint64 // next seq needed; 0 = nothing seen (start fresh)
	// seqs keeps the highest seq seen, when the sink does (the feed's
	// rate as subscribers see it).
	seqs record.SeqSink
}

// NewDriver returns the Subscribe driver of one client (a driver.Factory).
//
// Each Stream subscribes with id p.ID from the next seq the client needs
// (0 before the first update and after an OutOfRange), records each
// update's latency from its sent_unix_nano, counts gaps (record.Gap, n =
// updates lost) and repeats (record.Duplicate), and when stop closes calls
// Unsubscribe and expects the stream to end with OK (class Complete). A
// clean end the client did not ask for is record.PrematureEOF.
//
// p.Read makes it a slow reader: it pauses p.Read.Delay after each update
// and stalls once per stream as p.Read says. Once stop closes it pauses no
// more and drains the stream, since the server's status (OK after
// Unsubscribe, or ResourceExhausted for a reader cut off) is queued behind
// the updates flow control holds. p.Idle > 0 arms a watchdog: when no
// update arrives for p.Idle while the client is waiting in Recv (its own
// pauses do not count), the stream is cancelled and ends as record.Idle.
func NewDriver(cc grpc.ClientConnInterface, p driver.Params, sink record.Sink) driver.Driver {
	d := &subscribeDriver{client: pb.NewLonglivedClient(cc), p: p, sink: sink}
	d.seqs, _ = sink.(record.SeqSink)
	return d
}

var _ driver.Factory = NewDriver

// Stream runs one Subscribe stream to its end. See driver.Driver.
func (d *subscribeDriver) Stream(ctx, stop context.Context) record.End {
	d.sink.Started()
	opened := time.Now()
	// A context of the stream's own only when something must cancel it (a
	// stream timeout or the idle watchdog): the loop below reads until Recv
	// fails, and grpc-go has ended the stream by then. At 100,000
	// subscribers each context is one more child in the client context's
	// map, held for the stream's life.
	sctx, cancel := ctx, context.CancelFunc(func() {})
	switch {
	case d.p.StreamTimeout > 0:
		sctx, cancel = context.WithTimeout(ctx, d.p.StreamTimeout)
	case d.p.Idle > 0:
		sctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()

	// The watchdog covers opening the stream too: NewStream waits while the
	// connection is (re)connecting, which a blackhole can make last.
	var wd *driver.Watchdog
	if d.p.Idle > 0 {
		wd = driver.NewWatchdog(d.p.Idle, opened, cancel)
		defer wd.Stop()
	}

	stream, err := d.client.Subscribe(sctx, &pb.SubscribeRequest{Id: d.p.ID, FromSeq: d.next})
	if err != nil {
		return d.ended(ctx, sctx, wd, err, opened, 0)
	}
	// Established once the server answers: the reference server sends its
	// response headers as soon as the subscription is registered (others
	// with their first update). A failure shows again in Recv.
	if o, ok := d.sink.(record.OpenedSink); ok {
		if _, herr := stream.Header(); herr == nil {
			o.Opened(time.Since(opened))
		}
	}

	rd := reader{mode: d.p.Read, opened: opened, stop: stop, ctx: sctx, wd: wd}
	defer rd.close()

	// When stop is cancelled, ask the server to end the stream. The
	// callback runs in its own goroutine only once stop fires (no idle
	// watcher per stream); Stream waits for it before returning. Its
	// context is made when it runs, not held by every stream all along;
	// the stream's end cancels it.
	var (
		asked    atomic.Bool // Unsubscribe was sent: a clean end is Complete
		received atomic.Bool // an update arrived (the server knows us)
		wg       sync.WaitGroup
		uc       unsubCancel
	)
	done := make(chan struct{})
	wg.Add(1)
	stopWatch := d.p.OnStop(stop, func() {
		defer wg.Done()
		uctx, ok := uc.start(ctx)
		if !ok {
			return // the stream already ended
		}
		d.unsubscribe(uctx, done, &asked, &received)
	})

	var n uint64
	for {
		if rd.stallPending() {
			rd.stall()
		}
		u, rerr := stream.Recv()
		if rerr != nil {
			err = rerr
			break
		}
		now := time.Now()
		if wd != nil {
			wd.Waiting(now) // from now on, waiting for the next update
		}
		d.sink.Received(time.Duration(now.UnixNano() - u.GetSentUnixNano()))
		seq := u.GetSeq()
		if d.seqs != nil {
			d.seqs.Seq(seq)
		}
		switch {
		case d.next == 0 || seq == d.next:
		case seq > d.next:
			d.sink.Violated(record.Gap, seq-d.next)
		default:
			d.sink.Violated(record.Duplicate, 1)
		}
		if seq >= d.next {
			d.next = seq + 1
		}
		if n == 0 {
			received.Store(true)
		}
		n++
		if d.p.Read.Delay > 0 {
			rd.pause(d.p.Read.Delay)
		}
	}
	close(done)
	uc.end()
	if stopWatch() {
		wg.Done() // the callback never ran and now never will
	}
	wg.Wait()

	if errors.Is(err, io.EOF) {
		if asked.Load() {
			return d.end(record.End{Class: record.Complete}, opened, "")
		}
		return d.end(record.End{Class: record.PrematureEOF}, opened,
			fmt.Sprintf("clean EOF after %d updates without Unsubscribe", n))
	}
	return d.ended(ctx, sctx, wd, err, opened, n)
}

// unsubscribe asks the server to end this client's stream, retrying a
// failed call, and a found=false answer while nothing has arrived yet (the
// Unsubscribe may have overtaken the Subscribe). It gives up when done
// closes (the stream ended) or ctx ends.
func (d *subscribeDriver) unsubscribe(ctx context.Context, done <-chan struct{}, asked, received *atomic.Bool) {
	req := &pb.UnsubscribeRequest{Id: d.p.ID}
	pause := unsubscribeRetryFirst
	for {
		asked.Store(true)
		cctx, cancel := context.WithTimeout(ctx, UnsubscribeTimeout)
		resp, err := d.client.Unsubscribe(cctx, req)
		cancel()
		if err == nil && (resp.GetFound() || received.Load()) {
			// Not found after updates arrived: the stream is ending on its
			// own; its own end is what gets classified.
			return
		}
		// Not found before any update (the Subscribe has not reached the
		// server yet), or the call failed (a timeout in a storm, or the
		// connection is gone, in which case the stream ends too and done
		// closes): try again while the stream lasts.
		if !clock.SleepOr(ctx.Done(), done, pause) {
			return
		}
		pause = min(2*pause, unsubscribeRetryMax)
	}
}

// unsubCancel is the context of one stream's Unsubscribe, made only once
// stop fires: start makes it (false once the stream has ended), end cancels
// it and stops later starts.
type unsubCancel struct {
	mu     sync.Mutex
	ended  bool
	cancel context.CancelFunc
}

func (u *unsubCancel) start(parent context.Context) (context.Context, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ended {
		return nil, false
	}
	ctx, cancel := context.WithCancel(parent)
	u.cancel = cancel
	return ctx, true
}

func (u *unsubCancel) end() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.ended = true
	if u.cancel != nil {
		u.cancel()
	}
}

// ended classifies a stream that ended with err (not a clean EOF): as
// record.Idle when the watchdog wd (nil = none) cancelled it, else by
// driver.Classify.
func (d *subscribeDriver) ended(ctx, sctx context.Context, wd *driver.Watchdog, err error, opened time.Time, n uint64) record.End {
	if wd != nil && wd.Fired() && ctx.Err() == nil && status.Code(err) == codes.Canceled {
		return d.end(record.End{Class: record.Idle}, opened,
			fmt.Sprintf("no update for %v (after %d updates)", d.p.Idle, n))
	}
	end := driver.Classify(sctx, err)
	if end.Class == record.Status && end.Code == codes.OutOfRange {
		// The server said our position is gone: start over from the next
		// update. Not a gap: the loss was announced.
		d.next = 0
	}
	return d.end(end, opened, fmt.Sprintf("%v (after %d updates)", err, n))
}

func (d *subscribeDriver) end(e record.End, opened time.Time, detail string) record.End {
	d.sink.Ended(e, time.Since(opened), detail)
	return e
}

// reader paces one stream's reads as its ReadMode says. Its pauses end
// early when stop closes (the client then drains the stream) or ctx ends.
type reader struct {
	mode    driver.ReadMode
	opened  time.Time
	stop    context.Context
	ctx     context.Context
	wd      *driver.Watchdog
	t       *time.Timer // reused by every pause; nil until the first
	stalled bool        // this stream's stall happened
}

// stallPending reports whether the stream's stall is due now.
func (r *reader) stallPending() bool {
	return !r.stalled && r.mode.Stalls() && time.Since(r.opened) >= r.mode.StallAfter
}

// stall stops reading for StallFor, or until stopped when Stop is set.
func (r *reader) stall() {
	r.stalled = true
	if r.mode.Stop {
		r.pause(-1)
		return
	}
	r.pause(r.mode.StallFor)
}

// pause waits d (d < 0: until stop or ctx), or not at all once stop has
// closed. The watchdog does not count it.
func (r *reader) pause(d time.Duration) {
	if r.stop.Err() != nil || r.ctx.Err() != nil {
		return
	}
	if r.wd != nil {
		r.wd.Paused()
	}
	var tc <-chan time.Time
	if d >= 0 {
		if r.t == nil {
			r.t = time.NewTimer(d)
		} else {
			r.t.Reset(d)
		}
		tc = r.t.C
	}
	select {
	case <-tc:
	case <-r.stop.Done():
	case <-r.ctx.Done():
	}
	if r.wd != nil {
		r.wd.Waiting(time.Now())
	}
}

func (r *reader) close() {
	if r.t != nil {
		r.t.Stop()
	}
}
