package longlived

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

// TestStreamContextOnlyWhenNeeded: a Subscribe stream opens on the
// caller's context unless a stream timeout or the idle watchdog must
// cancel it (each context of its own is one more child held by the
// client's context for the stream's life); every form still completes.
func TestStreamContextOnlyWhenNeeded(t *testing.T) {
	tests := []struct {
		name string
		p    driver.Params
		own  bool
	}{
		{"plain", driver.Params{ID: 1}, false},
		{"stream timeout", driver.Params{ID: 1, StreamTimeout: time.Minute}, true},
		{"idle watchdog", driver.Params{ID: 1, Idle: time.Minute}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := New(Config{Ring: 64})
			defer srv.Close()
			opened := make(chan context.Context, 4)
			probe := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, s grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				if desc.ServerStreams && !desc.ClientStreams {
					opened <- ctx
				}
				return s(ctx, desc, cc, method, opts...)
			}
			e := newEnv(t, srv, grpc.WithStreamInterceptor(probe))
			sink := newFakeSink()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop, closeStop := context.WithCancel(context.Background())
			defer closeStop()
			res := runStream(ctx, NewDriver(e.cc, tc.p, sink), stop)
			var got context.Context
			select {
			case got = <-opened:
			case <-time.After(wait):
				t.Fatal("no Subscribe stream opened")
			}
			if own := got.Done() != ctx.Done(); own != tc.own {
				t.Fatalf("stream has a context of its own: %v, want %v", own, tc.own)
			}
			eventually(t, "registered", func() bool { return srv.registered() == 1 })
			srv.Publish()
			eventually(t, "update received", func() bool { return sink.got() == 1 })
			closeStop()
			if end := endOf(t, res); end.Class != record.Complete {
				t.Fatalf("ended %v (%v), want complete", end.Key(), sink.details)
			}
		})
	}
}

// TestUnsubCancel: the Unsubscribe context exists only once started, the
// stream's end cancels it, and a start after the end is refused.
func TestUnsubCancel(t *testing.T) {
	tests := []struct {
		name       string
		startFirst bool
	}{
		{"started then ended", true},
		{"ended before start", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var u unsubCancel
			var ctx context.Context
			if tc.startFirst {
				var ok bool
				ctx, ok = u.start(context.Background())
				if !ok || ctx.Err() != nil {
					t.Fatalf("start = %v, %v; want a live context", ctx, ok)
				}
			}
			u.end()
			if tc.startFirst && ctx.Err() == nil {
				t.Fatal("end did not cancel the started Unsubscribe")
			}
			if c, ok := u.start(context.Background()); ok || c != nil {
				t.Fatal("start after end made a context")
			}
		})
	}
}

// TestQueueHoldsWhatIsInFlight: a subscriber's queue allocates nothing up
// front, keeps order, refuses past its limit, and shrinks back after a
// burst once its subscriber has caught up.
func TestQueueHoldsWhatIsInFlight(t *testing.T) {
	const limit = 1024
	upd := func(seq uint64) *pb.Update { return &pb.Update{Seq: seq} }
	tests := []struct {
		name      string
		burst     int // pushed before the first pop
		wantOK    int // pushes accepted
		wantDepth int // depth returned by the last push
	}{
		{"one update", 1, 1, 1},
		{"a few", 3, 3, 3},
		{"to the limit", limit, limit, limit},
		{"past the limit", limit + 5, limit, limit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue(limit)
			if cap(q.items) != 0 {
				t.Fatalf("new queue holds room for %d updates up front", cap(q.items))
			}
			ok, depth := 0, 0
			for i := range tc.burst {
				d, accepted := q.push(upd(uint64(i + 1)))
				depth = d
				if accepted {
					ok++
				}
			}
			if ok != tc.wantOK || depth != tc.wantDepth || q.len() != tc.wantOK {
				t.Fatalf("accepted %d (last depth %d, len %d), want %d (%d)", ok, depth, q.len(), tc.wantOK, tc.wantDepth)
			}
			select {
			case <-q.wake:
			default:
				t.Fatal("no wake-up after a push")
			}
			// Half taken, then the rest while more arrive: order holds.
			var got []uint64
			for range ok / 2 {
				got = append(got, q.pop().GetSeq())
			}
			next := uint64(ok + 1)
			if ok < limit {
				q.push(upd(next))
				next++
			}
			for u := q.pop(); u != nil; u = q.pop() {
				got = append(got, u.GetSeq())
			}
			if !contiguous(got, 1) || uint64(len(got)) != next-1 {
				t.Fatalf("popped %d updates (contiguous from 1: %v), want %d", len(got), contiguous(got, 1), next-1)
			}
			// Caught up: one update in flight at a time.
			for i := range 3 {
				q.push(upd(next + uint64(i)))
				if u := q.pop(); u == nil || q.pop() != nil {
					t.Fatalf("pop after one push = %v, then more", u)
				}
			}
			if c := cap(q.items); c > shrinkAbove {
				t.Fatalf("after catching up the queue still holds room for %d updates", c)
			}
		})
	}
}

// TestQueueSteadyBacklogStaysBounded: a handler that always trails by a
// few updates reuses its room instead of growing the slice.
func TestQueueSteadyBacklogStaysBounded(t *testing.T) {
	q := newQueue(64)
	seq := uint64(0)
	push := func() {
		seq++
		if _, ok := q.push(&pb.Update{Seq: seq}); !ok {
			t.Fatalf("push %d refused", seq)
		}
	}
	for range 8 {
		push()
	}
	want := uint64(1)
	for range 10_000 {
		push()
		if u := q.pop(); u.GetSeq() != want {
			t.Fatalf("popped %d, want %d", u.GetSeq(), want)
		}
		want++
	}
	if c := cap(q.items); c > 32 {
		t.Fatalf("a steady backlog of 8 grew the queue to room for %d", c)
	}
}
