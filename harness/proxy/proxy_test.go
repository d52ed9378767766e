package proxy

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// mathUpstream is a Math server whose Pow tells what the proxy forwarded:
// it echoes the client's x-client metadata in its header and trailer,
// fails with NotFound for base -1, and floods (as fast as flow control
// lets it, counting) for count -1.
type mathUpstream struct {
	pb.UnimplementedMathServer
	sent  atomic.Int64
	ended chan error   // each Pow's context error when it returns
	conns atomic.Int64 // connections open
}

// The upstream counts its open connections (a stats.Handler).
func (u *mathUpstream) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (u *mathUpstream) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (u *mathUpstream) HandleRPC(context.Context, stats.RPCStats)                         {}
func (u *mathUpstream) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		u.conns.Add(1)
	case *stats.ConnEnd:
		u.conns.Add(-1)
	}
}

func (u *mathUpstream) Pow(req *pb.PowRequest, s grpc.ServerStreamingServer[pb.PowResponse]) error {
	defer func() {
		select {
		case u.ended <- s.Context().Err():
		default:
		}
	}()
	md, _ := metadata.FromIncomingContext(s.Context())
	if err := s.SendHeader(metadata.Pairs("x-up", "header", "x-client", first(md["x-client"]))); err != nil {
		return err
	}
	s.SetTrailer(metadata.Pairs("x-up-trailer", "trailer"))
	if req.GetBase() == -1 {
		return status.Error(codes.NotFound, "no such base")
	}
	payload := make([]byte, req.GetPayloadBytes())
	for i := 0; req.GetCount() < 0 || i < int(req.GetCount()); i++ {
		if err := s.Send(&pb.PowResponse{Seq: uint64(i), Value: req.GetBase(), Payload: payload}); err != nil {
			// A closing transport can fail the Send before it cancels
			// the stream's context (seen under load): wait for the
			// cause, which is what the tests judge.
			select {
			case <-s.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return err
		}
		u.sent.Add(1)
	}
	return nil
}

func (u *mathUpstream) Sum(s grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error {
	var sum, n int64
	for {
		req, err := s.Recv()
		if err == io.EOF {
			return s.SendAndClose(&pb.SumResponse{Sum: sum, Count: uint64(n)})
		}
		if err != nil {
			return err
		}
		sum += req.GetValue()
		n++
	}
}

func (u *mathUpstream) Sqrt(s grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
	for {
		req, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(&pb.SqrtResponse{Seq: req.GetSeq(), Root: math.Sqrt(req.GetValue())}); err != nil {
			return err
		}
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// rig is an upstream server, a proxy in front of it and a client of the
// proxy, torn down in order at the test's end.
type rig struct {
	up     *mathUpstream
	proxy  *Proxy
	client pb.MathClient
	cc     *grpc.ClientConn
}

func newRig(t *testing.T, interceptors ...grpc.StreamServerInterceptor) *rig {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &mathUpstream{ended: make(chan error, 16)}
	srv := grpc.NewServer(grpc.StatsHandler(up))
	pb.RegisterMathServer(srv, up)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	p, err := Start(Config{Upstream: lis.Addr().String(), Interceptors: interceptors})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient("passthrough:///"+p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		p.Stop(time.Second)
		srv.Stop()
		<-served
	})
	return &rig{up: up, proxy: p, client: pb.NewMathClient(cc), cc: cc}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "x-client", "c7")
}

func TestForwardsServerStream(t *testing.T) {
	tests := []struct {
		name     string
		req      *pb.PowRequest
		want     int
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "messages, header and trailer", req: &pb.PowRequest{Base: 2, Count: 5}, want: 5, wantCode: codes.OK},
		{name: "the upstream's status", req: &pb.PowRequest{Base: -1, Count: 5}, want: 0, wantCode: codes.NotFound, wantMsg: "no such base"},
		{name: "large messages", req: &pb.PowRequest{Base: 3, Count: 3, PayloadBytes: 5 << 20}, want: 3, wantCode: codes.OK},
	}
	r := newRig(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := r.client.Pow(ctxOf(t), tt.req, grpc.MaxCallRecvMsgSize(math.MaxInt32))
			if err != nil {
				t.Fatal(err)
			}
			hdr, err := s.Header()
			if err != nil {
				t.Fatalf("header: %v", err)
			}
			if got := first(hdr["x-up"]); got != "header" {
				t.Errorf("upstream header x-up = %q, want header", got)
			}
			if got := first(hdr["x-client"]); got != "c7" {
				t.Errorf("the client's metadata reached the upstream as x-client=%q, want c7", got)
			}
			n := 0
			for {
				m, err := s.Recv()
				if err != nil {
					if st := status.Convert(err); err != io.EOF && (st.Code() != tt.wantCode || st.Message() != tt.wantMsg) {
						t.Errorf("stream ended with %v, want %v %q", err, tt.wantCode, tt.wantMsg)
					}
					if err == io.EOF && tt.wantCode != codes.OK {
						t.Errorf("stream ended OK, want %v", tt.wantCode)
					}
					break
				}
				if m.GetSeq() != uint64(n) || len(m.GetPayload()) != int(tt.req.GetPayloadBytes()) {
					t.Errorf("message %d: seq %d, %d payload bytes", n, m.GetSeq(), len(m.GetPayload()))
				}
				n++
			}
			if n != tt.want {
				t.Errorf("got %d messages, want %d", n, tt.want)
			}
			if got := first(s.Trailer()["x-up-trailer"]); got != "trailer" {
				t.Errorf("upstream trailer = %q, want trailer", got)
			}
		})
	}
}

func TestForwardsClientAndBidiStreams(t *testing.T) {
	r := newRig(t)
	ctx := ctxOf(t)
	sum, err := r.client.Sum(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for v := int64(1); v <= 4; v++ {
		if err := sum.Send(&pb.SumRequest{Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := sum.CloseAndRecv()
	if err != nil || res.GetSum() != 10 || res.GetCount() != 4 {
		t.Fatalf("Sum through the proxy = %v, %v; want 10 over 4", res, err)
	}

	sq, err := r.client.Sqrt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []float64{4, 9, 16} {
		if err := sq.Send(&pb.SqrtRequest{Seq: uint64(i), Value: v}); err != nil {
			t.Fatal(err)
		}
		m, err := sq.Recv()
		if err != nil || m.GetRoot() != math.Sqrt(v) {
			t.Fatalf("Sqrt(%v) through the proxy = %v, %v", v, m, err)
		}
	}
	if err := sq.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := sq.Recv(); err != io.EOF {
		t.Fatalf("after CloseSend: %v, want EOF", err)
	}
}

// waitEnded returns how the upstream's next Pow handler ended.
func waitEnded(t *testing.T, up *mathUpstream) error {
	t.Helper()
	select {
	case err := <-up.ended:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream's handler did not return within 5s")
		return nil
	}
}

func TestClientCancelReachesUpstream(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(ctxOf(t))
	s, err := r.client.Pow(ctx, &pb.PowRequest{Base: 1, Count: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := waitEnded(t, r.up); !errors.Is(err, context.Canceled) {
		t.Errorf("upstream handler's context ended with %v, want Canceled", err)
	}
}

// abortAfter is an interceptor that ends a stream with Aborted before its
// n+1-th message either way, as stream_abort does.
func abortAfter(n int) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, &counting{ServerStream: ss, left: n})
	}
}

type counting struct {
	grpc.ServerStream
	left int
	n    atomic.Int64
}

func (c *counting) next() error {
	if c.n.Add(1) > int64(c.left) {
		return status.Error(codes.Aborted, "test abort")
	}
	return nil
}

func (c *counting) SendMsg(m any) error {
	if err := c.next(); err != nil {
		return err
	}
	return c.ServerStream.SendMsg(m)
}

func (c *counting) RecvMsg(m any) error {
	if err := c.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return c.next()
}

func TestInterceptorAbortEndsBothSides(t *testing.T) {
	tests := []struct {
		name string
		pow  bool // a Pow: its handler's end is observed
		run  func(ctx context.Context, c pb.MathClient) (int, error)
	}{
		{name: "while sending (server stream)", pow: true, run: func(ctx context.Context, c pb.MathClient) (int, error) {
			s, err := c.Pow(ctx, &pb.PowRequest{Base: 1, Count: -1})
			if err != nil {
				return 0, err
			}
			n := 0
			for {
				if _, err := s.Recv(); err != nil {
					return n, err
				}
				n++
			}
		}},
		{name: "while receiving (client messages)", run: func(ctx context.Context, c pb.MathClient) (int, error) {
			s, err := c.Sqrt(ctx)
			if err != nil {
				return 0, err
			}
			n := 0
			for {
				if err := s.Send(&pb.SqrtRequest{Value: 4}); err != nil {
					_, err = s.Recv()
					return n, err
				}
				if _, err := s.Recv(); err != nil {
					return n, err
				}
				n++
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, abortAfter(4))
			n, err := tt.run(ctxOf(t), r.client)
			if status.Code(err) != codes.Aborted {
				t.Fatalf("stream ended with %v, want Aborted", err)
			}
			if n > 4 {
				t.Errorf("client got %d messages, want at most 4", n)
			}
			if tt.pow {
				if err := waitEnded(t, r.up); !errors.Is(err, context.Canceled) {
					t.Errorf("upstream handler's context ended with %v, want Canceled (a real client cancel)", err)
				}
			}
		})
	}
}

// TestBoundedBehindNonReader: a client opens a flood and never reads. The
// upstream's Send must block (it sends no more once the windows are full)
// and the heap must not grow with the flood.
func TestBoundedBehindNonReader(t *testing.T) {
	r := newRig(t)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := r.client.Pow(ctxOf(t), &pb.PowRequest{Base: 1, Count: -1, PayloadBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Header(); err != nil {
		t.Fatal(err)
	}
	// Wait until the upstream stops making progress: its Send blocked.
	var last int64 = -1
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(200 * time.Millisecond)
		n := r.up.sent.Load()
		if n == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upstream still sends after 5s (%d messages): the proxy buffers without bound", n)
		}
		last = n
	}
	time.Sleep(300 * time.Millisecond)
	if n := r.up.sent.Load(); n != last {
		t.Fatalf("the upstream sent %d more messages to a client that reads nothing", n-last)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("upstream blocked after %d messages of 1 KiB; heap grew %d KiB", last, grew>>10)
	// The windows of the two connections hold a few hundred KiB at most,
	// and so does the heap; a proxy that buffered would have grown by
	// everything the upstream could send.
	const maxMessages, maxHeap = 8192, 8 << 20
	if last > maxMessages {
		t.Errorf("the upstream sent %d messages before blocking, want <= %d", last, maxMessages)
	}
	if grew > maxHeap {
		t.Errorf("heap grew %d bytes behind a non-reading client, want <= %d", grew, maxHeap)
	}
}

func TestStop(t *testing.T) {
	r := newRig(t)
	s, err := r.client.Pow(ctxOf(t), &pb.PowRequest{Base: 1, Count: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.proxy.Stop(50 * time.Millisecond)
		r.proxy.Stop(50 * time.Millisecond) // idempotent
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return within 5s with a stream in flight")
	}
	for {
		if _, err := s.Recv(); err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Errorf("stream in flight ended with %v at Stop, want Unavailable", err)
			}
			break
		}
	}
	if err := waitEnded(t, r.up); !errors.Is(err, context.Canceled) {
		t.Errorf("upstream handler's context ended with %v at Stop, want Canceled", err)
	}
}

// TestUpstreamConnectionPerClient: the server sees one connection per
// client connection, closed when the client's closes.
func TestUpstreamConnectionPerClient(t *testing.T) {
	r := newRig(t)
	second, err := grpc.NewClient("passthrough:///"+r.proxy.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	for _, c := range []pb.MathClient{r.client, pb.NewMathClient(second)} {
		s, err := c.Pow(ctxOf(t), &pb.PowRequest{Base: 2, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	waitConns := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for r.up.conns.Load() != want {
			if time.Now().After(deadline) {
				t.Fatalf("the upstream has %d connections open, want %d", r.up.conns.Load(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitConns(2)
	_ = second.Close()
	waitConns(1)
	_ = r.cc.Close()
	waitConns(0)
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(Config{}); err == nil {
		t.Error("Start with no upstream: no error")
	}
}

// TestUnknownMethod: a method the upstream does not serve ends with the
// upstream's Unimplemented (a trailers-only response), not the proxy's.
func TestUnknownMethod(t *testing.T) {
	r := newRig(t)
	s, err := pb.NewLonglivedClient(r.cc).Subscribe(ctxOf(t), &pb.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Recv()
	if st := status.Convert(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "Longlived") {
		t.Fatalf("Subscribe on a Math-only upstream: %v, want the upstream's Unimplemented", err)
	}
}

func TestForwardedMetadata(t *testing.T) {
	in := metadata.MD{
		":authority": {"127.0.0.1:1"}, "content-type": {"application/grpc"}, "user-agent": {"grpc-go"},
		"grpc-timeout": {"1S"}, "te": {"trailers"}, "x-id": {"a", "b"}, "streambench-group": {"g"}, "trace-bin": {"\x00\x01"},
	}
	got := forwarded(in)
	want := metadata.MD{"x-id": {"a", "b"}, "streambench-group": {"g"}, "trace-bin": {"\x00\x01"}}
	if len(got) != len(want) {
		t.Fatalf("forwarded %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("forwarded[%s] = %q, want %q", k, got[k], v)
		}
	}
}

func TestContentSubtype(t *testing.T) {
	tests := []struct{ in, want string }{
		{"application/grpc", ""},
		{"application/grpc+proto", "proto"},
		{"application/grpc+json", "json"},
		{"application/grpc;json", "json"},
		{"text/plain", ""},
	}
	for _, tt := range tests {
		if got := contentSubtype(metadata.Pairs("content-type", tt.in)); got != tt.want {
			t.Errorf("contentSubtype(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
