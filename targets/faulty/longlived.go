package faulty

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/targets/longlived"
	pb "github.com/streambench/streambench/targets/proto"
)

// Names of the planted Longlived bugs (the harness and CLI select by name).
const (
	SubscribeSkipsSeq         = "subscribe_skips_seq"
	SubscribeIgnoresFromSeq   = "subscribe_ignores_from_seq"
	SubscribeReplaysPrevious  = "subscribe_replays_previous"
	SubscribeSingleLoopFanout = "subscribe_single_loop_fanout"
)

// SkipEvery is subscribe_skips_seq's period: updates whose seq is a multiple
// of it are silently dropped.
const SkipEvery = 10

func longlivedBugs() []Bug {
	return []Bug{
		{
			Name:        SubscribeSkipsSeq,
			Description: "Subscribe silently drops every update whose seq is a multiple of 10.",
			Longlived:   SkipSeq,
		},
		{
			Name:        SubscribeIgnoresFromSeq,
			Description: "Subscribe ignores from_seq and starts with the next update, so a resubscriber loses what it missed.",
			Longlived:   IgnoreFromSeq,
		},
		{
			Name:        SubscribeReplaysPrevious,
			Description: "Subscribe resumes one update early (from_seq-1), so a resubscriber sees a duplicate.",
			Longlived:   ReplayPrevious,
		},
		{
			Name: SubscribeSingleLoopFanout,
			Description: "A naive fan-out: one publisher loop delivers each update to each subscriber in turn and waits " +
				"for its Send, so one slow reader stalls everybody. It runs its own feed (the wrapped server's " +
				"Config, no replay ring) and owns a goroutine: the returned server implements io.Closer and " +
				"must be closed.",
			Longlived: func(s pb.LonglivedServer) pb.LonglivedServer {
				cfg := longlived.Config{Rate: 100}
				if c, ok := s.(interface{ Config() longlived.Config }); ok {
					cfg = c.Config()
				}
				f := NewSingleLoopFanout(cfg)
				f.Start()
				return f
			},
		},
	}
}

// SkipSeq wraps s so that Subscribe streams silently drop every update whose
// seq is a multiple of SkipEvery (Send returns nil without sending).
func SkipSeq(s pb.LonglivedServer) pb.LonglivedServer { return skipSeq{s} }

type skipSeq struct{ pb.LonglivedServer }

func (w skipSeq) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.Update]) error {
	return w.LonglivedServer.Subscribe(req, skippingStream{stream})
}

type skippingStream struct {
	grpc.ServerStreamingServer[pb.Update]
}

func (s skippingStream) Send(u *pb.Update) error { return s.SendMsg(u) }

// SendMsg drops the update too, so a server that calls SendMsg directly is
// affected the same way.
func (s skippingStream) SendMsg(m any) error {
	if u, ok := m.(*pb.Update); ok && u.GetSeq()%SkipEvery == 0 {
		return nil
	}
	return s.ServerStreamingServer.SendMsg(m)
}

// IgnoreFromSeq wraps s so that Subscribe treats every from_seq as 0.
func IgnoreFromSeq(s pb.LonglivedServer) pb.LonglivedServer { return ignoreFromSeq{s} }

type ignoreFromSeq struct{ pb.LonglivedServer }

func (w ignoreFromSeq) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.Update]) error {
	return w.LonglivedServer.Subscribe(&pb.SubscribeRequest{Id: req.GetId()}, stream)
}

// ReplayPrevious wraps s so that Subscribe resumes at from_seq-1 when
// from_seq > 1.
func ReplayPrevious(s pb.LonglivedServer) pb.LonglivedServer { return replayPrevious{s} }

type replayPrevious struct{ pb.LonglivedServer }

func (w replayPrevious) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.Update]) error {
	from := req.GetFromSeq()
	if from > 1 {
		from--
	}
	return w.LonglivedServer.Subscribe(&pb.SubscribeRequest{Id: req.GetId(), FromSeq: from}, stream)
}

// SingleLoopFanout is the long-lived streaming tutorial's naive server: one
// publisher loop hands each update to each subscriber in turn and waits
// until that subscriber's Send returned before moving to the next, so one
// slow reader (whose Send blocks on flow control) stalls publication for
// everybody. It is otherwise correct: contiguous seqs, Unsubscribe ends the
// stream with OK, a newer Subscribe with the same id ends the old one with
// Aborted, Close ends streams with Unavailable, and handlers return when
// their client goes away. It keeps no replay ring: from_seq 0 or last+1
// start with the next update, a later from_seq starts when it arrives, an
// earlier one is OutOfRange.
//
// The Send itself runs on the stream's handler goroutine (a Send from
// another goroutine after the handler returned is unsafe); the publisher
// waits for it, which is the same stall.
type SingleLoopFanout struct {
	pb.UnimplementedLonglivedServer

	cfg     longlived.Config
	payload []byte

	pubMu sync.Mutex // serialises Publish: one update fans out at a time

	mu      sync.Mutex
	last    uint64
	subs    map[int32]*loopSub
	started bool
	closed  bool
	live    int

	closing chan struct{}
	wg      sync.WaitGroup
}

type loopSub struct {
	from uint64
	in   chan *pb.Update // publisher -> handler, unbuffered
	ack  chan struct{}   // handler -> publisher after each Send, buffer 1
	end  chan struct{}   // closed when the server ends the stream
	err  error           // written before end closes
	gone chan struct{}   // closed when the handler returns
}

// NewSingleLoopFanout returns a naive fan-out server with its own feed
// (cfg.Rate, cfg.Payload; Ring and Queue are unused). Start starts its
// publisher when Rate > 0; Close stops it.
func NewSingleLoopFanout(cfg longlived.Config) *SingleLoopFanout {
	if cfg.Payload < 0 {
		cfg.Payload = 0
	}
	return &SingleLoopFanout{
		cfg:     cfg,
		payload: make([]byte, cfg.Payload),
		subs:    make(map[int32]*loopSub),
		closing: make(chan struct{}),
	}
}

// Start starts the publisher loop when Rate > 0. Idempotent; a no-op after
// Close.
func (f *SingleLoopFanout) Start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started || f.closed || f.cfg.Rate <= 0 {
		return
	}
	f.started = true
	f.wg.Add(1)
	go f.loop()
}

// Close stops the publisher, waits for it and ends every stream with
// Unavailable. A handler stuck in a Send to a reader that does not read
// returns when that Send does (the client reads or leaves, or the gRPC
// server stops). Idempotent; always returns nil.
func (f *SingleLoopFanout) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.closing)
	for id, sub := range f.subs {
		f.endLocked(id, sub, errLoopClosing)
	}
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}

// Subscribers returns how many Subscribe handlers are running.
func (f *SingleLoopFanout) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

// LastSeq returns the seq of the last published update.
func (f *SingleLoopFanout) LastSeq() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

var (
	errLoopClosing  = status.Error(codes.Unavailable, "server closing")
	errLoopReplaced = status.Error(codes.Aborted, "replaced by a newer Subscribe with the same id")
)

func (f *SingleLoopFanout) endLocked(id int32, sub *loopSub, err error) {
	delete(f.subs, id)
	sub.err = err
	close(sub.end)
}

func (f *SingleLoopFanout) loop() {
	defer f.wg.Done()
	interval := time.Duration(float64(time.Second) / f.cfg.Rate)
	if interval < time.Millisecond {
		interval = time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	var published uint64
	for {
		select {
		case <-f.closing:
			return
		case now := <-t.C:
			// Updates due by now; a stalled loop catches up in a burst.
			for due := uint64(now.Sub(start).Seconds() * f.cfg.Rate); published < due; published++ {
				if f.Publish() == 0 {
					return
				}
			}
		}
	}
}

// Publish publishes one update and delivers it to every subscriber in turn,
// waiting for each one's Send. It returns the update's seq, or 0 once
// closed.
func (f *SingleLoopFanout) Publish() uint64 {
	f.pubMu.Lock()
	defer f.pubMu.Unlock()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return 0
	}
	f.last++
	u := &pb.Update{Seq: f.last, SentUnixNano: time.Now().UnixNano(), Payload: f.payload}
	subs := make([]*loopSub, 0, len(f.subs))
	for _, sub := range f.subs {
		if u.Seq >= sub.from {
			subs = append(subs, sub)
		}
	}
	f.mu.Unlock()

	for _, sub := range subs {
		select {
		case sub.in <- u:
		case <-sub.gone:
			continue
		case <-sub.end:
			continue
		case <-f.closing:
			return u.Seq
		}
		select {
		case <-sub.ack:
		case <-sub.gone:
		case <-f.closing:
			return u.Seq
		}
	}
	return u.Seq
}

// Subscribe streams updates from the next one (or from a future from_seq).
func (f *SingleLoopFanout) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.Update]) error {
	sub := &loopSub{
		in:   make(chan *pb.Update),
		ack:  make(chan struct{}, 1),
		end:  make(chan struct{}),
		gone: make(chan struct{}),
	}
	id := req.GetId()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return errLoopClosing
	}
	from := req.GetFromSeq()
	switch {
	case from == 0:
		sub.from = f.last + 1
	case from <= f.last:
		last := f.last
		f.mu.Unlock()
		return status.Errorf(codes.OutOfRange, "from_seq %d is too old: no replay (last %d)", from, last)
	default:
		sub.from = from
	}
	if old := f.subs[id]; old != nil {
		f.endLocked(id, old, errLoopReplaced)
	}
	f.subs[id] = sub
	f.live++
	f.mu.Unlock()

	defer func() {
		f.mu.Lock()
		if f.subs[id] == sub {
			delete(f.subs, id)
		}
		f.live--
		f.mu.Unlock()
		close(sub.gone)
	}()

	ctx := stream.Context()
	for {
		select {
		case <-sub.end:
			return sub.err
		case <-ctx.Done():
			return status.FromContextError(context.Cause(ctx)).Err()
		case u := <-sub.in:
			err := stream.Send(u)
			sub.ack <- struct{}{}
			if err != nil {
				return err
			}
		}
	}
}

// Unsubscribe ends id's stream with OK and reports whether it had one.
func (f *SingleLoopFanout) Unsubscribe(_ context.Context, req *pb.UnsubscribeRequest) (*pb.UnsubscribeResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sub := f.subs[req.GetId()]
	if sub != nil {
		f.endLocked(req.GetId(), sub, nil)
	}
	return &pb.UnsubscribeResponse{Found: sub != nil}, nil
}
