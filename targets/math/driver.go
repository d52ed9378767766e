package math

import (
	"context"
	"fmt"
	"io"
	stdmath "math"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

// The drivers below are driver.Factory values. Each Stream opens one
// stream, calls sink.Started once when it opens it and sink.Ended exactly
// once when it is over, and returns the same End. The streams are finite:
// Stream ignores stop and lets the stream finish; cancelling ctx ends it at
// once (Canceled); Params.StreamTimeout, when positive, is the stream's
// deadline (Deadline). A stream in which any protocol violation was seen
// ends as Violation, whatever its status.
//
// Request and response messages and the payload buffer are made once per
// driver and reused for every message: grpc-go marshals in SendMsg, and
// RecvMsg unmarshals into the message given.
var (
	_ driver.Factory = NewPowDriver
	_ driver.Factory = NewSumDriver
	_ driver.Factory = NewSqrtDriver
)

// ---- Pow (server streaming) ----

type powDriver struct {
	client pb.MathClient
	p      driver.Params
	sink   record.Sink
	count  int32 // messages expected per stream

	req  pb.PowRequest
	resp pb.PowResponse
	seqs seqCheck
	viol violations
	corr corrector
}

// NewPowDriver returns the driver of a Pow client. Each stream asks for
// {base: p.Base, count: p.Messages, interval_nanos: p.Interval,
// payload_bytes: p.Payload} and expects exactly count messages (10 when
// p.Messages is 0) with seq 0…count-1 and value base^seq, then a clean end.
// A clean end before the last message is PrematureEOF.
func NewPowDriver(cc grpc.ClientConnInterface, p driver.Params, sink record.Sink) driver.Driver {
	d := &powDriver{client: pb.NewMathClient(cc), p: p, sink: sink}
	d.req.Base = p.Base
	d.req.Count = clampInt32(p.Messages)
	d.req.IntervalNanos = int64(p.Interval)
	d.req.PayloadBytes = clampInt32(p.Payload)
	d.count = max(PowCount(d.req.Count), 0)
	d.corr = newCorrector(sink, p.Interval)
	return d
}

func (d *powDriver) Stream(ctx, _ context.Context) record.End {
	return oneStream(ctx, d.p.StreamTimeout, d.sink, func(ctx context.Context, _ context.CancelFunc) (record.End, string) {
		return d.run(ctx)
	})
}

func (d *powDriver) run(ctx context.Context) (record.End, string) {
	d.seqs.reset(uint64(d.count))
	d.viol.reset()
	d.corr.begin(ctx, int(d.count))
	began := time.Now()
	stream, err := d.client.Pow(ctx, &d.req)
	if err != nil {
		return driver.Classify(ctx, err), "Pow: open: " + err.Error()
	}
	opened(d.sink, began)
	base := d.req.Base
	want := int64(1) // base^seqs.next
	for {
		err := stream.RecvMsg(&d.resp)
		if err == io.EOF {
			if !d.seqs.complete() {
				return d.viol.end(record.End{Class: record.PrematureEOF},
					fmt.Sprintf("Pow: clean end after %d of %d messages", d.seqs.got, d.count))
			}
			return d.viol.end(record.End{Class: record.Complete}, "")
		}
		if err != nil {
			return d.viol.end(driver.Classify(ctx, err), "Pow: "+err.Error())
		}
		raw := sinceUnixNano(d.resp.SentUnixNano)
		d.sink.Received(raw)
		d.corr.record(d.resp.Seq, raw)
		seq := d.resp.Seq
		var expect int64
		switch r, k, n := d.seqs.observe(seq); r {
		case seqInOrder:
			expect = want
			want *= base
		case seqGap:
			d.viol.add(d.sink, k, n, "Pow: seq %d, want %d", seq, d.seqs.next-1-n)
			expect = powWrap(base, seq)
			want = expect * base
		case seqLate:
			d.viol.add(d.sink, k, n, "Pow: seq %d after seq %d", seq, d.seqs.next-1)
			expect = powWrap(base, seq)
		case seqExtra:
			d.viol.add(d.sink, k, n, "Pow: message %d (seq %d) beyond count %d", d.seqs.got+1, seq, d.count)
			return d.viol.end(record.End{Class: record.Violation}, "") // aborted: the deferred cancel ends the stream
		}
		if d.resp.Value != expect {
			d.viol.add(d.sink, record.WrongValue, 1, "Pow: seq %d: value %d, want %d^%d = %d", seq, d.resp.Value, base, seq, expect)
		}
		if len(d.resp.Payload) != int(d.req.PayloadBytes) {
			d.viol.add(d.sink, record.WrongValue, 1, "Pow: seq %d: payload %d bytes, want %d", seq, len(d.resp.Payload), d.req.PayloadBytes)
		}
	}
}

// ---- Sum (client streaming) ----

type sumDriver struct {
	client pb.MathClient
	p      driver.Params
	sink   record.Sink

	req   pb.SumRequest
	resp  pb.SumResponse
	pace  pacer
	viol  violations
	corr  corrector
	first int64 // value of the first number; the i-th is first+i
}

// NewSumDriver returns the driver of a Sum client. Each stream sends
// p.Messages numbers (the i-th is p.ID+i+1), p.Interval apart, each with
// p.Payload bytes of payload, half-closes and expects their exact sum and
// count (else WrongResult, class Violation). The latency recorded, once per
// stream, is the time from the half-close to the reply.
func NewSumDriver(cc grpc.ClientConnInterface, p driver.Params, sink record.Sink) driver.Driver {
	d := &sumDriver{client: pb.NewMathClient(cc), p: p, sink: sink, first: int64(p.ID) + 1, corr: newCorrector(sink, p.Interval)}
	d.req.Payload = make([]byte, max(p.Payload, 0))
	return d
}

func (d *sumDriver) Stream(ctx, _ context.Context) record.End {
	return oneStream(ctx, d.p.StreamTimeout, d.sink, func(ctx context.Context, _ context.CancelFunc) (record.End, string) {
		return d.run(ctx)
	})
}

func (d *sumDriver) run(ctx context.Context) (record.End, string) {
	d.viol.reset()
	d.corr.begin(ctx, d.p.Messages)
	began := time.Now()
	stream, err := d.client.Sum(ctx)
	if err != nil {
		return driver.Classify(ctx, err), "Sum: open: " + err.Error()
	}
	opened(d.sink, began)
	var (
		sum  int64
		sent uint64
	)
	for i := range max(d.p.Messages, 0) {
		if i > 0 && d.p.Interval > 0 && !d.pace.wait(ctx, d.p.Interval) {
			return driver.Classify(ctx, ctx.Err()), fmt.Sprintf("Sum: ended after %d of %d numbers: %v", sent, d.p.Messages, ctx.Err())
		}
		v := d.first + int64(i)
		d.req.Seq = uint64(i)
		d.req.Value = v
		d.req.SentUnixNano = time.Now().UnixNano()
		if err := stream.Send(&d.req); err != nil {
			if err != io.EOF {
				return driver.Classify(ctx, err), "Sum: send: " + err.Error()
			}
			// The stream is over; its real status comes from RecvMsg.
			err = stream.RecvMsg(&d.resp)
			switch err {
			case nil:
				return record.End{Class: record.PrematureEOF},
					fmt.Sprintf("Sum: server answered {sum %d, count %d} with OK after %d of %d numbers, before the half-close", d.resp.Sum, d.resp.Count, sent, d.p.Messages)
			case io.EOF:
				return record.End{Class: record.PrematureEOF}, fmt.Sprintf("Sum: clean end after %d of %d numbers", sent, d.p.Messages)
			}
			return driver.Classify(ctx, err), fmt.Sprintf("Sum: after %d of %d numbers: %v", sent, d.p.Messages, err)
		}
		d.sink.Sent()
		sum += v
		sent++
	}
	if err := stream.CloseSend(); err != nil {
		return driver.Classify(ctx, err), "Sum: close send: " + err.Error()
	}
	closed := time.Now()
	if err := stream.RecvMsg(&d.resp); err != nil {
		if err == io.EOF {
			return record.End{Class: record.PrematureEOF}, "Sum: clean end without a reply"
		}
		return driver.Classify(ctx, err), "Sum: " + err.Error()
	}
	raw := time.Since(closed)
	d.sink.Received(raw)
	d.corr.record(uint64(max(d.p.Messages-1, 0)), raw) // the reply was due after the last number
	if d.resp.Sum != sum || d.resp.Count != sent {
		d.viol.add(d.sink, record.WrongResult, 1, "Sum: got {sum %d, count %d}, want {sum %d, count %d}", d.resp.Sum, d.resp.Count, sum, sent)
	}
	return d.viol.end(record.End{Class: record.Complete}, "")
}

// ---- Sqrt (bidirectional streaming) ----

type sqrtDriver struct {
	client pb.MathClient
	p      driver.Params
	sink   record.Sink
	n      int // requests per stream
	bytes  int // payload bytes per request

	// Sender goroutine's state.
	req     pb.SqrtRequest
	pace    pacer
	sent    atomic.Uint64 // requests sent so far in this stream
	sendErr error         // why the sender stopped early; read after wg.Wait
	closed  bool          // CloseSend succeeded; read after wg.Wait
	wg      sync.WaitGroup

	// Receiving loop's state.
	resp pb.SqrtResponse
	seqs seqCheck
	viol violations
	corr corrector
}

// NewSqrtDriver returns the driver of a Sqrt client. Each stream is
// pipelined: a sender goroutine sends p.Messages requests (value i+0.5 for
// seq i), p.Interval apart, then half-closes, while the stream's own
// goroutine expects one answer per request, in order, with root
// math.Sqrt(value) and the payload echoed, and records the round-trip
// latency of each. A clean end before every answer arrived is PrematureEOF.
// A server that stops answering but keeps the stream open is only detected
// by Params.StreamTimeout.
//
// The sender goroutine calls sink.Sent while the stream's goroutine calls
// the other Sink methods: the sink must allow that (record's sinks do).
func NewSqrtDriver(cc grpc.ClientConnInterface, p driver.Params, sink record.Sink) driver.Driver {
	d := &sqrtDriver{client: pb.NewMathClient(cc), p: p, sink: sink, n: max(p.Messages, 0), bytes: max(p.Payload, 0)}
	d.req.Payload = make([]byte, d.bytes)
	d.corr = newCorrector(sink, p.Interval)
	return d
}

// sqrtValue is the value the Sqrt driver sends with seq: never a perfect
// square, so a root equal to the seq or the value itself is caught.
func sqrtValue(seq uint64) float64 { return float64(seq) + 0.5 }

func (d *sqrtDriver) Stream(ctx, _ context.Context) record.End {
	return oneStream(ctx, d.p.StreamTimeout, d.sink, d.run)
}

// run drives one stream. It always waits for its sender goroutine.
func (d *sqrtDriver) run(ctx context.Context, cancel context.CancelFunc) (record.End, string) {
	d.seqs.reset(uint64(d.n))
	d.viol.reset()
	d.sent.Store(0)
	d.sendErr, d.closed = nil, false
	d.corr.begin(ctx, d.n)
	began := time.Now()
	stream, err := d.client.Sqrt(ctx)
	if err != nil {
		return driver.Classify(ctx, err), "Sqrt: open: " + err.Error()
	}
	opened(d.sink, began)
	d.wg.Add(1)
	go d.send(ctx, stream)

	end, detail := d.receive(ctx, stream)
	cancel() // stops the sender if it is still pacing or sending
	d.wg.Wait()
	if end.Class == record.Complete && !d.closed {
		// Every answer arrived but the sender failed to half-close.
		end, detail = record.End{Class: record.PrematureEOF}, fmt.Sprintf("Sqrt: clean end before the half-close (sender: %v)", d.sendErr)
	}
	return d.viol.end(end, detail)
}

// send is the sender goroutine.
func (d *sqrtDriver) send(ctx context.Context, stream grpc.BidiStreamingClient[pb.SqrtRequest, pb.SqrtResponse]) {
	defer d.wg.Done()
	for i := range d.n {
		if i > 0 && d.p.Interval > 0 && !d.pace.wait(ctx, d.p.Interval) {
			d.sendErr = ctx.Err()
			return
		}
		d.req.Seq = uint64(i)
		d.req.Value = sqrtValue(uint64(i))
		d.req.SentUnixNano = time.Now().UnixNano()
		if err := stream.Send(&d.req); err != nil {
			d.sendErr = err // io.EOF: the stream is over, RecvMsg tells why
			return
		}
		d.sent.Add(1)
		d.sink.Sent()
	}
	if err := stream.CloseSend(); err != nil {
		d.sendErr = err
		return
	}
	d.closed = true
}

// receive is the receiving loop; its end is judged before the stream's
// context is cancelled.
func (d *sqrtDriver) receive(ctx context.Context, stream grpc.BidiStreamingClient[pb.SqrtRequest, pb.SqrtResponse]) (record.End, string) {
	for {
		err := stream.RecvMsg(&d.resp)
		if err == io.EOF {
			if d.seqs.complete() {
				// Every request was sent and answered: the sender is at
				// most finishing CloseSend; run judges the half-close.
				return record.End{Class: record.Complete}, ""
			}
			return record.End{Class: record.PrematureEOF},
				fmt.Sprintf("Sqrt: clean end after %d answers to %d of %d requests sent", d.seqs.got, d.sent.Load(), d.n)
		}
		if err != nil {
			return driver.Classify(ctx, err), "Sqrt: " + err.Error()
		}
		raw := sinceUnixNano(d.resp.RequestSentUnixNano)
		d.sink.Received(raw)
		d.corr.record(d.resp.Seq, raw)
		seq := d.resp.Seq
		switch r, k, n := d.seqs.observe(seq); r {
		case seqGap:
			d.viol.add(d.sink, k, n, "Sqrt: answer seq %d, want %d", seq, d.seqs.next-1-n)
		case seqLate:
			d.viol.add(d.sink, k, n, "Sqrt: answer seq %d after seq %d", seq, d.seqs.next-1)
		case seqExtra:
			d.viol.add(d.sink, k, n, "Sqrt: answer %d (seq %d) beyond %d requests", d.seqs.got+1, seq, d.n)
			return record.End{Class: record.Violation}, "" // aborted: run cancels the stream
		}
		if want := stdmath.Sqrt(sqrtValue(seq)); d.resp.Root != want {
			d.viol.add(d.sink, record.WrongValue, 1, "Sqrt: seq %d: root %v, want %v", seq, d.resp.Root, want)
		}
		if len(d.resp.Payload) != d.bytes {
			d.viol.add(d.sink, record.WrongValue, 1, "Sqrt: seq %d: payload %d bytes, want %d", seq, len(d.resp.Payload), d.bytes)
		}
	}
}
