package longlived

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait in these tests: a bug fails a test, never hangs it.
const wait = 5 * time.Second

// env is one gRPC server on a bufconn listener and one client connection.
type env struct {
	gs *grpc.Server
	cc *grpc.ClientConn
	c  pb.LonglivedClient
}

// newEnv serves srv and dials it; everything is torn down at test end
// (client conn first, then the server).
func newEnv(t testing.TB, srv pb.LonglivedServer, dial ...grpc.DialOption) *env {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	pb.RegisterLonglivedServer(gs, srv)
	served := make(chan struct{})
	go func() { defer close(served); _ = gs.Serve(lis) }()
	opts := append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, dial...)
	cc, err := grpc.NewClient("passthrough:///bufnet", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		gs.Stop()
		<-served
	})
	return &env{gs: gs, cc: cc, c: pb.NewLonglivedClient(cc)}
}

// eventually polls cond until it holds or wait passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// registered counts subscribers the publisher currently feeds.
func (s *Server) registered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// recvResult is what a background reader saw.
type recvResult struct {
	seqs []uint64
	err  error
}

// readAll receives until the stream ends or n updates arrived (n <= 0 = no
// limit), in the background.
func readAll(stream grpc.ServerStreamingClient[pb.Update], n int) <-chan recvResult {
	out := make(chan recvResult, 1)
	go func() {
		var r recvResult
		for n <= 0 || len(r.seqs) < n {
			u, err := stream.Recv()
			if err != nil {
				r.err = err
				break
			}
			r.seqs = append(r.seqs, u.GetSeq())
		}
		out <- r
	}()
	return out
}

func result(t *testing.T, ch <-chan recvResult) recvResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatal("timed out waiting for a reader")
		return recvResult{}
	}
}

// contiguous reports whether seqs are first, first+1, ….
func contiguous(seqs []uint64, first uint64) bool {
	for i, s := range seqs {
		if s != first+uint64(i) {
			return false
		}
	}
	return true
}

// fakeSink counts what a driver reports.
type fakeSink struct {
	mu         sync.Mutex
	started    int
	received   int
	maxLatency time.Duration
	violations map[record.Kind]uint64
	ends       []record.End
	details    []string
}

func newFakeSink() *fakeSink { return &fakeSink{violations: map[record.Kind]uint64{}} }

func (f *fakeSink) Sent() {}
func (f *fakeSink) Received(latency time.Duration) {
	f.mu.Lock()
	f.received++
	f.maxLatency = max(f.maxLatency, latency)
	f.mu.Unlock()
}
func (f *fakeSink) Violated(k record.Kind, n uint64) {
	f.mu.Lock()
	f.violations[k] += n
	f.mu.Unlock()
}
func (f *fakeSink) Started() {
	f.mu.Lock()
	f.started++
	f.mu.Unlock()
}
func (f *fakeSink) Ended(e record.End, _ time.Duration, detail string) {
	f.mu.Lock()
	f.ends = append(f.ends, e)
	f.details = append(f.details, detail)
	f.mu.Unlock()
}
func (f *fakeSink) maxLat() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxLatency
}
func (f *fakeSink) got() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.received
}
