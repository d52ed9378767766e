package link

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"

	"github.com/streambench/streambench/harness/scenario"
	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

// backendServers starts n Math servers on loopback, named b0..b(n-1), and
// stops them at cleanup (after the test's clients and link closed).
func backendServers(t *testing.T, n int) (names, addrs []string) {
	t.Helper()
	for i := range n {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		pb.RegisterMathServer(srv, mathsrv.New())
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(lis) }()
		t.Cleanup(func() { srv.Stop(); <-done })
		names, addrs = append(names, "b"+string(rune('0'+i))), append(addrs, lis.Addr().String())
	}
	return names, addrs
}

// backendOf opens one Pow stream on cc and says which backend served it,
// from the stream's peer address.
func backendOf(t *testing.T, cc *grpc.ClientConn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var p peer.Peer
	s, err := pb.NewMathClient(cc).Pow(ctx, &pb.PowRequest{Base: 2, Count: 1}, grpc.Peer(&p))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err == nil {
		t.Fatal("a second message from Pow count 1")
	}
	a, ok := p.Addr.(BackendAddr)
	if !ok {
		t.Fatalf("peer %T %v is not a BackendAddr", p.Addr, p.Addr)
	}
	return a.Backend
}

func TestBalanced(t *testing.T) {
	for _, tc := range []struct {
		name, mode, policy string
		conns              int
		// want is the backend of each ClientConn's first stream, in
		// dial order; then b1 leaves and wantAfter is each new
		// ClientConn's.
		want, wantAfter []string
	}{
		{"l4 round robin per connection", scenario.BalancerL4, "", 4, []string{"b0", "b1", "b2", "b0"}, []string{"b2", "b0", "b2"}},
		{"client pick_first: the first listed", scenario.BalancerClient, "pick_first", 3, []string{"b0", "b0", "b0"}, []string{"b0", "b0", "b0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, addrs := backendServers(t, 3)
			b, err := NewBalanced(tc.mode, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			for i := range names {
				b.Add(names[i], addrs[i])
			}
			var ccs []*grpc.ClientConn
			t.Cleanup(func() {
				for _, cc := range ccs {
					cc.Close()
				}
				b.Close()
			})
			dial := func(i int) *grpc.ClientConn {
				opts := append(b.DialOptionsFor(Label{Group: "g", Conn: i}), grpc.WithTransportCredentials(insecure.NewCredentials()))
				cc, err := grpc.NewClient(b.Target(), opts...)
				if err != nil {
					t.Fatal(err)
				}
				ccs = append(ccs, cc)
				return cc
			}
			for i, want := range tc.want {
				if got := backendOf(t, dial(i)); got != want {
					t.Errorf("connection %d went to %s, want %s", i, got, want)
				}
			}
			b.Remove("b1")
			for i, want := range tc.wantAfter {
				if got := backendOf(t, dial(100+i)); got != want {
					t.Errorf("after b1 left, connection %d went to %s, want %s", i, got, want)
				}
			}
			if st := b.Backends(); len(st) != 3 || st[1].Up || !st[0].Up {
				t.Errorf("backends %+v, want b1 out of service", st)
			}
		})
	}
}

// TestBalancedClientRoundRobin: the client balancer's resolver lists every
// backend, round_robin spreads one ClientConn's streams over them, and a
// backend that joins is listed to live ClientConns.
func TestBalancedClientRoundRobin(t *testing.T) {
	names, addrs := backendServers(t, 3)
	b, err := NewBalanced(scenario.BalancerClient, "round_robin")
	if err != nil {
		t.Fatal(err)
	}
	b.Add(names[0], addrs[0])
	b.Add(names[1], addrs[1])
	opts := append(b.DialOptionsFor(Label{Group: "g"}), grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient(b.Target(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer cc.Close()
	// round_robin picks among the subchannels ready: once both are,
	// streams alternate.
	seen := map[string]int{}
	for deadline := time.Now().Add(5 * time.Second); (seen["b0"] == 0 || seen["b1"] == 0) && time.Now().Before(deadline); {
		seen[backendOf(t, cc)]++
	}
	seen = map[string]int{}
	for range 6 {
		seen[backendOf(t, cc)]++
	}
	if seen["b0"] != 3 || seen["b1"] != 3 {
		t.Errorf("round_robin over b0, b1: %v, want 3 each", seen)
	}
	b.Add(names[2], addrs[2])
	deadline := time.Now().Add(5 * time.Second)
	for seen["b2"] == 0 && time.Now().Before(deadline) {
		seen[backendOf(t, cc)]++
	}
	if seen["b2"] == 0 {
		t.Errorf("b2 joined but no stream reached it within 5s: %v", seen)
	}
}

func TestNewBalancedRefuses(t *testing.T) {
	for _, tc := range []struct{ mode, policy, want string }{
		{"l7", "", "balancer"},
		{scenario.BalancerClient, "least_request", "policy"},
	} {
		if _, err := NewBalanced(tc.mode, tc.policy); err == nil {
			t.Errorf("NewBalanced(%q, %q): no error, want one naming the %s", tc.mode, tc.policy, tc.want)
		}
	}
}

// TestBalancedFaults: a network fault acts on the connections the balanced
// link dialled, whichever backend each reached, and only on those its
// match picks.
func TestBalancedFaults(t *testing.T) {
	names, addrs := backendServers(t, 2)
	b, err := NewBalanced(scenario.BalancerL4, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range names {
		b.Add(names[i], addrs[i])
	}
	var ccs []*grpc.ClientConn
	defer func() {
		_ = b.Quiesce()
		for _, cc := range ccs {
			cc.Close()
		}
		b.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var streams []grpc.ServerStreamingClient[pb.PowResponse]
	for i := range 2 {
		opts := append(b.DialOptionsFor(Label{Group: "g", Conn: i}), grpc.WithTransportCredentials(insecure.NewCredentials()))
		cc, err := grpc.NewClient(b.Target(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		ccs = append(ccs, cc)
		s, err := pb.NewMathClient(cc).Pow(ctx, &pb.PowRequest{Base: 1, Count: 1000, IntervalNanos: int64(10 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	if _, err := b.Apply(Fault{Kind: Sever}, func(l Label) bool { return l.Conn == 1 }); err != nil {
		t.Fatal(err)
	}
	var err1 error
	for err1 == nil {
		_, err1 = streams[1].Recv()
	}
	for range 5 {
		if _, err := streams[0].Recv(); err != nil {
			t.Fatalf("the stream on the connection the sever did not pick ended: %v", err)
		}
	}
	if b.Supports("timeout") || !b.Supports("latency") {
		t.Errorf("kinds %v: the balanced link does what tcp does", b.Kinds())
	}
}
