package relay

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math"
	"math/big"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // the compressed calls
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	powMethod  = "/streambench.v1.Math/Pow"
	sumMethod  = "/streambench.v1.Math/Sum"
	sqrtMethod = "/streambench.v1.Math/Sqrt"
)

// upstream is a Math server that tells what reached it: Pow echoes the
// client's x-client metadata in its header, floods for count -1
// (counting what it sent) and reports how its handler's context ended.
type upstream struct {
	pb.UnimplementedMathServer
	sent  atomic.Int64
	ended chan error
}

func (u *upstream) Pow(req *pb.PowRequest, s grpc.ServerStreamingServer[pb.PowResponse]) error {
	defer func() {
		select {
		case u.ended <- s.Context().Err():
		default:
		}
	}()
	md, _ := metadata.FromIncomingContext(s.Context())
	if err := s.SendHeader(metadata.Pairs("x-client", first(md["x-client"]))); err != nil {
		return err
	}
	payload := make([]byte, req.GetPayloadBytes())
	for i := 0; req.GetCount() < 0 || i < int(req.GetCount()); i++ {
		if err := s.Send(&pb.PowResponse{Seq: uint64(i), Value: req.GetBase(), Payload: payload}); err != nil {
			select { // the cause is what the tests judge
			case <-s.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return err
		}
		u.sent.Add(1)
	}
	if req.GetBase() == -1 {
		return status.Error(codes.NotFound, "no such base: 100% sure")
	}
	return nil
}

func (u *upstream) Sum(s grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error {
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

func (u *upstream) Sqrt(s grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
	for {
		req, err := s.Recv()
		if err != nil {
			if err == io.EOF {
				return nil
			}
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

// rig is an upstream server, a relay in front of it and a client of the
// relay, torn down in order at the test's end.
type rig struct {
	up     *upstream
	srv    *grpc.Server
	relay  *Relay
	cc     *grpc.ClientConn
	client pb.MathClient
}

type rigOpts struct {
	faults Faults
	cfg    func(*Config)
	server []grpc.ServerOption
	dial   []grpc.DialOption
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &upstream{ended: make(chan error, 64)}
	srv := grpc.NewServer(o.server...)
	pb.RegisterMathServer(srv, up)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	cfg := Config{Upstream: lis.Addr().String(), Faults: o.faults}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	r, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient("passthrough:///"+r.Addr(), append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, o.dial...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		_ = r.Close() // idempotent
		srv.Stop()
		<-served
	})
	return &rig{up: up, srv: srv, relay: r, cc: cc, client: pb.NewMathClient(cc)}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "x-client", "c7")
}

// ended waits for the records of n finished streams of method.
func ended(t *testing.T, r *Relay, method string, n int) []StreamRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []StreamRecord
		for _, s := range r.Streams() {
			if s.Method == method && s.EndedBy != "" {
				got = append(got, s)
			}
		}
		if len(got) >= n {
			slices.SortFunc(got, func(a, b StreamRecord) int { return int(a.ID) - int(b.ID) })
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d finished %s streams recorded, want %d: %+v", len(got), method, n, r.Streams())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recvAll reads a Pow stream to its end.
func recvAll(s grpc.ServerStreamingClient[pb.PowResponse]) (int, error) {
	n := 0
	for {
		m, err := s.Recv()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return n, err
		}
		if m.GetSeq() != uint64(n) {
			return n, errors.New("out of order")
		}
		n++
	}
}

func TestCalls(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		call     func(ctx context.Context, r *rig) error
		messages [2]int
		comp     [2]int
		code     codes.Code
	}{
		{name: "unary", method: "/grpc.health.v1.Health/Check", messages: [2]int{1, 1}, call: func(ctx context.Context, r *rig) error {
			res, err := healthpb.NewHealthClient(r.cc).Check(ctx, &healthpb.HealthCheckRequest{})
			if err == nil && res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				err = errors.New("not serving")
			}
			return err
		}},
		{name: "server streaming", method: powMethod, messages: [2]int{1, 5}, call: func(ctx context.Context, r *rig) error {
			return wantPow(ctx, r, &pb.PowRequest{Base: 2, Count: 5}, 5)
		}},
		{name: "server streaming, messages spanning frames", method: powMethod, messages: [2]int{1, 4}, call: func(ctx context.Context, r *rig) error {
			return wantPow(ctx, r, &pb.PowRequest{Base: 2, Count: 4, PayloadBytes: 300 << 10}, 4)
		}},
		{name: "server streaming, compressed", method: powMethod, messages: [2]int{1, 3}, comp: [2]int{1, 3}, call: func(ctx context.Context, r *rig) error {
			return wantPow(ctx, r, &pb.PowRequest{Base: 2, Count: 3, PayloadBytes: 100}, 3, grpc.UseCompressor("gzip"))
		}},
		{name: "the server's status", method: powMethod, messages: [2]int{1, 2}, code: codes.NotFound, call: func(ctx context.Context, r *rig) error {
			err := wantPow(ctx, r, &pb.PowRequest{Base: -1, Count: 2}, 2)
			if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "no such base: 100% sure" {
				return errors.New("want NotFound, got " + st.String())
			}
			return nil
		}},
		{name: "client streaming", method: sumMethod, messages: [2]int{4, 1}, call: func(ctx context.Context, r *rig) error {
			s, err := r.client.Sum(ctx)
			if err != nil {
				return err
			}
			for v := int64(1); v <= 4; v++ {
				if err := s.Send(&pb.SumRequest{Value: v}); err != nil {
					return err
				}
			}
			res, err := s.CloseAndRecv()
			if err == nil && (res.GetSum() != 10 || res.GetCount() != 4) {
				err = errors.New("wrong sum")
			}
			return err
		}},
		{name: "bidi", method: sqrtMethod, messages: [2]int{3, 3}, call: func(ctx context.Context, r *rig) error {
			s, err := r.client.Sqrt(ctx)
			if err != nil {
				return err
			}
			for i, v := range []float64{4, 9, 16} {
				if err := s.Send(&pb.SqrtRequest{Seq: uint64(i), Value: v}); err != nil {
					return err
				}
				m, err := s.Recv()
				if err != nil {
					return err
				}
				if m.GetRoot() != math.Sqrt(v) {
					return errors.New("wrong root")
				}
			}
			if err := s.CloseSend(); err != nil {
				return err
			}
			if _, err := s.Recv(); err != io.EOF {
				return errors.New("no EOF after CloseSend")
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOpts{})
			if err := tt.call(ctxOf(t), r); err != nil {
				t.Fatalf("call through the relay: %v", err)
			}
			rec := ended(t, r.relay, tt.method, 1)[0]
			if rec.Messages != tt.messages || rec.Compressed != tt.comp {
				t.Errorf("recorded messages %v (compressed %v), want %v (%v)", rec.Messages, rec.Compressed, tt.messages, tt.comp)
			}
			if !rec.HasStatus || rec.Code != tt.code || rec.EndedBy != EndedByServer {
				t.Errorf("recorded end %+v, want the server's %v", rec, tt.code)
			}
		})
	}
}

// wantPow calls Pow and wants n messages in order and the header the
// upstream echoes.
func wantPow(ctx context.Context, r *rig, req *pb.PowRequest, n int, opts ...grpc.CallOption) error {
	s, err := r.client.Pow(ctx, req, append(opts, grpc.MaxCallRecvMsgSize(math.MaxInt32))...)
	if err != nil {
		return err
	}
	hdr, err := s.Header()
	if err != nil {
		return err
	}
	if got := first(hdr["x-client"]); got != "c7" {
		return errors.New("the upstream did not get the client's metadata: " + got)
	}
	got, err := recvAll(s)
	if got != n {
		return errors.New("wrong message count")
	}
	return err
}

// abortAt aborts streams of method at message index n with Aborted.
func abortAt(method string, n int) Faults {
	return FaultsFunc(func(s StreamInfo, m MessageInfo) Action {
		if s.Method == method && m.Index == n {
			return Action{Abort: &Abort{Code: codes.Aborted, Message: "test abort ü"}}
		}
		return Action{}
	})
}

func waitEnded(t *testing.T, up *upstream) error {
	t.Helper()
	select {
	case err := <-up.ended:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream's handler did not return within 5s")
		return nil
	}
}

func TestAbort(t *testing.T) {
	tests := []struct {
		name string
		at   int // message index
		req  *pb.PowRequest
		want int // messages the client gets
	}{
		{name: "mid-stream", at: 5, req: &pb.PowRequest{Base: 1, Count: -1}, want: 3},
		{name: "mid-stream, large messages", at: 4, req: &pb.PowRequest{Base: 1, Count: -1, PayloadBytes: 40 << 10}, want: 2},
		{name: "the request (trailers-only)", at: 1, req: &pb.PowRequest{Base: 1, Count: -1}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOpts{faults: abortAt(powMethod, tt.at)})
			s, err := r.client.Pow(ctxOf(t), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			n, err := recvAll(s)
			if st := status.Convert(err); st.Code() != codes.Aborted || st.Message() != "test abort ü" {
				t.Fatalf("stream ended with %v, want Aborted \"test abort ü\"", err)
			}
			if n != tt.want {
				t.Errorf("client got %d messages before the abort at message %d, want %d", n, tt.at, tt.want)
			}
			if tt.at > 1 {
				if err := waitEnded(t, r.up); !errors.Is(err, context.Canceled) {
					t.Errorf("upstream handler's context ended with %v, want Canceled (a client cancel)", err)
				}
			}
			rec := ended(t, r.relay, powMethod, 1)[0]
			if rec.EndedBy != EndedByRelay || rec.Code != codes.Aborted || rec.Messages[ServerToClient] != tt.want {
				t.Errorf("record %+v, want ended by the relay with Aborted after %d messages", rec, tt.want)
			}
			var rst bool
			for _, f := range r.relay.Conns()[0].Control {
				rst = rst || (f.Type == http2.FrameRSTStream && f.Dir == ClientToServer && f.StreamID == rec.ID)
			}
			if rst {
				t.Error("the client's own RST_STREAM for the aborted stream was forwarded, want dropped")
			}
			// The connection still works: HPACK tables and windows in step.
			res, err := r.client.Sum(ctxOf(t))
			if err == nil {
				_ = res.Send(&pb.SumRequest{Value: 3})
				var sum *pb.SumResponse
				if sum, err = res.CloseAndRecv(); err == nil && sum.GetSum() != 3 {
					err = errors.New("wrong sum")
				}
			}
			if err != nil {
				t.Errorf("a call after the abort: %v", err)
			}
		})
	}
}

// TestAbortKeepsConnectionWindow: aborts drop data in flight; the relay
// must credit it back, or the connection's window (64 KiB, static) runs
// dry and later calls on it stall.
func TestAbortKeepsConnectionWindow(t *testing.T) {
	r := newRig(t, rigOpts{
		faults: abortAt(powMethod, 3),
		dial:   []grpc.DialOption{grpc.WithInitialWindowSize(64 << 10), grpc.WithInitialConnWindowSize(64 << 10)},
	})
	for i := range 12 {
		s, err := r.client.Pow(ctxOf(t), &pb.PowRequest{Base: 1, Count: -1, PayloadBytes: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := recvAll(s); status.Code(err) != codes.Aborted {
			t.Fatalf("call %d ended with %v, want Aborted", i, err)
		}
		waitEnded(t, r.up)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := r.client.Sqrt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 32<<10)
	for i := range 8 { // 256 KiB both ways: needs the whole window, many times
		if err := s.Send(&pb.SqrtRequest{Seq: uint64(i), Value: 4, Payload: payload}); err != nil {
			t.Fatalf("send %d after the aborts: %v", i, err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("recv %d after the aborts: %v (the connection's window leaked)", i, err)
		}
	}
	_ = s.CloseSend()
}

func TestAbortClientMessage(t *testing.T) {
	r := newRig(t, rigOpts{faults: abortAt(sqrtMethod, 5)}) // Sqrt: request 1, answer 2, ... request 5
	s, err := r.client.Sqrt(ctxOf(t))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; ; i++ {
		if err := s.Send(&pb.SqrtRequest{Seq: uint64(i), Value: 4}); err != nil {
			_, err = s.Recv()
			if status.Code(err) != codes.Aborted {
				t.Fatalf("stream ended with %v, want Aborted", err)
			}
			break
		}
		if _, err := s.Recv(); err != nil {
			if status.Code(err) != codes.Aborted {
				t.Fatalf("stream ended with %v, want Aborted", err)
			}
			break
		}
		n++
	}
	if n != 2 {
		t.Errorf("client got %d answers, want 2", n)
	}
	rec := ended(t, r.relay, sqrtMethod, 1)[0]
	if rec.Messages != [2]int{2, 2} || rec.EndedBy != EndedByRelay {
		t.Errorf("record %+v, want 2 messages each way, ended by the relay", rec)
	}
}

// delayPow delays every Pow response by d.
func delayPow(d time.Duration) Faults {
	return FaultsFunc(func(s StreamInfo, m MessageInfo) Action {
		if s.Method == powMethod && m.Dir == ServerToClient {
			return Action{Delay: d}
		}
		return Action{}
	})
}

// pingPong is a Sqrt stream answering in lockstep.
type pingPong struct {
	s grpc.BidiStreamingClient[pb.SqrtRequest, pb.SqrtResponse]
	n uint64
}

func (p *pingPong) round() (time.Duration, error) {
	start := time.Now()
	p.n++
	if err := p.s.Send(&pb.SqrtRequest{Seq: p.n, Value: 4}); err != nil {
		return 0, err
	}
	m, err := p.s.Recv()
	if err == nil && m.GetSeq() != p.n {
		err = errors.New("answer out of order")
	}
	return time.Since(start), err
}

func TestDelay(t *testing.T) {
	const delay = 500 * time.Millisecond
	r := newRig(t, rigOpts{faults: delayPow(delay)})
	ctx := ctxOf(t)
	sq, err := r.client.Sqrt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pp := &pingPong{s: sq}
	if _, err := pp.round(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := r.client.Pow(ctx, &pb.PowRequest{Base: 3, Count: 20})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	var firstAt time.Duration
	go func() {
		if _, err := s.Recv(); err != nil {
			got <- err
			return
		}
		firstAt = time.Since(start)
		for i := uint64(1); ; i++ {
			m, err := s.Recv()
			if err != nil {
				if err == io.EOF {
					err = nil
					if i != 20 {
						err = errors.New("wrong count")
					}
				}
				got <- err
				return
			}
			if m.GetSeq() != i {
				got <- errors.New("out of order")
				return
			}
		}
	}()
	// While Pow's messages wait in the relay, Sqrt on the same
	// connection answers at once.
	var slowest time.Duration
	for time.Since(start) < delay/2 {
		rt, err := pp.round()
		if err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, rt)
	}
	if err := <-got; err != nil {
		t.Fatalf("delayed Pow: %v", err)
	}
	if firstAt < delay {
		t.Errorf("Pow's first message after %v, want at least the delay %v", firstAt, delay)
	}
	if slowest > delay/2 {
		t.Errorf("Sqrt on the same connection took up to %v a round while Pow was delayed, want well under %v", slowest, delay/2)
	}
	_ = sq.CloseSend()
	rec := ended(t, r.relay, powMethod, 1)[0]
	if rec.Held == 0 || rec.Messages[ServerToClient] != 20 || rec.EndedBy != EndedByServer {
		t.Errorf("record %+v, want 20 messages held and the server's end", rec)
	}
	if now, _ := r.relay.Held(); now != 0 {
		t.Errorf("relay holds %d bytes after the stream ended, want 0", now)
	}
}

func TestStall(t *testing.T) {
	const stall = time.Second
	stalls := FaultsFunc(func(s StreamInfo, m MessageInfo) Action {
		if s.Method == powMethod && m.Index == 5 {
			return Action{Stall: stall}
		}
		return Action{}
	})
	r := newRig(t, rigOpts{faults: stalls, dial: []grpc.DialOption{grpc.WithInitialWindowSize(64 << 10)}})
	ctx := ctxOf(t)
	sq, err := r.client.Sqrt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pp := &pingPong{s: sq}
	s, err := r.client.Pow(ctx, &pb.PowRequest{Base: 1, Count: -1, PayloadBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan time.Time, 1)
	go func() {
		_, err := s.Recv()
		if err == nil {
			got <- time.Now()
		}
		close(got)
	}()
	start := time.Now()
	// While Pow stalls, its server fills the window and stops; Sqrt
	// on the same connection flows.
	var sentAt int64 = -1
	for time.Since(start) < stall*3/4 {
		if _, err := pp.round(); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > stall/2 && sentAt < 0 {
			sentAt = r.up.sent.Load()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.up.sent.Load(); n != sentAt {
		t.Errorf("the server sent %d more messages during the stall: the relay let the window open", n-sentAt)
	}
	_, peak := r.relay.Held()
	at, ok := <-got
	if !ok {
		t.Fatal("the stalled stream did not resume")
	}
	if gap := at.Sub(start); gap < stall*8/10 {
		t.Errorf("the 4th message came %v after the 3rd, want the stall of %v", gap, stall)
	}
	// Held: the stream's window (64 KiB) and frame overhead.
	if peak > 96<<10 {
		t.Errorf("the relay held up to %d bytes for a stalled stream with a 64 KiB window", peak)
	}
	for range 100 {
		if _, err := s.Recv(); err != nil {
			t.Fatalf("after the stall: %v", err)
		}
	}
	t.Logf("held at most %d bytes; the server sent %d messages before blocking", peak, sentAt)
}

// TestSlowReaderStaysSlow: a client opens a flood and reads nothing. The
// server's Send must block (the relay does not open the window for it),
// and the relay must hold at most about the window: nothing when it
// forwards at once, the stream's window when it delays the stream.
func TestSlowReaderStaysSlow(t *testing.T) {
	tests := []struct {
		name    string
		faults  Faults
		maxHeld int64
	}{
		{name: "forwarded", maxHeld: 0},
		{name: "delayed in the relay", faults: delayPow(20 * time.Millisecond), maxHeld: 96 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const window = 64 << 10
			r := newRig(t, rigOpts{faults: tt.faults, dial: []grpc.DialOption{grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window)}})
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
			var last int64 = -1
			deadline := time.Now().Add(5 * time.Second)
			for {
				time.Sleep(200 * time.Millisecond)
				n := r.up.sent.Load()
				if n == last {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the server still sends after 5s (%d messages): the relay opens the window", n)
				}
				last = n
			}
			time.Sleep(300 * time.Millisecond)
			if n := r.up.sent.Load(); n != last {
				t.Fatalf("the server sent %d more messages to a client that reads nothing", n-last)
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			_, peak := r.relay.Held()
			grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("server blocked after %d messages of 1 KiB; relay held at most %d bytes; heap grew %d KiB", last, peak, grew>>10)
			// The client's window, plus the server's write quota (64 KiB)
			// and its buffered writes: not the flood.
			if last > 200 {
				t.Errorf("the server sent %d messages of 1 KiB before blocking, want about the 64 KiB window", last)
			}
			if peak > tt.maxHeld {
				t.Errorf("the relay held up to %d bytes, want <= %d", peak, tt.maxHeld)
			}
			if grew > 8<<20 {
				t.Errorf("heap grew %d bytes behind a non-reading client", grew)
			}
		})
	}
}

// TestControlFramesRecorded: SETTINGS and their ACKs both ways, the
// server's GOAWAY and PING at GracefulStop and the client's ACK, and a
// client's cancel (RST_STREAM) are recorded on the connection.
func TestControlFramesRecorded(t *testing.T) {
	r := newRig(t, rigOpts{})
	cancelAfterFirst(t, r)
	if err := waitEnded(t, r.up); !errors.Is(err, context.Canceled) {
		t.Errorf("upstream handler ended with %v, want Canceled", err)
	}
	rec := ended(t, r.relay, powMethod, 1)[0]
	if rec.EndedBy != EndedByClientReset || rec.ResetCode != http2.ErrCodeCancel {
		t.Errorf("a cancelled stream recorded as %+v, want a client reset CANCEL", rec)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		r.srv.GracefulStop()
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		r.srv.Stop()
		<-stopped
		t.Fatal("GracefulStop through the relay did not end within 5s")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.relay.Conns()) == 0 || r.relay.Conns()[0].Closed.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the connection was not closed after GracefulStop")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c := r.relay.Conns()[0]
	if c.Err != "" {
		t.Errorf("connection closed with %q, want cleanly", c.Err)
	}
	type key struct {
		dir Dir
		typ http2.FrameType
		ack bool
	}
	seen := map[key]int{}
	var goaway, rst bool
	for _, f := range c.Control {
		seen[key{f.Dir, f.Type, f.Ack}]++
		goaway = goaway || (f.Type == http2.FrameGoAway && f.Dir == ServerToClient && f.Code == http2.ErrCodeNo)
		rst = rst || (f.Type == http2.FrameRSTStream && f.Dir == ClientToServer && f.StreamID == rec.ID && f.Code == http2.ErrCodeCancel)
	}
	for _, k := range []key{
		{ClientToServer, http2.FrameSettings, false}, {ServerToClient, http2.FrameSettings, true},
		{ServerToClient, http2.FrameSettings, false}, {ClientToServer, http2.FrameSettings, true},
		{ServerToClient, http2.FramePing, false}, {ClientToServer, http2.FramePing, true},
	} {
		if seen[k] == 0 {
			t.Errorf("no %v %v (ack %v) recorded; recorded %v", k.dir, k.typ, k.ack, seen)
		}
	}
	if !goaway {
		t.Error("the server's GOAWAY NO_ERROR was not recorded")
	}
	if !rst {
		t.Error("the client's RST_STREAM CANCEL was not recorded")
	}
	if c.Streams != 1 {
		t.Errorf("connection recorded %d streams, want 1", c.Streams)
	}
}

// TestHPACKStaysInStep: many calls with changing metadata on one
// connection, aborts among them: both sides keep decoding what the other
// encoded (the relay forwards header blocks raw, in order, and its own
// trailers change no table).
func TestHPACKStaysInStep(t *testing.T) {
	aborts := FaultsFunc(func(s StreamInfo, m MessageInfo) Action {
		if s.Method == powMethod && s.ID%3 == 0 && m.Index == 3 {
			return Action{Abort: &Abort{Code: codes.Unavailable, Message: "every third"}}
		}
		return Action{}
	})
	r := newRig(t, rigOpts{faults: aborts})
	for i := range 60 {
		id := strings.Repeat("x", i%7) + string(rune('a'+i%26))
		ctx := metadata.NewOutgoingContext(ctxOf(t), metadata.Pairs("x-client", id, "x-other", id+id))
		s, err := r.client.Pow(ctx, &pb.PowRequest{Base: 1, Count: 4})
		if err != nil {
			t.Fatal(err)
		}
		hdr, err := s.Header()
		if err != nil {
			t.Fatalf("call %d: header: %v", i, err)
		}
		if got := first(hdr["x-client"]); got != id {
			t.Fatalf("call %d: the server echoed x-client=%q, want %q", i, got, id)
		}
		n, err := recvAll(s)
		if code := status.Code(err); !(code == codes.OK && n == 4 || code == codes.Unavailable && n == 1) {
			t.Fatalf("call %d: %d messages, %v", i, n, err)
		}
	}
}

// TestBadClients: a connection that does not speak h2c, or sends a
// malformed frame, is closed with its error recorded; the relay serves
// the next client.
func TestBadClients(t *testing.T) {
	tests := []struct {
		name  string
		bytes string
		err   string
	}{
		{name: "HTTP/1.1", bytes: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", err: "preface"},
		{name: "DATA on stream 0", bytes: http2.ClientPreface + "\x00\x00\x01\x00\x00\x00\x00\x00\x00x", err: "DATA"},
		{name: "truncated frame", bytes: http2.ClientPreface + "\x00\x00\x09\x04\x00\x00\x00\x00\x00\x00\x01", err: "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOpts{})
			nc, err := net.Dial("tcp", r.relay.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write([]byte(tt.bytes)); err != nil {
				t.Fatal(err)
			}
			if cw, ok := nc.(*net.TCPConn); ok {
				_ = cw.CloseWrite()
			}
			deadline := time.Now().Add(5 * time.Second)
			var rec ConnRecord
			for {
				if cs := r.relay.Conns(); len(cs) > 0 && !cs[0].Closed.IsZero() {
					rec = cs[0]
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the bad connection was not closed")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !strings.Contains(rec.Err, tt.err) {
				t.Errorf("recorded error %q, want one naming %q", rec.Err, tt.err)
			}
			if err := wantPow(ctxOf(t), r, &pb.PowRequest{Base: 2, Count: 2}, 2); err != nil {
				t.Errorf("a good client after the bad one: %v", err)
			}
		})
	}
}

// TestCloseWithStreamsInFlight: Close ends the streams (Unavailable to
// the client, a cancel to the server) and returns; goleak (TestMain)
// finds no goroutine of the relay's after the tests.
func TestCloseWithStreamsInFlight(t *testing.T) {
	r := newRig(t, rigOpts{faults: delayPow(time.Hour)})
	s, err := r.client.Pow(ctxOf(t), &pb.PowRequest{Base: 1, Count: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Header(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // frames held for an hour
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.relay.Close()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s with a stream held")
	}
	if _, err := s.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("stream in flight ended with %v at Close, want Unavailable", err)
	}
	if err := waitEnded(t, r.up); !errors.Is(err, context.Canceled) {
		t.Errorf("upstream handler ended with %v at Close, want Canceled", err)
	}
	if now, peak := r.relay.Held(); now != 0 || peak == 0 {
		t.Errorf("held %d bytes after Close (%d at most), want 0 (what a closed connection held is gone)", now, peak)
	}
	for _, rec := range r.relay.Streams() {
		if rec.EndedBy == "" {
			t.Errorf("stream %d still open in the records after Close", rec.ID)
		}
	}
}

// TestDialFailure: a client whose upstream cannot be dialled is closed
// with the dial's error recorded.
func TestDialFailure(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close() // nothing listens there now
	r, err := Start(Config{Upstream: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cc, err := grpc.NewClient("passthrough:///"+r.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("a call with no upstream: %v, want Unavailable", err)
	}
	if cs := r.Conns(); len(cs) == 0 || !strings.Contains(cs[0].Err, "dial upstream") {
		t.Errorf("connection records %+v, want a failed dial", cs)
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(Config{}); err == nil {
		t.Error("Start with no upstream: no error")
	}
}

func TestPercentEncoding(t *testing.T) {
	for _, m := range []string{"plain", "100% sure", "ü\n\x00", ""} {
		if got := decodeMessage(percentEncode(m)); got != m {
			t.Errorf("percent round trip of %q: %q", m, got)
		}
	}
}

// tap is a client's connection that keeps a copy of every byte the
// client reads: the frames the relay sent it.
type tap struct {
	net.Conn
	mu  sync.Mutex
	got bytes.Buffer
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.mu.Lock()
	t.got.Write(p[:n])
	t.mu.Unlock()
	return n, err
}

// frames parses what the client read so far.
func (t *tap) frames(tb testing.TB) []http2.FrameHeader {
	t.mu.Lock()
	b := bytes.Clone(t.got.Bytes())
	t.mu.Unlock()
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	fr.SetMaxReadFrameSize(maxFrame)
	var out []http2.FrameHeader
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return out // the end of what was read, maybe mid-frame
		}
		out = append(out, f.Header())
	}
}

// TestNothingAfterAbort: once the relay sent the client an aborted
// stream's trailers, no DATA of that stream follows them, though the
// server's flood was in flight.
func TestNothingAfterAbort(t *testing.T) {
	var tp *tap
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		tp = &tap{Conn: nc}
		return tp, nil
	}
	r := newRig(t, rigOpts{faults: abortAt(powMethod, 30), dial: []grpc.DialOption{grpc.WithContextDialer(dialer)}})
	s, err := r.client.Pow(ctxOf(t), &pb.PowRequest{Base: 1, Count: -1, PayloadBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recvAll(s); status.Code(err) != codes.Aborted {
		t.Fatalf("stream ended with %v, want Aborted", err)
	}
	waitEnded(t, r.up)
	// Another call, so that whatever the relay still sent of the
	// aborted stream reached the client before it.
	if err := wantPow(ctxOf(t), r, &pb.PowRequest{Base: 2, Count: 2}, 2); err != nil {
		t.Fatal(err)
	}
	var ended bool
	var after, before int
	for _, h := range tp.frames(t) {
		if h.StreamID != 1 {
			continue
		}
		switch {
		case h.Type == http2.FrameHeaders && h.Flags.Has(http2.FlagHeadersEndStream):
			ended = true
		case h.Type == http2.FrameData && ended:
			after++
		case h.Type == http2.FrameData:
			before++
		}
	}
	if !ended || before == 0 {
		t.Fatalf("the client saw %d DATA frames and trailers %v on the aborted stream", before, ended)
	}
	if after > 0 {
		t.Errorf("the client got %d DATA frames of the aborted stream after its trailers", after)
	}
}

// TestFinishedStreamsForgotten: a connection keeps no state for the
// streams that ended (their records move to the relay's list).
func TestFinishedStreamsForgotten(t *testing.T) {
	r := newRig(t, rigOpts{faults: delayPow(time.Millisecond)})
	for range 20 {
		if err := wantPow(ctxOf(t), r, &pb.PowRequest{Base: 2, Count: 3}, 3); err != nil {
			t.Fatal(err)
		}
	}
	ended(t, r.relay, powMethod, 20)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.relay.mu.Lock()
		var open int
		for c := range r.relay.live {
			c.mu.Lock()
			open += len(c.streams)
			c.mu.Unlock()
		}
		r.relay.mu.Unlock()
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the connection still tracks %d streams after they all ended", open)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRing(t *testing.T) {
	for _, tc := range []struct {
		max, adds int
	}{
		{3, 5}, {3, 1}, {3, 0}, {3, 3},
		// Across chunk boundaries, full and not.
		{2500, 6000}, {2500, 1500}, {ringChunk, ringChunk + 1}, {ringChunk + 1, 3 * ringChunk},
	} {
		r := ring[int]{max: tc.max}
		for i := range tc.adds {
			r.add(i)
		}
		want := []int{}
		for i := max(0, tc.adds-tc.max); i < tc.adds; i++ {
			want = append(want, i)
		}
		if got := r.all(); !slices.Equal(got, want) {
			t.Errorf("ring of %d after %d adds: %d values from %v, want %d from %v", tc.max, tc.adds, len(got), got[:min(3, len(got))], len(want), want[:min(3, len(want))])
		}
	}
}

// TestMaxHeld: with windows larger than MaxHeld, the relay stops reading
// a direction that holds MaxHeld, and every message still arrives.
func TestMaxHeld(t *testing.T) {
	const maxHeld = 16 << 10
	r := newRig(t, rigOpts{
		faults: delayPow(50 * time.Millisecond),
		cfg:    func(c *Config) { c.MaxHeld = maxHeld },
		dial:   []grpc.DialOption{grpc.WithInitialWindowSize(1 << 20), grpc.WithInitialConnWindowSize(1 << 20)},
	})
	if err := wantPow(ctxOf(t), r, &pb.PowRequest{Base: 1, Count: 100, PayloadBytes: 1024}, 100); err != nil {
		t.Fatal(err)
	}
	// One frame may go in beyond the bound before the reader stops.
	if _, peak := r.relay.Held(); peak > maxHeld+16<<10+64 {
		t.Errorf("the relay held up to %d bytes, want about MaxHeld (%d)", peak, maxHeld)
	}
}

// selfSigned is a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "relay test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestTLS: a TLS server behind a relay presenting the user's certificate
// and dialling the server over TLS: calls flow, messages are counted and
// an abort reaches both sides.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	r := newRig(t, rigOpts{
		faults: abortAt(sqrtMethod, 3),
		server: []grpc.ServerOption{grpc.Creds(credentials.NewServerTLSFromCert(&cert))},
		cfg: func(c *Config) {
			c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			c.UpstreamTLS = &tls.Config{RootCAs: pool}
		},
		dial: []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, ""))},
	})
	if err := wantPow(ctxOf(t), r, &pb.PowRequest{Base: 2, Count: 5, PayloadBytes: 40 << 10}, 5); err != nil {
		t.Fatalf("Pow over TLS through the relay: %v", err)
	}
	if rec := ended(t, r.relay, powMethod, 1)[0]; rec.Messages != [2]int{1, 5} {
		t.Errorf("recorded %v messages, want [1 5]", rec.Messages)
	}
	s, err := r.client.Sqrt(ctxOf(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send(&pb.SqrtRequest{Value: 4})
	_, _ = s.Recv()
	_ = s.Send(&pb.SqrtRequest{Value: 9})
	if _, err := s.Recv(); status.Code(err) != codes.Aborted {
		t.Errorf("Sqrt over TLS ended with %v, want the relay's Aborted", err)
	}
	for _, c := range r.relay.Conns() {
		if c.Err != "" {
			t.Errorf("connection error %q", c.Err)
		}
	}
}

// TestKeepHeaders: Faults sees the request headers it asked for, so a
// fault can pick its victims by the clients' metadata.
func TestKeepHeaders(t *testing.T) {
	victims := FaultsFunc(func(s StreamInfo, m MessageInfo) Action {
		if s.Headers["x-client"] == "victim" && m.Index == 3 {
			return Action{Abort: &Abort{Code: codes.PermissionDenied}}
		}
		return Action{}
	})
	r := newRig(t, rigOpts{faults: victims, cfg: func(c *Config) { c.KeepHeaders = []string{"x-client"} }})
	for _, who := range []string{"bystander", "victim", "bystander"} {
		ctx := metadata.NewOutgoingContext(ctxOf(t), metadata.Pairs("x-client", who))
		s, err := r.client.Pow(ctx, &pb.PowRequest{Base: 1, Count: 4})
		if err != nil {
			t.Fatal(err)
		}
		n, err := recvAll(s)
		want := codes.OK
		if who == "victim" {
			want = codes.PermissionDenied
		}
		if status.Code(err) != want {
			t.Errorf("%s: %d messages, %v; want %v", who, n, err, want)
		}
	}
}

// TestFramesOneForOne: the bytes each side writes reach the other side
// unchanged, whatever the frames' flags and padding: padded and
// prioritised HEADERS with CONTINUATION, padded DATA holding messages,
// SETTINGS, PING, WINDOW_UPDATE, PRIORITY, an unknown type, RST_STREAM
// and GOAWAY, both ways.
func TestFramesOneForOne(t *testing.T) {
	block := func(fields ...string) []byte {
		var b bytes.Buffer
		enc := hpack.NewEncoder(&b)
		for i := 0; i < len(fields); i += 2 {
			if err := enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}); err != nil {
				t.Fatal(err)
			}
		}
		return b.Bytes()
	}
	msgs, _ := wire([]message{{body: []byte("first")}, {compressed: true, body: []byte("second")}})
	req := block(":method", "POST", ":scheme", "http", ":path", "/x.Y/Z", ":authority", "a", "content-type", "application/grpc", "x-long", strings.Repeat("v", 300))
	resp := block(":status", "200", "content-type", "application/grpc")
	trailers := block("grpc-status", "7", "grpc-message", "no%20way")
	prio := http2.PriorityParam{StreamDep: 0, Exclusive: true, Weight: 200}
	clientFrames := func(fr *http2.Framer) error {
		return errors.Join(
			fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 15}),
			fr.WriteSettingsAck(),
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: req[:10], PadLength: 9, Priority: prio}),
			fr.WriteContinuation(1, false, req[10:20]),
			fr.WriteContinuation(1, true, req[20:]),
			fr.WriteDataPadded(1, false, msgs[:7], make([]byte, 13)),
			fr.WriteDataPadded(1, false, msgs[7:9], []byte{}),
			fr.WriteData(1, true, msgs[9:]),
			fr.WriteWindowUpdate(0, 1000),
			fr.WriteWindowUpdate(1, 2000),
			fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}),
			fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 3}),
			fr.WriteRawFrame(0xfa, 0x5, 0, []byte("extension")),
			fr.WriteRSTStream(5, http2.ErrCodeCancel), // not 1: its end is the server's here
			fr.WriteGoAway(1, http2.ErrCodeEnhanceYourCalm, []byte("debug")),
		)
	}
	serverFrames := func(fr *http2.Framer) error {
		return errors.Join(
			fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 7}),
			fr.WriteSettingsAck(),
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: resp, EndHeaders: true, PadLength: 4}),
			fr.WriteDataPadded(1, false, msgs, make([]byte, 200)),
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: trailers, EndHeaders: true, EndStream: true}),
			fr.WritePing(true, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}),
			fr.WriteWindowUpdate(0, 3000),
			fr.WriteGoAway(1, http2.ErrCodeNo, nil),
		)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	r, err := Start(Config{Upstream: lis.Addr().String(), Faults: FaultsFunc(func(StreamInfo, MessageInfo) Action { return Action{} })})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	var sent, serverSent bytes.Buffer
	sent.WriteString(http2.ClientPreface)
	if err := clientFrames(http2.NewFramer(&sent, nil)); err != nil {
		t.Fatal(err)
	}
	if err := serverFrames(http2.NewFramer(&serverSent, nil)); err != nil {
		t.Fatal(err)
	}
	upGot := make(chan []byte, 1)
	go func() {
		nc, err := lis.Accept()
		if err != nil {
			upGot <- nil
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		// The server answers once it has the request, as servers do.
		b, _ := io.ReadAll(nc)
		_, _ = nc.Write(serverSent.Bytes())
		upGot <- b
	}()
	nc, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(sent.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = nc.(*net.TCPConn).CloseWrite()
	clientGot, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	if got := <-upGot; !bytes.Equal(got, sent.Bytes()) {
		t.Errorf("the server got %d bytes, not the %d the client wrote:\n got %q\nwant %q", len(got), sent.Len(), got, sent.Bytes())
	}
	if !bytes.Equal(clientGot, serverSent.Bytes()) {
		t.Errorf("the client got %d bytes, not the %d the server wrote:\n got %q\nwant %q", len(clientGot), serverSent.Len(), clientGot, serverSent.Bytes())
	}
	var rec StreamRecord
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ss := r.Streams(); len(ss) == 1 && ss[0].EndedBy != "" {
			rec = ss[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream records %+v", r.Streams())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if rec.Method != "/x.Y/Z" || rec.Messages != [2]int{2, 2} || rec.Compressed != [2]int{1, 1} ||
		!rec.HasStatus || rec.Code != codes.PermissionDenied || rec.Message != "no way" {
		t.Errorf("record %+v, want /x.Y/Z, 2 messages each way (1 compressed), PermissionDenied \"no way\"", rec)
	}
}

// TestCloseWhileDialling: Close does not wait for an upstream that never
// answers the dial.
func TestCloseWhileDialling(t *testing.T) {
	dialing := make(chan struct{})
	r, err := Start(Config{Upstream: "never", DialTimeout: time.Minute, Dial: func(ctx context.Context) (net.Conn, error) {
		close(dialing)
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	<-dialing
	start := time.Now()
	_ = r.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v with a dial pending", took)
	}
	if cs := r.Conns(); len(cs) != 1 || cs[0].Closed.IsZero() || cs[0].Err != "" {
		t.Errorf("connection records %+v, want one closed by Close", cs)
	}
}

// TestOpenedEnded: Opened runs once per stream before its first message
// and its value reaches Faults as StreamInfo.State; Ended runs once per
// stream with its final record, whatever ended it (the server, an abort,
// a client cancel).
func TestOpenedEnded(t *testing.T) {
	var (
		mu     sync.Mutex
		opened []uint32
		ends   = map[uint32]StreamRecord{}
		twice  []uint32
		nostat []uint32
	)
	faults := FaultsFunc(func(s StreamInfo, m MessageInfo) Action {
		if id, ok := s.State.(uint32); !ok || id != s.ID {
			mu.Lock()
			nostat = append(nostat, s.ID)
			mu.Unlock()
		}
		if s.Headers["x-client"] == "abort" && m.Index == 3 {
			return Action{Abort: &Abort{Code: codes.DataLoss}}
		}
		return Action{}
	})
	r := newRig(t, rigOpts{faults: faults, cfg: func(c *Config) {
		c.KeepHeaders = []string{"x-client"}
		c.Opened = func(s StreamInfo) any {
			mu.Lock()
			defer mu.Unlock()
			opened = append(opened, s.ID)
			return s.ID
		}
		c.Ended = func(rec StreamRecord) {
			mu.Lock()
			defer mu.Unlock()
			if _, ok := ends[rec.ID]; ok {
				twice = append(twice, rec.ID)
			}
			ends[rec.ID] = rec
		}
	}})
	for _, who := range []string{"ok", "abort"} {
		ctx := metadata.NewOutgoingContext(ctxOf(t), metadata.Pairs("x-client", who))
		s, err := r.client.Pow(ctx, &pb.PowRequest{Base: 1, Count: 4})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := recvAll(s); (err != nil) != (who == "abort") {
			t.Fatalf("%s: %v", who, err)
		}
	}
	cancelAfterFirst(t, r)
	ended(t, r.relay, powMethod, 3)
	if n := r.relay.Open(); n != 1 {
		t.Errorf("Open() = %d with the client connected, want 1", n)
	}
	_ = r.cc.Close()
	for deadline := time.Now().Add(5 * time.Second); r.relay.Open() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Open() = %d 5s after the client closed", r.relay.Open())
		}
	}
	if err := r.relay.Close(); err != nil { // the aborted stream's tombstone is finished by now
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(opened) != 3 || len(ends) != 3 || len(twice) > 0 || len(nostat) > 0 {
		t.Fatalf("opened %v, ended %v (twice %v), messages without their state on streams %v", opened, ends, twice, nostat)
	}
	want := map[uint32]EndedBy{opened[0]: EndedByServer, opened[1]: EndedByRelay, opened[2]: EndedByClientReset}
	for id, by := range want {
		if ends[id].EndedBy != by {
			t.Errorf("stream %d ended by %q, want %q", id, ends[id].EndedBy, by)
		}
	}
	if rec := ends[opened[1]]; !rec.HasStatus || rec.Code != codes.DataLoss {
		t.Errorf("the aborted stream's record %+v has not its status", rec)
	}
}

// TestHeldDataPingsAnswered: under a delay of every server message, the
// clients' BDP pings, sent as the held data reaches them, are answered by
// the relay; forwarded, they reach the server (grpc-go's default
// enforcement policy) with none of its writes between them, and it
// closes the connection with GOAWAY too_many_pings.
func TestHeldDataPingsAnswered(t *testing.T) {
	delay := FaultsFunc(func(_ StreamInfo, m MessageInfo) Action {
		if m.Dir == ServerToClient {
			return Action{Delay: 50 * time.Millisecond}
		}
		return Action{}
	})
	r := newRig(t, rigOpts{faults: delay})
	ctx := ctxOf(t)
	for k := range 8 {
		s, err := r.client.Sqrt(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sent := make(chan error, 1)
		go func() {
			for i := range 10 {
				if err := s.Send(&pb.SqrtRequest{Seq: uint64(i), Value: 4}); err != nil {
					sent <- err
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			sent <- s.CloseSend()
		}()
		n := 0
		for {
			_, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("stream %d, after %d answers: %v", k, n, err)
			}
			n++
		}
		if err := <-sent; err != nil || n != 10 {
			t.Fatalf("stream %d: %d answers, send: %v", k, n, err)
		}
	}
	var answered, forwarded int
	for _, c := range r.relay.Conns() {
		for _, f := range c.Control {
			switch {
			case f.Type == http2.FrameGoAway:
				t.Errorf("the server sent GOAWAY %v", f.Code)
			case f.Type == http2.FramePing && f.Dir == ClientToServer && !f.Ack && f.Answered:
				answered++
			case f.Type == http2.FramePing && f.Dir == ClientToServer && !f.Ack:
				forwarded++
			}
		}
	}
	if answered == 0 {
		t.Errorf("no client PING answered by the relay (%d forwarded)", forwarded)
	}
}

// cancelAfterFirst opens an endless Pow stream through the rig, receives
// its first message and cancels it.
func cancelAfterFirst(t *testing.T, r *rig) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxOf(t))
	defer cancel()
	s, err := r.client.Pow(ctx, &pb.PowRequest{Base: 1, Count: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
}
