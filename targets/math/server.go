// Package math is the Math reference server, with one RPC of each streaming
// kind, and the client drivers that speak its protocol. Import it as mathsrv
// where it would clash with the standard library's math:
//
//	import mathsrv "github.com/streambench/streambench/targets/math"
//
// The server is correct by construction: the planted bugs in
// targets/faulty wrap it.
package math

import (
	"context"
	"io"
	stdmath "math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/streambench/streambench/targets/proto"
)

// Limits of the Pow request.
const (
	// DefaultPowCount is the number of powers Pow streams when count is 0
	// (as in the grpc-go route guide tutorial).
	DefaultPowCount = 10
	// MaxPowCount is the largest count Pow accepts.
	MaxPowCount = 10_000_000
	// MaxPayload is the largest payload Pow accepts, in bytes: 4 MiB less
	// 1 KiB, so that a maximal message with its other fields still fits
	// grpc-go's default 4 MiB receive limit.
	MaxPayload = 4<<20 - 1<<10
)

// Server is the correct Math server. It is stateless: one Server serves any
// number of concurrent streams.
type Server struct {
	pb.UnimplementedMathServer
}

// New returns a Math server.
func New() *Server { return &Server{} }

var _ pb.MathServer = (*Server)(nil)

// PowCount returns the number of messages a Pow request asks for: count, or
// DefaultPowCount when count is 0. Drivers and wrappers use it so they agree
// with the server.
func PowCount(count int32) int32 {
	if count == 0 {
		return DefaultPowCount
	}
	return count
}

// ctxErr is the status a handler returns when its stream's context ended.
func ctxErr(ctx context.Context) error {
	return status.FromContextError(ctx.Err()).Err()
}

// Pow streams base^0 … base^(count-1), interval_nanos apart, each with
// payload_bytes of payload, then returns OK. Every power is checked for
// int64 overflow before the first message is sent.
func (s *Server) Pow(req *pb.PowRequest, stream grpc.ServerStreamingServer[pb.PowResponse]) error {
	count := PowCount(req.GetCount())
	base := req.GetBase()
	interval := time.Duration(req.GetIntervalNanos())
	payload := req.GetPayloadBytes()
	switch {
	case count < 0 || count > MaxPowCount:
		return status.Errorf(codes.InvalidArgument, "count %d out of range [0, %d]", req.GetCount(), MaxPowCount)
	case payload < 0 || payload > MaxPayload:
		return status.Errorf(codes.InvalidArgument, "payload_bytes %d out of range [0, %d]", payload, MaxPayload)
	case interval < 0:
		return status.Errorf(codes.InvalidArgument, "interval_nanos %d is negative", req.GetIntervalNanos())
	}
	if e, ok := powOverflow(base, int(count)); ok {
		return status.Errorf(codes.InvalidArgument, "%d^%d overflows int64", base, e)
	}

	ctx := stream.Context()
	done := ctx.Done()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	resp := &pb.PowResponse{Payload: make([]byte, payload)}
	v := int64(1)
	for i := range int(count) {
		if i > 0 && interval > 0 {
			if timer == nil {
				timer = time.NewTimer(interval)
			} else {
				timer.Reset(interval) // fired and drained: no stale tick
			}
			select {
			case <-timer.C:
			case <-done:
				return ctxErr(ctx)
			}
		} else {
			select {
			case <-done:
				return ctxErr(ctx)
			default:
			}
		}
		// The message struct is reused: SendMsg marshals synchronously.
		// (grpc.EnableTracing logs messages lazily and would show the
		// last value; streambench never enables it.)
		resp.Seq = uint64(i)
		resp.Value = v
		resp.SentUnixNano = time.Now().UnixNano()
		if err := stream.Send(resp); err != nil {
			return err
		}
		if i+1 < int(count) {
			v *= base // in range: checked up front
		}
	}
	return nil
}

// powOverflow reports the first exponent e < count for which base^e
// overflows int64.
func powOverflow(base int64, count int) (e int, overflows bool) {
	if base >= -1 && base <= 1 {
		return 0, false
	}
	v := int64(1)
	for e = 1; e < count; e++ {
		p := v * base
		if p/base != v { // exact for |base| >= 2
			return e, true
		}
		v = p
	}
	return 0, false
}

// Sum reads numbers until the client half-closes, then answers their sum
// and count. An int64 overflow ends the stream with InvalidArgument.
func (s *Server) Sum(stream grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error {
	var (
		req   pb.SumRequest
		sum   int64
		count uint64
	)
	for {
		err := stream.RecvMsg(&req)
		if err == io.EOF {
			return stream.SendAndClose(&pb.SumResponse{Sum: sum, Count: count})
		}
		if err != nil {
			return err
		}
		v := req.GetValue()
		next := sum + v
		if (v > 0 && next < sum) || (v < 0 && next > sum) {
			return status.Errorf(codes.InvalidArgument, "sum overflows int64 at seq %d (%d + %d)", req.GetSeq(), sum, v)
		}
		sum = next
		count++
	}
}

// Sqrt answers every request with its square root, in order, echoing seq,
// the request's timestamp and its payload. A negative (or NaN) value ends
// the stream with InvalidArgument. It returns OK once the client has
// half-closed and every answer is sent.
func (s *Server) Sqrt(stream grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
	var (
		req  pb.SqrtRequest
		resp pb.SqrtResponse
	)
	for {
		err := stream.RecvMsg(&req)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		v := req.GetValue()
		if !(v >= 0) {
			return status.Errorf(codes.InvalidArgument, "seq %d: cannot take the square root of %v", req.GetSeq(), v)
		}
		resp.Seq = req.GetSeq()
		resp.Root = stdmath.Sqrt(v)
		resp.RequestSentUnixNano = req.GetSentUnixNano()
		resp.Payload = req.GetPayload()
		resp.SentUnixNano = time.Now().UnixNano()
		if err := stream.Send(&resp); err != nil {
			return err
		}
	}
}
