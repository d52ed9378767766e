package fault

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/scenario"
)

// scriptedStream is a server stream whose Sends and Recvs succeed, with
// a client's metadata.
type scriptedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s scriptedStream) Context() context.Context { return s.ctx }
func (scriptedStream) SendMsg(any) error          { return nil }
func (scriptedStream) RecvMsg(any) error          { return nil }

// relayFaults are one of each stream kind, scoped and drawn at random, so
// the two paths must draw the same choices to agree.
func relayFaults(t *testing.T, s *Streams) {
	t.Helper()
	specs := []struct {
		kind  string
		p     StreamParams
		group string
	}{
		{"stream_abort", StreamParams{Status: "Unavailable", After: 3, Probability: 0.4}, "g"},
		{"stream_delay", StreamParams{Delay: scenario.Duration(time.Microsecond), Probability: 0.3}, ""},
		{"stream_stall", StreamParams{Stall: scenario.Duration(time.Microsecond), After: 2, Probability: 0.5}, "h"},
	}
	for i, sp := range specs {
		k, ok := Lookup(sp.kind)
		if !ok {
			t.Fatalf("no kind %s", sp.kind)
		}
		p := sp.p
		s.Activate(Occurrence{Spec: &Spec{Index: i, Kind: k, Scope: scenario.Scope{Group: sp.group}, Params: &p}}, nil)
	}
}

// TestRelayStreamAsInterceptor: a relay's streams draw the same choices
// as the interceptor's for the same seed and the same streams — the same
// streams abort at the same message with the same status, each stream
// gets as many injections — and their scope is the group the metadata
// names.
func TestRelayStreamAsInterceptor(t *testing.T) {
	const clients, streams, msgs = 12, 6, 9
	type outcome struct {
		abortAt  int
		code     codes.Code
		injected uint64
	}
	run := func(relayed bool) map[string]outcome {
		s := NewStreams(42)
		relayFaults(t, s)
		out := map[string]outcome{}
		for c := range clients {
			group := []string{"g", "h", "other"}[c%3]
			for n := range streams {
				var o outcome
				before := s.injected.Load()
				if relayed {
					rs := s.OpenRelayStream(group, strconv.Itoa(c))
					for i := 1; i <= msgs; i++ {
						h := rs.Message(i, i%2 == 0)
						if h.Abort != nil {
							o.abortAt, o.code = i, h.Abort.Code()
							break
						}
					}
				} else {
					md := metadata.Pairs(MDGroup, group, MDClient, strconv.Itoa(c))
					ss := scriptedStream{ctx: metadata.NewIncomingContext(context.Background(), md)}
					info := &grpc.StreamServerInfo{FullMethod: "/streambench.Math/Sqrt", IsClientStream: true, IsServerStream: true}
					_ = s.Interceptor()(nil, ss, info, func(_ any, ss grpc.ServerStream) error {
						for i := 1; i <= msgs; i++ {
							var err error
							if i%2 == 0 {
								err = ss.SendMsg(nil)
							} else {
								err = ss.RecvMsg(nil)
							}
							if err != nil {
								o.abortAt, o.code = i, status.Code(err)
								return err
							}
						}
						return nil
					})
				}
				o.injected = s.injected.Load() - before
				out[group+"/"+strconv.Itoa(c)+"/"+strconv.Itoa(n)] = o
			}
		}
		return out
	}
	viaHandler, viaRelay := run(false), run(true)
	var aborts, injected int
	for k, want := range viaHandler {
		if got := viaRelay[k]; got != want {
			t.Errorf("stream %s: relay %+v, interceptor %+v", k, got, want)
		}
		if want.abortAt > 0 {
			aborts++
			if want.abortAt <= 3 || want.code != codes.Unavailable || k[0] != 'g' {
				t.Errorf("stream %s aborted %+v: outside the fault's after or scope", k, want)
			}
		}
		injected += int(want.injected)
	}
	if aborts == 0 || aborts == clients/3*streams || injected == 0 {
		t.Fatalf("%d aborts, %d injections: the draws do not pick some streams and spare others", aborts, injected)
	}
}

// TestRelayable: a frame relay acts out every registered stream kind; a
// kind that needs a handler makes Relayable name it.
func TestRelayable(t *testing.T) {
	s := NewStreams(1)
	for _, k := range Kinds {
		s.Expect(k)
	}
	if ok, only := s.Relayable(); !ok {
		t.Fatalf("registered kinds need a handler: %v", only)
	}
	s.Expect(Kind{Name: "stream_rewrite", Layer: Stream})
	if ok, only := s.Relayable(); ok || strings.Join(only, " ") != "stream_rewrite" {
		t.Fatalf("Relayable() = %v, %v; want false, [stream_rewrite]", ok, only)
	}
}

// TestEnd: ends a host counts reach Stats as the interceptor's do.
func TestEnd(t *testing.T) {
	s := NewStreams(1)
	s.End(codes.Canceled)
	s.End(codes.Canceled)
	s.End(codes.OK)
	if got := s.Stats().Ends; got["Canceled"] != 2 || got["OK"] != 1 {
		t.Fatalf("Ends = %v", got)
	}
}
