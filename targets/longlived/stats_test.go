package longlived

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/streambench/streambench/targets/proto"
)

// Every Send is counted, the backlog's too; a reader that keeps up leaves
// no Send blocked and no queue behind.
func TestStatsFastReader(t *testing.T) {
	srv := New(Config{Payload: 16})
	defer srv.Close()
	e := newEnv(t, srv)
	for range 5 {
		srv.Publish()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := e.c.Subscribe(ctx, &pb.SubscribeRequest{Id: 1, FromSeq: 1}) // 5 from the ring
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "registered", func() bool { return srv.registered() == 1 })
	for range 10 {
		srv.Publish()
	}
	r := result(t, readAll(stream, 15))
	if r.err != nil || !contiguous(r.seqs, 1) {
		t.Fatalf("read %v, err %v", r.seqs, r.err)
	}
	st := srv.Stats(time.Second)
	if st.Published != 15 || st.Rate != 0 || st.CutOff != 0 || st.BlockedNow != 0 || st.Subscribers != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n := st.SendBlocked.TotalCount(); n != 15 {
		t.Fatalf("SendBlocked counts %d Sends, want 15", n)
	}
	if st.MaxQueue < 1 || st.MaxQueue > 10 {
		t.Fatalf("MaxQueue %d, want 1..10", st.MaxQueue)
	}
	if st.SendTime <= 0 || st.SendTime > time.Second {
		t.Fatalf("SendTime %v", st.SendTime)
	}
	cancel()
	eventually(t, "handler gone", func() bool { return srv.Stats(0).Subscribers == 0 })
}

// A reader that does not read: its Send blocks (seen while it lasts), its
// queue overflows and it is cut off, and once it drains the blocked time is
// in the histogram.
func TestStatsStalledReader(t *testing.T) {
	const (
		queue   = 64
		blocked = 300 * time.Millisecond
	)
	srv := New(Config{Rate: 1000, Payload: 1024, Queue: queue})
	defer srv.Close()
	e := newEnv(t, srv, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	stream, err := e.c.Subscribe(ctx, &pb.SubscribeRequest{Id: 1})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "registered", func() bool { return srv.registered() == 1 })
	srv.Start()

	eventually(t, "cut off", func() bool { return srv.Stats(0).CutOff == 1 })
	eventually(t, "Send blocked", func() bool { return srv.Stats(blocked).BlockedNow == 1 })
	st := srv.Stats(blocked)
	if st.LongestSend <= blocked || st.MaxQueue != queue || st.Subscribers != 1 {
		// Cut off and unregistered, its handler is still in Send.
		t.Fatalf("while stalled: %+v", st)
	}
	if srv.registered() != 0 {
		t.Fatal("cut-off subscriber still registered")
	}

	r := result(t, readAll(stream, 0))
	if status.Code(r.err) != codes.ResourceExhausted || !contiguous(r.seqs, r.seqs[0]) {
		t.Fatalf("drained %d updates, err %v", len(r.seqs), r.err)
	}
	eventually(t, "handler gone", func() bool { return srv.Stats(0).Subscribers == 0 })
	st = srv.Stats(0)
	if maxUS := st.SendBlocked.Max(); maxUS < blocked.Microseconds() {
		t.Fatalf("longest Send recorded %dµs, want > %v", maxUS, blocked)
	}
	if st.SendTime < blocked || st.BlockedNow != 0 || st.LongestSend != 0 || st.CutOff != 1 || st.Rate != 1000 {
		t.Fatalf("after drain: %+v", st)
	}
	if n := st.SendBlocked.TotalCount(); n != int64(len(r.seqs)) {
		t.Fatalf("SendBlocked counts %d Sends, client got %d", n, len(r.seqs))
	}
	t.Logf("cut off after %d updates in flight; longest Send %v, total Send time %v",
		len(r.seqs), time.Duration(st.SendBlocked.Max())*time.Microsecond, st.SendTime)
}
