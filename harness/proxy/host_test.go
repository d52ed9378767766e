package proxy

import (
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/relay"
	"github.com/streambench/streambench/harness/target"
	pb "github.com/streambench/streambench/targets/proto"
)

// TestHost: without the run's Streams, a Host is the plain link in front
// of the server and reports nothing; with them, the link fronts a proxy
// that reaches the server — the frame relay, or the gRPC proxy when a
// stream kind needs a handler — the Reach still names the server, the
// Host names the proxy, and the report gets a server section for the
// faults' counts.
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

	for _, via := range []string{"", FrameRelay, GRPCProxy} {
		hosted := via != ""
		var h Host
		if hosted {
			s := fault.NewStreams(1)
			abort, _ := fault.Lookup("stream_abort")
			s.Expect(abort)
			if via == GRPCProxy {
				s.Expect(fault.Kind{Name: "stream_rewrite", Layer: fault.Stream})
			}
			h.HostStreams(s)
		}
		reach, err := h.Front(env, addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.ProxiesStreams(); got != via {
			t.Errorf("the stream faults run through %q, want %q", got, via)
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

// TestEndCode: a relayed stream's end counts as the status its client got,
// a reset as the code gRPC maps it to, a stream its connection cut as a
// cancel.
func TestEndCode(t *testing.T) {
	for _, tc := range []struct {
		rec  relay.StreamRecord
		want codes.Code
	}{
		{relay.StreamRecord{EndedBy: relay.EndedByServer, HasStatus: true, Code: codes.OK}, codes.OK},
		{relay.StreamRecord{EndedBy: relay.EndedByServer, HasStatus: true, Code: codes.NotFound}, codes.NotFound},
		{relay.StreamRecord{EndedBy: relay.EndedByRelay, HasStatus: true, Code: codes.ResourceExhausted}, codes.ResourceExhausted},
		{relay.StreamRecord{EndedBy: relay.EndedByClientReset, ResetCode: http2.ErrCodeCancel}, codes.Canceled},
		{relay.StreamRecord{EndedBy: relay.EndedByClientReset, ResetCode: http2.ErrCodeCancel, HasStatus: true, Code: codes.OK}, codes.Canceled},
		{relay.StreamRecord{EndedBy: relay.EndedByServerReset, ResetCode: http2.ErrCodeRefusedStream}, codes.Unavailable},
		{relay.StreamRecord{EndedBy: relay.EndedByServerReset, ResetCode: http2.ErrCodeProtocol}, codes.Internal},
		{relay.StreamRecord{EndedBy: relay.EndedByConn}, codes.Canceled},
	} {
		if got := endCode(tc.rec); got != tc.want {
			t.Errorf("endCode(%+v) = %v, want %v", tc.rec, got, tc.want)
		}
	}
}
