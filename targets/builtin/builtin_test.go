package builtin

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/streambench/streambench/targets/faulty"
	"github.com/streambench/streambench/targets/longlived"
	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func dial(t *testing.T, lis func() *bufconn.Listener) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis().DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// TestRestartKeepsFeed: a hard stop and a new Serve keep the seqs and the
// replay ring, so a resubscriber resumes where it was.
func TestRestartKeepsFeed(t *testing.T) {
	tg := New(Config{Feed: longlived.Config{Ring: 100}})
	defer tg.Close(time.Second)
	cur := bufconn.Listen(1 << 16)
	if err := tg.Serve(cur); err != nil {
		t.Fatal(err)
	}
	if err := tg.Serve(cur); err == nil {
		t.Fatal("a second Serve while serving succeeded")
	}
	cc := dial(t, func() *bufconn.Listener { return cur })
	defer cc.Close()
	for range 5 {
		tg.Feed.Publish()
	}
	if !tg.Stop(0) {
		t.Fatal("hard stop reported not graceful")
	}
	tg.Feed.Publish() // seq 6 while down
	cur = bufconn.Listen(1 << 16)
	if err := tg.Serve(cur); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := pb.NewLonglivedClient(cc).Subscribe(ctx, &pb.SubscribeRequest{Id: 1, FromSeq: 3})
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(3); want <= 6; want++ {
		u, err := st.Recv()
		if err != nil || u.GetSeq() != want {
			t.Fatalf("got seq %d (%v), want %d: the restart lost the ring", u.GetSeq(), err, want)
		}
	}
	if tg.Subscribers() != 1 {
		t.Fatalf("subscribers = %d, want 1", tg.Subscribers())
	}
}

// TestStopBoundedWithStrandedHandler: a graceful stop gives up on a
// handler that never returns instead of hanging; Release ends it.
func TestStopBoundedWithStrandedHandler(t *testing.T) {
	b, ok := faulty.Lookup("subscribe_ignores_cancel")
	if !ok {
		t.Fatal("no subscribe_ignores_cancel bug")
	}
	tg := New(Config{WrapLonglived: b.WrapLonglived, WrapMath: b.WrapMath})
	lis := bufconn.Listen(1 << 16)
	if err := tg.Serve(lis); err != nil {
		t.Fatal(err)
	}
	cc := dial(t, func() *bufconn.Listener { return lis })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	st, err := pb.NewLonglivedClient(cc).Subscribe(ctx, &pb.SubscribeRequest{Id: 7})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); tg.Subscribers() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the subscription never registered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	tg.Feed.Publish()
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel() // the client leaves; the buggy handler ignores it
	cc.Close()
	start := time.Now()
	graceful := tg.Close(200 * time.Millisecond)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v with a stranded handler", took)
	}
	if graceful {
		t.Fatal("Close reported a graceful stop although a handler was stranded")
	}
	if tg.Subscribers() == 0 {
		t.Fatal("the stranded handler is invisible to Subscribers")
	}
	tg.Release()
	deadline := time.Now().Add(5 * time.Second)
	for tg.Subscribers() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := tg.Subscribers(); n != 0 {
		t.Fatalf("subscribers after Release = %d", n)
	}
	time.Sleep(100 * time.Millisecond) // the stop goroutine waits for the handler
}
