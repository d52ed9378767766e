package harness

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/targets/generic"
	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

// oneBackend is a balancing link of one backend, b0: all backendStats
// asks of its link.
type oneBackend struct{ link.Link }

func (oneBackend) Balancing() string { return "l4 round robin" }
func (oneBackend) Backends() []link.BackendState {
	return []link.BackendState{{Name: "b0", Up: true}}
}

// onB0 is a connection whose remote address names backend b0, as the
// balanced link's connections do.
type onB0 struct{ net.Conn }

func (onB0) RemoteAddr() net.Addr { return link.BackendAddr{Backend: "b0", Addr: "127.0.0.1:1"} }

// serveOnB0 serves Math and server reflection in memory to a ClientConn
// whose connection is to backend b0; the test's cleanup stops both.
func serveOnB0(t *testing.T, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pb.RegisterMathServer(srv, mathsrv.New())
	reflection.Register(srv)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.Serve(lis)
	}()
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		c, err := lis.DialContext(ctx)
		if err != nil {
			return nil, err
		}
		return onB0{c}, nil
	}
	opts = append(opts, grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient("passthrough:///b0", opts...)
	if err != nil {
		srv.Stop()
		wg.Wait()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		srv.Stop()
		wg.Wait()
	})
	return cc
}

// TestBackendCountsClientStreamsOnly: a backend's open streams are the
// clients' streams open on it. streambench's own reflection lookup (a
// group's setup) is neither opened nor open on it, nor an open call of
// the connection's, and a stream that ends by a cancel (not read to an
// error, as the lookup ends its own) is no longer open (the issue:
// "201 of 200 streams" for the whole run).
func TestBackendCountsClientStreamsOnly(t *testing.T) {
	pow := func(ctx context.Context, t *testing.T, cc grpc.ClientConnInterface, count int32, read int) {
		s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/streambench.v1.Math/Pow")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendMsg(&pb.PowRequest{Base: 1, Count: count, IntervalNanos: int64(time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseSend(); err != nil {
			t.Fatal(err)
		}
		for i := 0; read < 0 || i < read; i++ {
			if err := s.RecvMsg(new(pb.PowResponse)); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name                  string
		streams               func(ctx context.Context, t *testing.T, cc grpc.ClientConnInterface)
		opened, active, opens int64
		messages              uint64
	}{
		{"reflection lookup in setup", func(ctx context.Context, t *testing.T, cc grpc.ClientConnInterface) {
			if _, err := generic.Resolve(ownStreams(ctx), generic.Source{}, "streambench.v1.Math/Pow", cc); err != nil {
				t.Fatal(err)
			}
		}, 0, 0, 0, 0},
		{"read to its end", func(ctx context.Context, t *testing.T, cc grpc.ClientConnInterface) {
			pow(ctx, t, cc, 3, -1)
		}, 1, 0, 1, 3},
		{"canceled after a message", func(ctx context.Context, t *testing.T, cc grpc.ClientConnInterface) {
			sctx, cancel := context.WithCancel(ctx)
			pow(sctx, t, cc, 1000, 1)
			cancel()
		}, 1, 0, 1, 1},
		{"still open", func(ctx context.Context, t *testing.T, cc grpc.ClientConnInterface) {
			pow(ctx, t, cc, 1000, 1)
		}, 1, 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &backendStats{lb: oneBackend{}, counts: map[string]*backendCount{}, last: map[string]snapshot{}}
			st := &connStat{}
			cc := serveOnB0(t, grpc.WithChainStreamInterceptor(st.interceptor(), b.interceptor()))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tc.streams(ctx, t, cc)
			c := b.count("b0")
			// A cancel ends the count from gRPC's own goroutine.
			for c.active.Load() != tc.active && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			if got := c.opened.Load(); int64(got) != tc.opened {
				t.Errorf("opened %d, want %d", got, tc.opened)
			}
			if got := c.active.Load(); got != tc.active {
				t.Errorf("open %d, want %d", got, tc.active)
			}
			if got := c.messages.Load(); got != tc.messages {
				t.Errorf("messages %d, want %d", got, tc.messages)
			}
			if got := st.call.Count(); int64(got) != tc.opens {
				t.Errorf("open calls %d, want %d", got, tc.opens)
			}
		})
	}
}
