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

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

// Unsubscribe pacing: the call itself is bounded by UnsubscribeTimeout; an
// answer found=false before the first update arrived is retried (the
// Unsubscribe may have overtaken the Subscribe it is meant to end) with a
// growing pause, for at most unsubscribeRetryFor.
const (
	// UnsubscribeTimeout bounds each Unsubscribe call the driver makes.
	UnsubscribeTimeout = 5 * time.Second

	unsubscribeRetryFor   = 2 * time.Second
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
}

// NewDriver returns the Subscribe driver of one client (a driver.Factory).
//
// Each Stream subscribes with id p.ID from the next seq the client needs
// (0 before the first update and after an OutOfRange), records each
// update's latency from its sent_unix_nano, counts gaps (record.Gap, n =
// updates lost) and repeats (record.Duplicate), and when stop closes calls
// Unsubscribe and expects the stream to end with OK (class Complete). A
// clean end the client did not ask for is record.PrematureEOF.
func NewDriver(cc grpc.ClientConnInterface, p driver.Params, sink record.Sink) driver.Driver {
	return &subscribeDriver{client: pb.NewLonglivedClient(cc), p: p, sink: sink}
}

var _ driver.Factory = NewDriver

// Stream runs one Subscribe stream to its end. See driver.Driver.
func (d *subscribeDriver) Stream(ctx, stop context.Context) record.End {
	d.sink.Started()
	opened := time.Now()
	var (
		sctx   context.Context
		cancel context.CancelFunc
	)
	if d.p.StreamTimeout > 0 {
		sctx, cancel = context.WithTimeout(ctx, d.p.StreamTimeout)
	} else {
		sctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()

	stream, err := d.client.Subscribe(sctx, &pb.SubscribeRequest{Id: d.p.ID, FromSeq: d.next})
	if err != nil {
		return d.ended(sctx, err, opened, 0)
	}

	// When stop is cancelled, ask the server to end the stream. The
	// callback runs in its own goroutine only once stop fires (no idle
	// watcher per stream); Stream waits for it before returning.
	var (
		asked    atomic.Bool // Unsubscribe was sent: a clean end is Complete
		received atomic.Bool // an update arrived (the server knows us)
		wg       sync.WaitGroup
	)
	done := make(chan struct{})
	uctx, ucancel := context.WithCancel(ctx)
	wg.Add(1)
	stopWatch := context.AfterFunc(stop, func() {
		defer wg.Done()
		d.unsubscribe(uctx, done, &asked, &received)
	})

	var n uint64
	for {
		u, rerr := stream.Recv()
		if rerr != nil {
			err = rerr
			break
		}
		d.sink.Received(time.Duration(time.Now().UnixNano() - u.GetSentUnixNano()))
		seq := u.GetSeq()
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
	}
	close(done)
	ucancel()
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
	return d.ended(sctx, err, opened, n)
}

// unsubscribe asks the server to end this client's stream, retrying a
// found=false answer while nothing has arrived yet (the Unsubscribe may have
// overtaken the Subscribe). It gives up when done closes or ctx ends.
func (d *subscribeDriver) unsubscribe(ctx context.Context, done <-chan struct{}, asked, received *atomic.Bool) {
	req := &pb.UnsubscribeRequest{Id: d.p.ID}
	deadline := time.Now().Add(unsubscribeRetryFor)
	pause := unsubscribeRetryFirst
	for {
		asked.Store(true)
		cctx, cancel := context.WithTimeout(ctx, UnsubscribeTimeout)
		resp, err := d.client.Unsubscribe(cctx, req)
		cancel()
		if err != nil || resp.GetFound() || received.Load() || time.Now().After(deadline) {
			// Not found after updates arrived: the stream is ending on its
			// own; its own end is what gets classified.
			return
		}
		t := time.NewTimer(pause)
		select {
		case <-done:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause = min(2*pause, unsubscribeRetryMax)
	}
}

// ended classifies a stream that ended with err (not a clean EOF).
func (d *subscribeDriver) ended(sctx context.Context, err error, opened time.Time, n uint64) record.End {
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
