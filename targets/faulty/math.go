package faulty

import (
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

// Names of the planted Math bugs (the harness and CLI select by name).
const (
	PowEarlyEOF        = "pow_early_eof"
	SumDropsLast       = "sum_drops_last"
	SqrtStopsAnswering = "sqrt_stops_answering"
	PowNilOnCancel     = "pow_nil_on_cancel"
	PowSlow20Pct       = "pow_slow_20pct"
)

func mathBugs() []Bug {
	return []Bug{
		{
			Name:        PowEarlyEOF,
			Description: "Pow silently drops its last message and ends with OK, so the client sees a clean EOF one message early.",
			Math:        EndPowEarly,
		},
		{
			Name:        SumDropsLast,
			Description: "Sum ignores the last number the client sent: the reply's sum and count leave it out.",
			Math:        DropLastSummand,
		},
		{
			Name: SqrtStopsAnswering,
			Description: "Sqrt answers only the first half of the requests (holding answers back until twice as many " +
				"requests arrived), keeps reading until the client half-closes, then returns OK.",
			Math: StopAnsweringSqrt,
		},
		{
			Name: PowNilOnCancel,
			Description: "Pow returns nil (OK) instead of the broken stream's error when its client goes away mid-stream, " +
				"so the server counts an abandoned stream as a success.",
			Math: IgnorePowCancel,
		},
		{
			Name: PowSlow20Pct,
			Description: "Pow paces its messages 20% further apart than the request's interval asks (60 ms for 50 ms), " +
				"a per-message slowdown that only a comparison with a baseline can catch.",
			Math: SlowPow20Pct,
		},
	}
}

// ---- pow_slow_20pct ----

// SlowPowFactor is how much further apart pow_slow_20pct paces Pow's
// messages than the request asks.
const SlowPowFactor = 1.2

// SlowPow20Pct wraps s so that Pow waits SlowPowFactor × interval_nanos
// between messages instead of interval_nanos: every message after the
// first leaves 20% later than it should (an unpaced Pow is unchanged).
// Values, count and end are correct, so only a regression gate comparing
// stream duration or throughput with a baseline can catch it.
func SlowPow20Pct(s pb.MathServer) pb.MathServer { return slowPow{s} }

type slowPow struct{ pb.MathServer }

func (w slowPow) Pow(req *pb.PowRequest, stream grpc.ServerStreamingServer[pb.PowResponse]) error {
	slow := proto.CloneOf(req)
	slow.IntervalNanos = int64(float64(req.GetIntervalNanos()) * SlowPowFactor)
	return w.MathServer.Pow(slow, stream)
}

// ---- pow_early_eof ----

// EndPowEarly wraps s so that Pow streams send only count-1 messages: the
// stream's Send returns nil without sending the last one, and the handler
// ends with OK.
func EndPowEarly(s pb.MathServer) pb.MathServer { return endPowEarly{s} }

type endPowEarly struct{ pb.MathServer }

func (w endPowEarly) Pow(req *pb.PowRequest, stream grpc.ServerStreamingServer[pb.PowResponse]) error {
	keep := int64(mathsrv.PowCount(req.GetCount())) - 1
	return w.MathServer.Pow(req, &dropAfterStream{ServerStreamingServer: stream, keep: keep})
}

// dropAfterStream sends the first keep messages and silently drops the rest.
type dropAfterStream struct {
	grpc.ServerStreamingServer[pb.PowResponse]
	keep, sent int64
}

func (s *dropAfterStream) Send(m *pb.PowResponse) error { return s.SendMsg(m) }

func (s *dropAfterStream) SendMsg(m any) error {
	if s.sent >= s.keep {
		return nil
	}
	s.sent++
	return s.ServerStreamingServer.SendMsg(m)
}

// ---- sum_drops_last ----

// DropLastSummand wraps s so that Sum's reply leaves out the last number
// received: the stream remembers it and subtracts it from the reply.
func DropLastSummand(s pb.MathServer) pb.MathServer { return dropLastSummand{s} }

type dropLastSummand struct{ pb.MathServer }

func (w dropLastSummand) Sum(stream grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error {
	return w.MathServer.Sum(&dropLastStream{ClientStreamingServer: stream})
}

type dropLastStream struct {
	grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]
	last int64  // value of the last number received
	n    uint64 // numbers received
}

func (s *dropLastStream) Recv() (*pb.SumRequest, error) {
	m := new(pb.SumRequest)
	if err := s.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

func (s *dropLastStream) RecvMsg(m any) error {
	err := s.ClientStreamingServer.RecvMsg(m)
	if r, ok := m.(*pb.SumRequest); ok && err == nil {
		s.last = r.GetValue()
		s.n++
	}
	return err
}

func (s *dropLastStream) SendAndClose(r *pb.SumResponse) error { return s.SendMsg(r) }

func (s *dropLastStream) SendMsg(m any) error {
	if r, ok := m.(*pb.SumResponse); ok && s.n > 0 {
		m = &pb.SumResponse{Sum: r.GetSum() - s.last, Count: r.GetCount() - 1}
	}
	return s.ClientStreamingServer.SendMsg(m)
}

// ---- sqrt_stops_answering ----

// StopAnsweringSqrt wraps s so that Sqrt answers only the first half of the
// requests. The handler cannot know how many requests will come, so its
// stream holds answers back: answer i leaves once 2(i+1) requests have
// arrived; when the client half-closes, the answers still held are dropped
// and the handler returns OK. (It holds up to half the answers in memory:
// it is for self-checks.)
func StopAnsweringSqrt(s pb.MathServer) pb.MathServer { return stopAnsweringSqrt{s} }

type stopAnsweringSqrt struct{ pb.MathServer }

func (w stopAnsweringSqrt) Sqrt(stream grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
	return w.MathServer.Sqrt(&halfAnswerStream{BidiStreamingServer: stream})
}

type halfAnswerStream struct {
	grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]
	received, answered int
	held               []*pb.SqrtResponse
	eof                bool
}

func (s *halfAnswerStream) Recv() (*pb.SqrtRequest, error) {
	m := new(pb.SqrtRequest)
	if err := s.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

func (s *halfAnswerStream) RecvMsg(m any) error {
	err := s.BidiStreamingServer.RecvMsg(m)
	switch err {
	case nil:
		s.received++
	case io.EOF:
		s.eof = true
	default:
		return err
	}
	if ferr := s.flush(); ferr != nil {
		return ferr
	}
	return err
}

func (s *halfAnswerStream) Send(r *pb.SqrtResponse) error { return s.SendMsg(r) }

func (s *halfAnswerStream) SendMsg(m any) error {
	r, ok := m.(*pb.SqrtResponse)
	if !ok {
		return s.BidiStreamingServer.SendMsg(m)
	}
	if s.eof {
		return nil
	}
	// The caller may reuse r: hold a copy.
	s.held = append(s.held, proto.Clone(r).(*pb.SqrtResponse))
	return s.flush()
}

// flush sends held answers while fewer than half the requests received
// have been answered; after the half-close it drops the rest.
func (s *halfAnswerStream) flush() error {
	for len(s.held) > 0 && s.answered < s.received/2 {
		r := s.held[0]
		s.held[0] = nil
		s.held = s.held[1:]
		if err := s.BidiStreamingServer.SendMsg(r); err != nil {
			return err
		}
		s.answered++
	}
	if s.eof {
		s.held = nil
	}
	return nil
}

// ---- pow_nil_on_cancel ----

// IgnorePowCancel wraps s so that a Pow whose stream broke before it was
// over (client gone, connection reset: its context ended, or a Send
// failed) returns nil instead of the error. Both are checked: a closing
// transport can fail the Send before it cancels the context.
func IgnorePowCancel(s pb.MathServer) pb.MathServer { return ignorePowCancel{s} }

type ignorePowCancel struct{ pb.MathServer }

func (w ignorePowCancel) Pow(req *pb.PowRequest, stream grpc.ServerStreamingServer[pb.PowResponse]) error {
	s := &sendWatch{ServerStreamingServer: stream}
	err := w.MathServer.Pow(req, s)
	if err != nil && (stream.Context().Err() != nil || s.failed) {
		return nil
	}
	return err
}

// sendWatch notes whether a Send of a server stream failed.
type sendWatch struct {
	grpc.ServerStreamingServer[pb.PowResponse]
	failed bool
}

func (s *sendWatch) Send(m *pb.PowResponse) error {
	err := s.ServerStreamingServer.Send(m)
	s.failed = s.failed || err != nil
	return err
}
