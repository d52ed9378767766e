package generic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/streambench/streambench/harness/clock"
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
	// for every message; builders their prepared builders (a driver copies
	// them, each with a message of its own).
	reqs     []*Template
	builders []builder
	perMsg   bool
	expect   *expectation
	message  int // messages per client/bidi stream (list form: len(reqs))
	// lockstep: a request uses the last response ({{last.F}}), so a bidi
	// stream waits for each answer before the next request; otherwise it
	// pipelines.
	lockstep bool
	// resumes: a request asks for the sequence from the last response on
	// (a client resuming after a reconnect), so the sequence runs on across
	// the client's streams; otherwise each stream starts its own.
	resumes bool
	// codec is the call option of the call's wire codec.
	codec grpc.CallOption
	// maxes are the paths of the templates' max. variables (Vars.Max).
	maxes []*seqSpec
	// unbuilt counts the requests that could not be built during the run;
	// firstUnbuilt is the first one's error (RunErrors).
	unbuilt      atomic.Uint64
	firstUnbuilt atomic.Pointer[error]
	// covers is the covers oracle of a watcher group (nil: none), with
	// the paths it reads; acks feed the oracles covering this group's
	// writes (none: nothing is read).
	covers     *coverOracle
	coverEvent intPath
	coverFrom  *intPath
	acks       []ackSink
}

// RunErrors says how many requests could not be built during the run,
// and why the first could not (rpc.RunErrors).
func (c *Call) RunErrors() []error {
	n := c.unbuilt.Load()
	if n == 0 {
		return nil
	}
	return []error{fmt.Errorf("%d request(s) of %s could not be built (each ended its stream as a violation); first: %w", n, c.name, *c.firstUnbuilt.Load())}
}

// Method is the call's full method name.
func (c *Call) Method() string { return c.name }

// driverOf is one client's generic driver.
type gdriver struct {
	c    *Call
	cc   grpc.ClientConnInterface
	p    driver.Params
	sink record.Sink

	vars     Vars
	sendRand *rand.Rand // a pipelined sender's
	builders []builder
	// resp are three response messages used in turn: the one received
	// last (vars.Last) and the last accepted (vars.Accepted) stay readable
	// while the next is received into a third.
	resp     [3]*dynamicpb.Message
	last     *dynamicpb.Message // the last response received (vars.Last)
	accepted *dynamicpb.Message // the last accepted (vars.Accepted)
	seqc     seqChecker
	// cover is the client's watcher of a covers oracle (nil: none).
	cover *coverWatcher
	// seqSink is the sink's SeqSink, when it is one.
	seqSink record.SeqSink
	// violations of the stream in flight: how many, and the first of each
	// kind, in the order they came.
	nviol  uint64
	firsts [8]firstViol
	nfirst int
	// unmarshal reuses its options across messages.
	unmarshal protojson.UnmarshalOptions
	// wd is the stream in flight's idle watchdog (nil: groups[].idle
	// off); got counts the stream's responses, for its end's detail.
	wd  *driver.Watchdog
	got int
}

// firstViol is the first violation of one kind in a stream.
type firstViol struct {
	kind   record.Kind
	detail string
}

// NewDriver returns the driver of a client of a generic call group; p.Setup
// holds the group's *Call.
func NewDriver(cc grpc.ClientConnInterface, p driver.Params, sink record.Sink) driver.Driver {
	c := p.Setup.(*Call)
	d := &gdriver{c: c, cc: cc, p: p, sink: sink, builders: append([]builder(nil), c.builders...)}
	for i := range d.builders {
		d.builders[i].one = nil
	}
	for i := range d.resp {
		d.resp[i] = dynamicpb.NewMessage(c.method.Output())
	}
	d.vars = Vars{Client: int(p.ID), Now: time.Now, Rand: rand.New(rand.NewPCG(p.Seed, uint64(p.ID)))}
	if len(c.maxes) > 0 {
		d.vars.Max = make([]Highest, len(c.maxes))
	}
	d.sendRand = rand.New(rand.NewPCG(p.Seed, uint64(p.ID)|1<<63))
	d.seqc.spec = c.expect.seq
	d.seqSink, _ = sink.(record.SeqSink)
	if c.covers != nil {
		d.cover = c.covers.watcher(int(p.ID), c.coverFrom)
	}
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
	d.nviol, d.nfirst, d.got = 0, 0, 0
	if !d.c.resumes {
		d.seqc.reset()
	} else {
		d.seqc.resume()
	}
	parent := ctx
	d.wd = nil
	if d.p.Idle > 0 {
		// The watchdog covers opening the stream too, and every wait
		// for the server but the client's own pacing: a control plane
		// that stops pushing without an error ends as idle_timeout.
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		ctx = sctx
		d.wd = driver.NewWatchdog(d.p.Idle, start, scancel)
		defer d.wd.Stop()
	}
	end, detail := d.run(ctx)
	if d.wd != nil && d.wd.Fired() && parent.Err() == nil {
		// The stream was silent for idle, however its end then read (a
		// server may answer the cancel with a clean end that arrives
		// first).
		end, detail = record.End{Class: record.Idle}, fmt.Sprintf("no response for %v (after %d responses)", d.p.Idle, d.got)
	}
	if d.nviol > 0 {
		// A stream that broke a promise ends as a violation, whatever
		// its own end (as the reference drivers do).
		d2 := fmt.Sprintf("%d violation(s), first %s", d.nviol, d.firstViols())
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
	st, err := d.cc.NewStream(ctx, &d.c.desc, d.c.name, d.c.codec)
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
	if d.c.desc.ClientStreams && d.c.desc.ServerStreams && !d.c.lockstep {
		return d.pipelined(ctx, st, n)
	}
	got := 0
	sentAt := time.Now()
	for i := range n {
		req, err := d.request(i)
		if err != nil {
			return record.End{Class: record.Violation}, err.Error()
		}
		if i > 0 {
			if d.wd != nil {
				d.wd.Paused() // the client's own pacing is not the server's silence
			}
			if !d.pace(ctx) {
				return d.finish(ctx, ctx.Err(), got)
			}
			if d.wd != nil {
				d.wd.Waiting(time.Now())
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
			// Bidi in lockstep (a request uses the last response): each
			// request is answered before the next.
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

// pace waits the interval between two requests; false if ctx ended first.
func (d *gdriver) pace(ctx context.Context) bool {
	return clock.Sleep(ctx, d.p.Interval)
}

// request builds request i with the driver's variables.
func (d *gdriver) request(i int) (any, error) { return d.requestWith(i, &d.vars) }

// requestWith builds request i with vars (a pipelined sender has its own).
// It is a *wireMsg where the builder encodes to the wire, else a message.
func (d *gdriver) requestWith(i int, vars *Vars) (any, error) {
	b := &d.builders[0]
	if d.c.perMsg {
		// A list shorter than the messages repeats its last entry.
		b = &d.builders[min(i, len(d.builders)-1)]
	}
	vars.Index = i
	var (
		m   any
		err error
	)
	if b.wire != nil {
		m, err = b.buildWire(vars)
	} else {
		m, err = b.build(vars, d.unmarshal)
	}
	if err != nil {
		err = fmt.Errorf("request %d: %w", i, err)
		d.c.unbuilt.Add(1)
		d.c.firstUnbuilt.CompareAndSwap(nil, &err)
		return nil, err
	}
	return m, nil
}

// recv receives response i (from is when the latency clock started
// without a server timestamp) and checks it.
func (d *gdriver) recv(st grpc.ClientStream, i int, from time.Time) error {
	m := d.resp[0]
	for _, r := range d.resp {
		if r != d.last && r != d.accepted {
			m = r
			break
		}
	}
	// The codec resets m (as proto.Unmarshal does): not twice.
	if err := st.RecvMsg(m); err != nil {
		return err
	}
	now := time.Now()
	lat := now.Sub(from)
	if d.wd != nil {
		d.wd.Waiting(now) // from now on, waiting for the next response
	}
	d.got++
	if d.cover != nil || len(d.c.acks) > 0 {
		d.covers(m, from)
	}
	x := d.c.expect
	before := d.nviol
	for i, spec := range d.c.maxes {
		spec.highest(m, &d.vars.Max[i])
	}
	// A control response (no data: data_field unset, or no sequence value
	// in the lists the sequence reads) is neither data nor a gap: not a
	// message received, so not back to live either, and not checked.
	control := x.data != nil && !hasField(m, x.data)
	if !control && x.seq != nil && d.seqc.observe(m, d) == 0 && x.seq.lists && x.data == nil {
		control = true
	}
	if !control {
		if x.ts != nil {
			if v, fd, err := valueAt(m, x.ts); err == nil {
				if ns, ok := intOf(v, fd); ok {
					lat = max(time.Duration(time.Now().UnixNano()-ns), 0)
				}
			}
		}
		d.sink.Received(lat)
		d.vars.Index = i
		for _, v := range x.check(m, i, &d.vars) {
			d.violate(v.kind, 1, v.detail)
		}
	}
	if c := d.c.expect.count; c > 0 && i+1 > c {
		d.violate(record.Extra, 1, fmt.Sprintf("response %d beyond the %d expected", i+1, c))
	}
	d.last = m
	d.vars.Last = m
	if !control && d.nviol == before {
		// Accepted: a data response that broke no expectation.
		d.accepted = m
		d.vars.Accepted = m
	}
	return nil
}

// violate counts n violations of kind k; the stream's first is its end's
// detail.
func (d *gdriver) violate(k record.Kind, n uint64, detail string) {
	d.sink.Violated(k, n)
	if d.wants(k) && d.nfirst < len(d.firsts) {
		d.firsts[d.nfirst] = firstViol{k, detail}
		d.nfirst++
	}
	d.nviol += n
}

// wants reports whether a violation of kind k would be the stream's first
// of its kind, whose detail the stream's end keeps (seqOut).
func (d *gdriver) wants(k record.Kind) bool {
	for _, f := range d.firsts[:d.nfirst] {
		if f.kind == k {
			return false
		}
	}
	return true
}

// seq passes a sequence value on to the sink (seqOut).
func (d *gdriver) seq(v int64) {
	if d.seqSink != nil && v >= 0 {
		d.seqSink.Seq(uint64(v))
	}
}

// firstViols is the first violation of each kind, "gap: ...; duplicate: ...".
func (d *gdriver) firstViols() string {
	var b strings.Builder
	for i, f := range d.firsts[:d.nfirst] {
		if i > 0 {
			b.WriteString("; first ")
		}
		b.WriteString(f.kind.String() + ": " + f.detail)
	}
	return b.String()
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

// pipelined runs a bidi stream whose requests do not depend on its
// responses: a sender goroutine sends the n requests (paced) while this one
// receives, each response's latency taken from the send time of the
// request it answers (in order: the i-th from the i-th). The sender is
// always waited for.
func (d *gdriver) pipelined(ctx context.Context, st grpc.ClientStream, n int) (record.End, string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sent := make(chan time.Time, n)
	var sendErr error
	// The sender's own variables: the receiver sets Index too, and draws
	// from its own random source.
	vars := d.vars
	vars.Rand = d.sendRand
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			req, err := d.requestWith(i, &vars)
			if err != nil {
				sendErr = err
				cancel()
				return
			}
			if i > 0 && !d.pace(ctx) {
				return
			}
			sent <- time.Now()
			if err := st.SendMsg(req); err != nil {
				return // RecvMsg says how the stream ended
			}
			d.sink.Sent()
		}
		_ = st.CloseSend()
	}()
	got := 0
	last := time.Now()
	var err error
	for {
		select {
		case last = <-sent:
		default: // more responses than requests: from the previous one
		}
		if err = d.recv(st, got, last); err != nil {
			break
		}
		got++
	}
	cancel()
	wg.Wait()
	if sendErr != nil {
		return record.End{Class: record.Violation}, sendErr.Error()
	}
	return d.finish(ctx, err, got)
}

// covers feeds the covers oracles: a watcher's response, a writer's
// acknowledgement (the request answered was sent at sent).
func (d *gdriver) covers(m *dynamicpb.Message, sent time.Time) {
	now := time.Now()
	if d.cover != nil {
		d.cover.response(m, d.c.coverEvent, now)
	}
	for _, a := range d.c.acks {
		a.acked(m, sent, now)
	}
}
