package relay

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/streambench/streambench/targets/proto"
)

// fastReconnect makes grpc-go retry a failed connection within tens of
// milliseconds.
var fastReconnect = grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 100 * time.Millisecond},
	MinConnectTimeout: 2 * time.Second,
})

// conns waits until the relay has closed at least n connections and
// returns every record.
func closedConns(t *testing.T, r *Relay, n int) []ConnRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []ConnRecord
		for _, c := range r.Conns() {
			if !c.Closed.IsZero() {
				got = append(got, c)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections closed, want %d: %+v", len(got), n, r.Conns())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// shortPow calls Pow through the rig with a deadline, fail-fast.
func shortPow(r *rig, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s, err := r.client.Pow(ctx, &pb.PowRequest{Base: 2, Count: 2})
	if err != nil {
		return err
	}
	_, err = recvAll(s)
	return err
}

// TestConnFaultsAtStages: each fault before the upstream is dialled
// ends the attempt at its stage, counted as a failed attempt (no
// upstream SETTINGS reached the client), and the grpc-go client sees its
// RPC fail and keeps trying (several attempts recorded, the listener
// still open).
func TestConnFaultsAtStages(t *testing.T) {
	tests := []struct {
		name   string
		at     Stage
		action ConnAction
		stage  Stage // the furthest stage recorded
		code   codes.Code
	}{
		{name: "refuse", at: StageAccepted, action: ConnAction{Kind: ConnRefuse}, stage: StageAccepted, code: codes.Unavailable},
		{name: "close after accept", at: StageAccepted, action: ConnAction{Kind: ConnClose}, stage: StageAccepted, code: codes.Unavailable},
		{name: "close after preface", at: StagePreface, action: ConnAction{Kind: ConnClose}, stage: StagePreface, code: codes.Unavailable},
		{name: "close after settings", at: StageSettings, action: ConnAction{Kind: ConnClose}, stage: StageSettings, code: codes.Unavailable},
		{name: "goaway before any stream", at: StageSettings, action: ConnAction{Kind: ConnGoAway}, stage: StageSettings, code: codes.Unavailable},
		{name: "hold", at: StageAccepted, action: ConnAction{Kind: ConnHold, Hold: 400 * time.Millisecond}, stage: StageAccepted, code: codes.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: func(c *Config) {
				c.ConnFaults = StageFault{At: tt.at, Action: tt.action}
				c.Linger = 200 * time.Millisecond
			}, dial: []grpc.DialOption{fastReconnect}})
			err := shortPow(r, 300*time.Millisecond)
			if got := status.Code(err); got != tt.code {
				t.Fatalf("client got %v (%v), want %v", got, err, tt.code)
			}
			t.Logf("the client saw: %v", err)
			want := 3 // the client keeps trying, each attempt recorded
			if tt.action.Kind == ConnHold {
				want = 1
			}
			recs := closedConns(t, r.relay, want)
			for _, c := range recs {
				if c.Stage != tt.stage || c.End != EndFault || c.Fault != tt.action.Kind.String() || !c.Established.IsZero() {
					t.Errorf("record: stage %v end %q fault %q established %v, want %v, fault, %q, never",
						c.Stage, c.End, c.Fault, c.Established, tt.stage, tt.action.Kind)
				}
				if c.Reached[tt.stage].IsZero() || c.Reached[StageAccepted].After(c.Reached[tt.stage]) {
					t.Errorf("stage times %v", c.Reached)
				}
				if tt.action.Kind == ConnHold && c.Closed.Sub(c.Opened) < 350*time.Millisecond {
					t.Errorf("held for %v, want 400ms", c.Closed.Sub(c.Opened))
				}
			}
			// The fault switched off, the next call goes through.
			r.relay.SetConnFaults(nil)
			if err := wantPow(ctxOf(t), r, &pb.PowRequest{Base: 2, Count: 3}, 3, grpc.WaitForReady(true)); err != nil {
				t.Fatalf("after the fault: %v", err)
			}
			healthy := 0
			for _, c := range r.relay.Conns() {
				if c.Streams == 0 {
					continue
				}
				healthy++
				if c.Established.IsZero() || c.Stage != StageStream || c.Fault != "" {
					t.Errorf("the healthy attempt's record: %+v", c)
				}
			}
			if healthy != 1 {
				t.Errorf("%d attempts carried the call, want 1", healthy)
			}
		})
	}
}

// TestHoldReleased: a hold ends when its release channel closes (the
// fault window's end), well before its bound.
func TestHoldReleased(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, rigOpts{cfg: func(c *Config) {
		c.ConnFaults = StageFault{At: StageAccepted, Action: ConnAction{Kind: ConnHold, Hold: time.Minute, Release: release}}
		c.Linger = 100 * time.Millisecond
	}, dial: []grpc.DialOption{fastReconnect}})
	r.cc.Connect()
	deadline := time.Now().Add(5 * time.Second)
	for r.relay.Open() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.relay.SetConnFaults(nil)
	close(release)
	if err := wantPow(ctxOf(t), r, &pb.PowRequest{Base: 2, Count: 3}, 3, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	c := closedConns(t, r.relay, 1)[0]
	if c.Fault != "hold" || c.Closed.Sub(c.Opened) > 5*time.Second {
		t.Errorf("held attempt: %+v", c)
	}
}

// TestGoAwayAtStream: GOAWAY NO_ERROR as the first stream opens (max
// connection age): the stream goes on through the grace, the client
// opens its next stream on a new connection, none on the old one.
func TestGoAwayAtStream(t *testing.T) {
	r := newRig(t, rigOpts{cfg: func(c *Config) {
		c.ConnFaults = StageFault{At: StageStream, Action: ConnAction{Kind: ConnGoAway, Grace: 400 * time.Millisecond}}
		c.Linger = 100 * time.Millisecond
	}})
	ctx := ctxOf(t)
	s, err := r.client.Sqrt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // within the grace
		if err := s.Send(&pb.SqrtRequest{Seq: uint64(i), Value: 4}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("message %d within the grace: %v", i, err)
		}
	}
	r.relay.SetConnFaults(nil)
	if err := wantPow(ctx, r, &pb.PowRequest{Base: 2, Count: 2}, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("the old stream after the grace: %v, want Unavailable", err)
	}
	c1 := closedConns(t, r.relay, 1)[0]
	var g *ControlFrame
	for i, f := range c1.Control {
		if f.Type == http2.FrameGoAway && f.Dir == ServerToClient {
			g = &c1.Control[i]
		}
	}
	if g == nil || !g.ByRelay || g.Code != http2.ErrCodeNo || g.LastStreamID != 1 || g.Dir != ServerToClient {
		t.Fatalf("GOAWAY record %+v", g)
	}
	if c1.End != EndFault || c1.Fault != "goaway" {
		t.Errorf("connection: end %q fault %q", c1.End, c1.Fault)
	}
	for _, st := range r.relay.Streams() {
		if st.Method == powMethod && st.Conn == c1.ID || st.AfterGoAway {
			t.Errorf("stream opened on the old connection after GOAWAY: %+v", st)
		}
	}
}

// TestTooManyPings: GOAWAY ENHANCE_YOUR_CALM "too_many_pings" as a
// grpc-go server sends it; the client drops the connection and comes
// back on a new one (grpc-go also doubles its keepalive time then).
func TestTooManyPings(t *testing.T) {
	for _, live := range []bool{false, true} {
		name := map[bool]string{false: "at the first stream", true: "on live connections"}[live]
		t.Run(name, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: func(c *Config) {
				if !live {
					c.ConnFaults = StageFault{At: StageStream, Action: ConnAction{Kind: ConnTooManyPings}}
				}
				c.Linger = 100 * time.Millisecond
			}, dial: []grpc.DialOption{fastReconnect}})
			ctx := ctxOf(t)
			s, err := r.client.Sqrt(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if live {
				if err := s.Send(&pb.SqrtRequest{Value: 4}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Recv(); err != nil {
					t.Fatal(err)
				}
				if n := r.relay.GoAway(http2.ErrCodeEnhanceYourCalm, "too_many_pings", 0); n != 1 {
					t.Fatalf("GoAway sent to %d connections, want 1", n)
				}
			}
			if _, err := s.Recv(); status.Code(err) != codes.Unavailable {
				t.Errorf("the stream: %v, want Unavailable", err)
			}
			r.relay.SetConnFaults(nil)
			if err := wantPow(ctx, r, &pb.PowRequest{Base: 2, Count: 2}, 2, grpc.WaitForReady(true)); err != nil {
				t.Fatal(err)
			}
			c1 := closedConns(t, r.relay, 1)[0]
			found := false
			for _, f := range c1.Control {
				if f.Type == http2.FrameGoAway && f.Code == http2.ErrCodeEnhanceYourCalm && f.Debug == "too_many_pings" && f.ByRelay {
					found = true
				}
			}
			if !found || c1.End != EndFault || c1.Fault != "too_many_pings" {
				t.Errorf("record: end %q fault %q control %+v", c1.End, c1.Fault, c1.Control)
			}
		})
	}
}

// TestUpstreamDownSeenByClient measures what a grpc-go client sees when
// the relay's upstream is down (the package's attempt doc says it): the
// connection is accepted and closed with nothing sent, the RPC fails
// Unavailable, every retry is one more attempt recorded as upstream_down.
func TestUpstreamDownSeenByClient(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := lis.Addr().String()
	_ = lis.Close()
	r, err := Start(Config{Upstream: down})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	cc, err := grpc.NewClient("passthrough:///"+r.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()), fastReconnect)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = pb.NewMathClient(cc).Pow(ctx, &pb.PowRequest{Base: 2, Count: 1}, grpc.WaitForReady(true))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("wait-for-ready call: %v, want DeadlineExceeded", err)
	}
	s, err := pb.NewMathClient(cc).Pow(context.Background(), &pb.PowRequest{Base: 2, Count: 1})
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("fail-fast call: %v, want Unavailable", err)
	}
	t.Logf("the client saw: %v", err)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "server preface") && !strings.Contains(msg, "reset by peer") &&
		!strings.Contains(msg, "broken pipe") {
		t.Errorf("unexpected client error %q", msg)
	}
	recs := closedConns(t, r, 3)
	for _, c := range recs {
		if c.End != EndUpstreamDown || !c.Established.IsZero() || c.Streams != 0 || len(c.Control) != 0 || c.Stage > StagePreface {
			t.Errorf("attempt %+v, want upstream_down with nothing relayed", c)
		}
	}
}

// TestSeqs: the relay reads the declared fields from whole messages,
// also those spanning DATA frames, and leaves undeclared methods alone;
// a compressed message is counted undecoded.
func TestSeqs(t *testing.T) {
	tests := []struct {
		name string
		req  *pb.PowRequest
		opts []grpc.CallOption
		want SeqRecord
	}{
		{name: "small", req: &pb.PowRequest{Base: 7, Count: 5}, want: SeqRecord{Resume: 7, HasResume: true, First: 0, Last: 4, Count: 5}},
		{name: "spanning frames", req: &pb.PowRequest{Base: 3, Count: 3, PayloadBytes: 200 << 10}, want: SeqRecord{Resume: 3, HasResume: true, First: 0, Last: 2, Count: 3}},
		{name: "compressed", req: &pb.PowRequest{Base: 2, Count: 2, PayloadBytes: 10}, opts: []grpc.CallOption{grpc.UseCompressor("gzip")},
			want: SeqRecord{Resume: 0, HasResume: true, Undecoded: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: func(c *Config) { c.Seqs = &Seqs{Method: powMethod, Response: 1, Request: 1} }})
			ctx := ctxOf(t)
			if err := wantPow(ctx, r, tt.req, int(tt.req.Count), tt.opts...); err != nil {
				t.Fatal(err)
			}
			got := ended(t, r.relay, powMethod, 1)[0].Seq
			if got != tt.want {
				t.Errorf("seq record %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestFaultsAtStream: a close or a reset as the first stream opens ends
// an attempt that was established (the upstream's SETTINGS crossed): the
// client's call fails Unavailable and the record says where.
func TestFaultsAtStream(t *testing.T) {
	for _, kind := range []ConnFaultKind{ConnClose, ConnRefuse} {
		t.Run(kind.String(), func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: func(c *Config) {
				c.ConnFaults = StageFault{At: StageStream, Action: ConnAction{Kind: kind}}
			}})
			if err := shortPow(r, 2*time.Second); status.Code(err) != codes.Unavailable {
				t.Fatalf("client got %v, want Unavailable", err)
			}
			c := closedConns(t, r.relay, 1)[0]
			if c.Stage != StageStream || c.End != EndFault || c.Fault != kind.String() || c.Established.IsZero() || c.Streams != 1 {
				t.Errorf("record %+v", c)
			}
		})
	}
}
