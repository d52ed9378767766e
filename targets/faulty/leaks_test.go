package faulty

// Tests of the planted leaks. TestMain (with goleak) is in longlived_test.go:
// every test releases what its bug stranded.

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/targets/longlived"
	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

type subscriberCounter interface{ Subscribers() int }

func TestLeakBugsRegistered(t *testing.T) {
	want := map[string]string{
		SubscribeIgnoresCancel:        "faulty.(*ignoresCancel).Subscribe",
		SqrtLeaksGoroutine:            "faulty.(*sqrtLeak).heartbeat",
		SubscribeStrandsOnResubscribe: "faulty.(*strandsOnResubscribe).Subscribe",
	}
	if n := len(leakBugs()); n != len(want) {
		t.Errorf("%d leak bugs, want %d", n, len(want))
	}
	for name, fn := range want {
		b, ok := Lookup(name)
		if !ok {
			t.Errorf("%s: not registered", name)
			continue
		}
		if (b.Longlived == nil) == (b.Math == nil) {
			t.Errorf("%s: must wrap exactly one server", name)
		}
		if d := b.Description; !strings.HasSuffix(d, ".") || !strings.Contains(d, fn) {
			t.Errorf("%s: description %q does not name the evidence %s", name, d, fn)
		}
		var srv any
		if b.Longlived != nil {
			feed := longlived.New(longlived.Config{})
			srv = b.WrapLonglived(feed)
			feed.Close()
			if _, ok := srv.(subscriberCounter); !ok {
				t.Errorf("%s: wrapper has no Subscribers()", name)
			}
			// The builtin target closes a Longlived wrapper with Close()
			// error when it stops, before the leak check: a leak must not
			// be released there.
			if _, ok := srv.(interface{ Close() error }); ok {
				t.Errorf("%s: wrapper has Close() error", name)
			}
		} else {
			srv = b.WrapMath(mathsrv.New())
		}
		l, ok := srv.(Leak)
		if !ok {
			t.Errorf("%s: wrapper does not implement Leak", name)
			continue
		}
		l.Release()
		l.Release() // idempotent
	}
}

// leakSubscribe opens a Subscribe stream; the caller publishes.
func leakSubscribe(t *testing.T, ctx context.Context, cc *grpc.ClientConn, id int32) grpc.ServerStreamingClient[pb.Update] {
	t.Helper()
	st, err := pb.NewLonglivedClient(cc).Subscribe(ctx, &pb.SubscribeRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func leakRecv(t *testing.T, st grpc.ServerStreamingClient[pb.Update]) {
	t.Helper()
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
}

// stays checks that cond holds for a while.
func stays(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s did not hold", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIgnoreCancelStrandsAbandonedHandlers(t *testing.T) {
	feed := longlived.New(longlived.Config{})
	defer feed.Close()
	srv := IgnoreCancel(feed)
	leak, subs := srv.(Leak), srv.(subscriberCounter)
	defer leak.Release()
	cc := llServe(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), llWait)
	defer cancel()

	// A stream ended by Unsubscribe returns normally.
	ok := leakSubscribe(t, ctx, cc, 1)
	llEventually(t, "subscribed", func() bool { return feed.Subscribers() == 1 })
	feed.Publish()
	leakRecv(t, ok)
	if _, err := pb.NewLonglivedClient(cc).Unsubscribe(ctx, &pb.UnsubscribeRequest{Id: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Recv(); err != io.EOF {
		t.Fatalf("unsubscribed stream: %v", err)
	}
	llEventually(t, "handler returned", func() bool { return subs.Subscribers() == 0 })

	// A stream whose client leaves is stranded.
	gone, leave := context.WithCancel(ctx)
	st := leakSubscribe(t, gone, cc, 2)
	llEventually(t, "subscribed", func() bool { return feed.Subscribers() == 1 })
	feed.Publish()
	leakRecv(t, st)
	leave()
	llEventually(t, "stranded", func() bool { return leak.Stranded() == 1 })
	stays(t, "stranded handler", func() bool { return leak.Stranded() == 1 && subs.Subscribers() == 1 })
	if feed.Subscribers() != 0 {
		t.Errorf("feed still counts %d subscribers: the wrapper's count is the evidence", feed.Subscribers())
	}

	leak.Release()
	llEventually(t, "released", func() bool { return leak.Stranded() == 0 && subs.Subscribers() == 0 })

	// After Release, a client that leaves is let go at once.
	gone, leave = context.WithCancel(ctx)
	leakSubscribe(t, gone, cc, 3)
	llEventually(t, "subscribed", func() bool { return subs.Subscribers() == 1 })
	leave()
	llEventually(t, "handler returned", func() bool { return subs.Subscribers() == 0 })
}

func TestStrandOnResubscribe(t *testing.T) {
	feed := longlived.New(longlived.Config{})
	defer feed.Close()
	srv := StrandOnResubscribe(feed)
	leak, subs := srv.(Leak), srv.(subscriberCounter)
	defer leak.Release()
	cc := llServe(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), llWait)
	defer cancel()

	old := leakSubscribe(t, ctx, cc, 7)
	llEventually(t, "subscribed", func() bool { return feed.Subscribers() == 1 })
	feed.Publish()
	leakRecv(t, old)
	oldEnd := make(chan error, 1)
	go func() {
		_, err := old.Recv()
		oldEnd <- err
	}()

	newer := leakSubscribe(t, ctx, cc, 7) // replaces old
	llEventually(t, "stranded", func() bool { return leak.Stranded() == 1 })
	feed.Publish()
	leakRecv(t, newer)
	stays(t, "old stream stranded", func() bool {
		select {
		case err := <-oldEnd:
			t.Fatalf("old stream ended with %v; want it stranded", err)
		default:
		}
		return leak.Stranded() == 1 && subs.Subscribers() == 2
	})

	// Other ends are not affected: Unsubscribe ends the newer stream.
	if _, err := pb.NewLonglivedClient(cc).Unsubscribe(ctx, &pb.UnsubscribeRequest{Id: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := newer.Recv(); err != io.EOF {
		t.Fatalf("newer stream: %v", err)
	}
	llEventually(t, "newer handler returned", func() bool { return subs.Subscribers() == 1 })

	leak.Release()
	select {
	case err := <-oldEnd:
		if status.Code(err) != codes.Aborted {
			t.Errorf("old stream after Release: %v, want Aborted", err)
		}
	case <-time.After(llWait):
		t.Fatal("old stream did not end after Release")
	}
	llEventually(t, "released", func() bool { return leak.Stranded() == 0 && subs.Subscribers() == 0 })
}

func TestSqrtLeaksGoroutine(t *testing.T) {
	srv := LeakSqrtGoroutine(mathsrv.New())
	leak := srv.(Leak)
	defer leak.Release()
	cc, _ := mathServe(t, srv)
	for i := range 3 {
		sink := &mathSink{}
		d := mathsrv.NewSqrtDriver(cc, driver.Params{ID: int32(i), Messages: 5}, sink)
		if end := mathStream(t, context.Background(), d, sink); end.Class != record.Complete {
			t.Fatalf("stream %d: %v (%v): the leak must not break the protocol", i, end.Key(), sink.detail.Load())
		}
	}
	stays(t, "one goroutine per stream", func() bool { return leak.Stranded() == 3 })
	leak.Release()
	llEventually(t, "released", func() bool { return leak.Stranded() == 0 })
}
