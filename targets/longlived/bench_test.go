package longlived

import (
	"context"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

// nopSink counts nothing: the benchmarks measure the driver and the server.
type nopSink struct{}

func (nopSink) Sent()                                   {}
func (nopSink) Received(time.Duration)                  {}
func (nopSink) Violated(record.Kind, uint64)            {}
func (nopSink) Started()                                {}
func (nopSink) Ended(record.End, time.Duration, string) {}

// nullServerStream is a Subscribe stream whose Send costs nothing but an
// atomic add: BenchmarkServerSend measures the handler's own work per
// update (queue receive, seq check, Send accounting), not grpc-go's.
type nullServerStream struct {
	grpc.ServerStream // nil: only Context and Send are called
	ctx               context.Context
	sent              atomic.Int64
}

func (s *nullServerStream) Context() context.Context { return s.ctx }
func (s *nullServerStream) Send(*pb.Update) error {
	s.sent.Add(1)
	return nil
}

// BenchmarkServerSend is the per-update cost of the publisher plus one
// subscriber's handler loop, without a transport.
func BenchmarkServerSend(b *testing.B) {
	srv := New(Config{Queue: 1024})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &nullServerStream{ctx: ctx}
	done := make(chan error, 1)
	go func() { done <- srv.Subscribe(&pb.SubscribeRequest{Id: 1}, st) }()
	for srv.registered() != 1 {
		runtime.Gosched()
	}
	b.ReportAllocs()
	b.ResetTimer()
	var n int64
	for b.Loop() {
		srv.Publish()
		n++
		if n%256 == 0 {
			for st.sent.Load() < n-512 { // keep the queue below half full
				runtime.Gosched()
			}
		}
	}
	for st.sent.Load() < n {
		runtime.Gosched()
	}
	b.StopTimer()
	cancel()
	if err := <-done; err == nil {
		b.Fatal("handler ended without its context's error")
	}
}

// fakeConn is a ClientConnInterface whose Subscribe stream delivers
// contiguous updates from memory and then io.EOF, so BenchmarkDriverRecv
// measures the driver's per-message work alone.
type fakeConn struct{ n uint64 }

func (c *fakeConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return nil
}

func (c *fakeConn) NewStream(ctx context.Context, _ *grpc.StreamDesc, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	return &fakeClientStream{ctx: ctx, n: c.n}, nil
}

type fakeClientStream struct {
	ctx  context.Context
	n    uint64
	seq  uint64
	stmp int64
}

func (s *fakeClientStream) Header() (metadata.MD, error) { return nil, nil }
func (s *fakeClientStream) Trailer() metadata.MD         { return nil }
func (s *fakeClientStream) CloseSend() error             { return nil }
func (s *fakeClientStream) Context() context.Context     { return s.ctx }
func (s *fakeClientStream) SendMsg(any) error            { return nil }
func (s *fakeClientStream) RecvMsg(m any) error {
	if s.seq == s.n {
		return io.EOF
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	s.seq++
	if s.seq&1023 == 1 {
		s.stmp = time.Now().UnixNano()
	}
	u := m.(*pb.Update)
	u.Seq, u.SentUnixNano = s.seq, s.stmp
	return nil
}

// BenchmarkDriverRecv is the Subscribe driver's cost per received message
// (one stream of 100k messages per iteration), with and without the idle
// watchdog.
func BenchmarkDriverRecv(b *testing.B) {
	const msgs = 100_000
	for _, bc := range []struct {
		name string
		p    driver.Params
	}{
		{"plain", driver.Params{ID: 1}},
		{"idle", driver.Params{ID: 1, Idle: time.Minute}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cc := &fakeConn{n: msgs}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				d := NewDriver(cc, bc.p, nopSink{})
				if end := d.Stream(ctx, ctx); end.Class != record.PrematureEOF {
					b.Fatalf("end %v", end.Key())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*msgs), "ns/msg")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkSubscribeBufconn is one update's trip through the real stack:
// Publish, the handler's Send, grpc-go over bufconn, the driver's Recv.
func BenchmarkSubscribeBufconn(b *testing.B) {
	srv := New(Config{Queue: 4096, Payload: 64})
	defer srv.Close()
	e := newEnv(b, srv)
	var got atomic.Int64
	sink := &countSink{n: &got}
	d := NewDriver(e.cc, driver.Params{ID: 1}, sink)
	stop, closeStop := context.WithCancel(context.Background())
	res := make(chan record.End, 1)
	go func() { res <- d.Stream(context.Background(), stop) }()
	for srv.registered() != 1 {
		runtime.Gosched()
	}
	b.ReportAllocs()
	b.ResetTimer()
	var n int64
	for b.Loop() {
		srv.Publish()
		n++
		if n%256 == 0 {
			for got.Load() < n-1024 {
				runtime.Gosched()
			}
		}
	}
	for got.Load() < n {
		runtime.Gosched()
	}
	b.StopTimer()
	closeStop()
	if end := <-res; end.Class != record.Complete {
		b.Fatalf("end %v", end.Key())
	}
}

type countSink struct {
	nopSink
	n *atomic.Int64
}

func (s *countSink) Received(time.Duration) { s.n.Add(1) }

// BenchmarkSendAccounting isolates what Send accounting adds to each Send:
// "bare" is the Send alone (the code before accounting), "accounted" the
// same Send through Server.send (two monotonic clock reads, two atomic
// stores, one shard lock and one histogram record).
func BenchmarkSendAccounting(b *testing.B) {
	srv := New(Config{})
	defer srv.Close()
	st := &nullServerStream{ctx: context.Background()}
	sub := &subscriber{shard: &srv.shards[0]}
	u := &pb.Update{Seq: 1}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = st.Send(u)
		}
	})
	b.Run("accounted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = srv.send(sub, st, u)
		}
	})
}
