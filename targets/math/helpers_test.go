package math

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/internal/bufnet"
	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit bounds every wait in these tests, so a bug fails instead of
// hanging.
const waitLimit = 10 * time.Second

// handlerEnds collects the error each handler returned (through a stream
// interceptor), so tests can see the server's side of a stream.
type handlerEnds chan error

func (h handlerEnds) interceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	err := handler(srv, ss)
	select {
	case h <- err:
	default:
	}
	return err
}

// next waits for the next handler's end.
func (h handlerEnds) next(t testing.TB) error {
	t.Helper()
	select {
	case err := <-h:
		return err
	case <-time.After(waitLimit):
		t.Fatalf("no handler returned within %v", waitLimit)
		return nil
	}
}

// serve runs srv on a bufconn gRPC server and returns a client connection
// to it and the channel of handler ends. Both are closed at the test's end.
func serve(t testing.TB, srv pb.MathServer) (*grpc.ClientConn, handlerEnds) {
	t.Helper()
	ends := make(handlerEnds, 64)
	cc := bufnet.Serve(t, func(s *grpc.Server) { pb.RegisterMathServer(s, srv) },
		[]grpc.ServerOption{grpc.StreamInterceptor(ends.interceptor)})
	return cc, ends
}

// fakeSink counts every call. Safe for concurrent use (the Sqrt driver's
// sender calls Sent).
type fakeSink struct {
	started, ended, sent, received atomic.Int64
	violations                     [8]atomic.Uint64

	mu      sync.Mutex
	ends    []record.End
	details []string
}

func (s *fakeSink) Sent()                  { s.sent.Add(1) }
func (s *fakeSink) Received(time.Duration) { s.received.Add(1) }
func (s *fakeSink) Violated(k record.Kind, n uint64) {
	s.violations[k].Add(n)
}
func (s *fakeSink) Started() { s.started.Add(1) }
func (s *fakeSink) Ended(e record.End, _ time.Duration, detail string) {
	s.ended.Add(1)
	s.mu.Lock()
	s.ends = append(s.ends, e)
	s.details = append(s.details, detail)
	s.mu.Unlock()
}

// violated returns the violations counted, by kind name.
func (s *fakeSink) violated() map[string]uint64 {
	out := map[string]uint64{}
	for k := range s.violations {
		if n := s.violations[k].Load(); n > 0 {
			out[record.Kind(k).String()] = n
		}
	}
	return out
}

func (s *fakeSink) lastDetail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.details) == 0 {
		return ""
	}
	return s.details[len(s.details)-1]
}

// runStream runs one d.Stream within waitLimit and checks the sink saw one
// start and one end equal to the End returned.
func runStream(t testing.TB, ctx context.Context, d driver.Driver, sink *fakeSink) record.End {
	t.Helper()
	done := make(chan record.End, 1)
	go func() { done <- d.Stream(ctx, context.Background()) }()
	var end record.End
	select {
	case end = <-done:
	case <-time.After(waitLimit):
		t.Fatalf("Stream did not return within %v", waitLimit)
	}
	if s, e := sink.started.Load(), sink.ended.Load(); s != 1 || e != 1 {
		t.Errorf("sink saw %d starts and %d ends, want 1 and 1", s, e)
	}
	sink.mu.Lock()
	if len(sink.ends) > 0 && sink.ends[len(sink.ends)-1] != end {
		t.Errorf("sink.Ended got %v, Stream returned %v", sink.ends[len(sink.ends)-1].Key(), end.Key())
	}
	sink.mu.Unlock()
	return end
}
