package generic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
)

// Call is a group's generic call, prepared once (Setup) and shared by its
// clients' drivers: the resolved method, its request templates and its
// expectations.
type Call struct {
	name   string // "/package.Service/Method"
	method protoreflect.MethodDescriptor
	desc   grpc.StreamDesc
	// reqs are the request templates: one per message (list form), or one
	// for every message.
	reqs    []*Template
	perMsg  bool
	expect  *expectation
	message int // messages per client/bidi stream (list form: len(reqs))
	// resumes: a request asks for the sequence from the last response on
	// (a client resuming after a reconnect), so the sequence runs on across
	// the client's streams; otherwise each stream starts its own.
	resumes bool
}

// Method is the call's full method name.
func (c *Call) Method() string { return c.name }

// driverOf is one client's generic driver.
type gdriver struct {
	c    *Call
	cc   grpc.ClientConnInterface
	p    driver.Params
	sink record.Sink

	vars    Vars
	last    *dynamicpb.Message // the last response received (vars.Last)
	seqNext int64              // the next sequence value expected
	seqSeen bool
	// violations of the stream in flight: how many, and the first.
	nviol     uint64
	firstViol string
	// unmarshal reuses its options across messages.
	unmarshal protojson.UnmarshalOptions
}

// NewDriver returns the driver of a client of a generic call group; p.Setup
// holds the group's *Call.
func NewDriver(cc grpc.ClientConnInterface, p driver.Params, sink record.Sink) driver.Driver {
	c := p.Setup.(*Call)
	d := &gdriver{c: c, cc: cc, p: p, sink: sink}
	d.vars = Vars{Client: int(p.ID), Now: time.Now, Rand: rand.New(rand.NewPCG(p.Seed, uint64(p.ID)))}
	return d
}

// Stream runs one stream of the call to its end.
func (d *gdriver) Stream(ctx, stop context.Context) record.End {
	if d.p.StreamTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.p.StreamTimeout)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if d.c.desc.ServerStreams && !d.c.desc.ClientStreams && d.c.expect.count == 0 && d.c.expect.atLeast == 0 {
		// An open-ended server stream (a feed) ends when the run stops.
		defer d.p.OnStop(stop, cancel)()
	}
	start := time.Now()
	d.sink.Started()
	d.nviol, d.firstViol = 0, ""
	if !d.c.resumes {
		d.seqSeen = false
	}
	end, detail := d.run(ctx)
	if d.nviol > 0 {
		// A stream that broke a promise ends as a violation, whatever
		// its own end (as the reference drivers do).
		d2 := fmt.Sprintf("%d violation(s), first %s", d.nviol, d.firstViol)
		if detail != "" {
			d2 += "; stream then ended: " + detail
		}
		end, detail = record.End{Class: record.Violation}, d2
	}
	d.sink.Ended(end, time.Since(start), detail)
	d.vars.Stream++
	return end
}

// run opens the stream, sends and receives by the method's shape.
func (d *gdriver) run(ctx context.Context) (record.End, string) {
	began := time.Now()
	st, err := d.cc.NewStream(ctx, &d.c.desc, d.c.name)
	if err != nil {
		return d.finish(ctx, err, 0)
	}
	if o, ok := d.sink.(record.OpenedSink); ok {
		o.Opened(time.Since(began))
	}
	n := 1
	if d.c.desc.ClientStreams {
		n = d.c.message
	}
	got := 0
	sentAt := time.Now()
	for i := range n {
		req, err := d.request(i)
		if err != nil {
			return record.End{Class: record.Violation}, err.Error()
		}
		if i > 0 && d.p.Interval > 0 {
			t := time.NewTimer(d.p.Interval)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return d.finish(ctx, ctx.Err(), got)
			}
		}
		sentAt = time.Now()
		if err := st.SendMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				break // the server ended the stream: RecvMsg says how
			}
			return d.finish(ctx, err, got)
		}
		d.sink.Sent()
		if d.c.desc.ClientStreams && d.c.desc.ServerStreams {
			// Bidi, ping-pong: each request is answered before the next.
			if err := d.recv(st, got, sentAt); err != nil {
				return d.finish(ctx, err, got)
			}
			got++
		}
	}
	if err := st.CloseSend(); err != nil {
		return d.finish(ctx, err, got)
	}
	for {
		prev := time.Now()
		if got == 0 || d.c.desc.ClientStreams {
			prev = sentAt
		}
		if err := d.recv(st, got, prev); err != nil {
			return d.finish(ctx, err, got)
		}
		got++
		if !d.c.desc.ServerStreams && got > 1 {
			return record.End{Class: record.Violation}, "more than one response to a non-streaming response"
		}
	}
}

// request builds request i.
func (d *gdriver) request(i int) (*dynamicpb.Message, error) {
	t := d.c.reqs[0]
	if d.c.perMsg {
		t = d.c.reqs[i]
	}
	d.vars.Index = i
	m, err := d.requestFrom(t)
	if err != nil {
		return nil, fmt.Errorf("request %d: %w", i, err)
	}
	return m, nil
}

// requestFrom renders t into a request message.
func (d *gdriver) requestFrom(t *Template) (*dynamicpb.Message, error) {
	raw, err := t.Render(&d.vars)
	if err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(d.c.method.Input())
	if err := d.unmarshal.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("does not fit %s: %w", d.c.method.Input().FullName(), err)
	}
	return m, nil
}

// recv receives response i (from is when the latency clock started
// without a server timestamp) and checks it.
func (d *gdriver) recv(st grpc.ClientStream, i int, from time.Time) error {
	m := dynamicpb.NewMessage(d.c.method.Output())
	if err := st.RecvMsg(m); err != nil {
		return err
	}
	lat := time.Since(from)
	if d.c.expect.ts != nil {
		if v, fd, err := valueAt(m, d.c.expect.ts); err == nil {
			if ns, ok := intOf(v, fd); ok {
				lat = max(time.Duration(time.Now().UnixNano()-ns), 0)
			}
		}
	}
	d.sink.Received(lat)
	d.vars.Index = i
	for _, v := range d.c.expect.check(m, i, &d.vars) {
		d.violate(v.kind, 1, v.detail)
	}
	d.sequence(m)
	d.last = m
	d.vars.Last = m
	if c := d.c.expect.count; c > 0 && i+1 > c {
		d.violate(record.Extra, 1, fmt.Sprintf("response %d beyond the %d expected", i+1, c))
	}
	return nil
}

// sequence checks the sequence field across the client's streams.
func (d *gdriver) sequence(m protoreflect.Message) {
	if d.c.expect.seq == nil {
		return
	}
	v, fd, err := valueAt(m, d.c.expect.seq)
	if err != nil {
		return
	}
	s, _ := intOf(v, fd)
	if ss, ok := d.sink.(record.SeqSink); ok && s >= 0 {
		ss.Seq(uint64(s))
	}
	switch {
	case !d.seqSeen || s == d.seqNext:
	case s > d.seqNext:
		d.violate(record.Gap, uint64(s-d.seqNext), fmt.Sprintf("sequence %d, want %d: %d lost", s, d.seqNext, s-d.seqNext))
	case s == d.seqNext-1:
		d.violate(record.Duplicate, 1, fmt.Sprintf("sequence %d again", s))
	default:
		d.violate(record.Reorder, 1, fmt.Sprintf("sequence %d after %d", s, d.seqNext-1))
	}
	if !d.seqSeen || s >= d.seqNext {
		d.seqNext, d.seqSeen = s+1, true
	}
}

// violate counts n violations of kind k; the stream's first is its end's
// detail.
func (d *gdriver) violate(k record.Kind, n uint64, detail string) {
	d.sink.Violated(k, n)
	if d.nviol == 0 {
		d.firstViol = k.String() + ": " + detail
	}
	d.nviol += n
}

// finish classifies the stream's end: err from the stream (io.EOF is a
// clean end), got responses so far.
func (d *gdriver) finish(ctx context.Context, err error, got int) (record.End, string) {
	x := d.c.expect
	if errors.Is(err, io.EOF) {
		err = nil
	}
	code := status.Code(err)
	if err != nil && code == codes.Unknown && ctx.Err() != nil {
		return driver.Classify(ctx, err), err.Error()
	}
	if code != x.status {
		if err == nil {
			return record.End{Class: record.Violation}, fmt.Sprintf("ended OK, want status %s", x.status)
		}
		if x.status != codes.OK {
			return record.End{Class: record.Violation}, fmt.Sprintf("ended %s, want %s: %v", code, x.status, err)
		}
		return driver.Classify(ctx, err), err.Error()
	}
	if x.count > 0 && got < x.count || x.atLeast > 0 && got < x.atLeast {
		return record.End{Class: record.PrematureEOF}, fmt.Sprintf("clean end after %d responses, want %s", got, x.want())
	}
	return record.End{Class: record.Complete}, ""
}
