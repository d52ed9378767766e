package proxy

import (
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/target"
	pb "github.com/streambench/streambench/targets/proto"
)

// TestHost: without the run's Streams, a Host is the plain link in front
// of the server and reports nothing; with them, the link fronts a proxy
// that reaches the server, the Reach still names the server, and the
// report gets a server section for the interceptor's counts.
func TestHost(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterMathServer(srv, &mathUpstream{ended: make(chan error, 16)})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	addr := lis.Addr().String()
	env := target.Env{Link: link.KindTCP, Creds: insecure.NewCredentials()}

	for _, hosted := range []bool{false, true} {
		var h Host
		if hosted {
			h.HostStreams(fault.NewStreams(1))
		}
		reach, err := h.Front(env, addr)
		if err != nil {
			t.Fatal(err)
		}
		if reach.Authority != addr || reach.Addr != addr {
			t.Errorf("hosted=%v: reach names %q / %q, want the server's %s", hosted, reach.Authority, reach.Addr, addr)
		}
		if via := reach.Link.Target(); (via != "passthrough:///"+addr) == !hosted {
			t.Errorf("hosted=%v: the link dials %s (server %s)", hosted, via, addr)
		}
		st, err := h.Stats()
		if err != nil || (st != nil) != hosted {
			t.Errorf("hosted=%v: Stats = %v, %v", hosted, st, err)
		}
		opts := append(reach.Link.DialOptionsFor(link.Label{Group: "g"}), grpc.WithTransportCredentials(insecure.NewCredentials()))
		cc, err := grpc.NewClient(reach.Link.Target(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		s, err := pb.NewMathClient(cc).Pow(ctxOf(t), &pb.PowRequest{Base: 2, Count: 3})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := s.Recv(); err != nil {
				t.Fatalf("hosted=%v: message %d: %v", hosted, i, err)
			}
		}
		_ = cc.Close()
		h.Stop(time.Second)
		h.Stop(time.Second) // idempotent
		_ = reach.Link.Close()
	}
}
