package faulty

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/internal/bufnet"
	"github.com/streambench/streambench/targets/longlived"
	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// llWait bounds every wait: a bug fails a test, never hangs it.
const llWait = 5 * time.Second

// llServe serves srv on bufconn and returns a client conn; both are torn
// down at test end (conn first, then the server).
func llServe(t *testing.T, srv pb.LonglivedServer, dial ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	return bufnet.Serve(t, func(s *grpc.Server) { pb.RegisterLonglivedServer(s, srv) }, nil, dial...)
}

func llEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(llWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// llSink counts what a driver reports.
type llSink struct {
	mu         sync.Mutex
	received   int
	violations map[record.Kind]uint64
	ends       []record.End
	details    []string
}

func newLLSink() *llSink { return &llSink{violations: map[record.Kind]uint64{}} }

func (s *llSink) Sent()    {}
func (s *llSink) Started() {}
func (s *llSink) Received(time.Duration) {
	s.mu.Lock()
	s.received++
	s.mu.Unlock()
}
func (s *llSink) Violated(k record.Kind, n uint64) {
	s.mu.Lock()
	s.violations[k] += n
	s.mu.Unlock()
}
func (s *llSink) Ended(e record.End, _ time.Duration, detail string) {
	s.mu.Lock()
	s.ends = append(s.ends, e)
	s.details = append(s.details, detail)
	s.mu.Unlock()
}
func (s *llSink) got() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}
func (s *llSink) violated(k record.Kind) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.violations[k]
}

func TestLonglivedBugsRegistered(t *testing.T) {
	for _, name := range []string{
		"subscribe_skips_seq", "subscribe_ignores_from_seq",
		"subscribe_replays_previous", "subscribe_single_loop_fanout",
	} {
		b, ok := Lookup(name)
		if !ok || b.Longlived == nil || b.Math != nil || b.Description == "" {
			t.Errorf("bug %q: found %v, %+v", name, ok, b)
		}
	}
}

// The driver catches each wrapper bug: one subscriber, two streams (the
// second resumes from where the first ended), updates published while the
// client is away in between.
func TestDriverCatchesWrapperBugs(t *testing.T) {
	for _, tc := range []struct {
		bug        string
		gaps, dups uint64
		received   int
	}{
		// Stream 1 gets 1..61, 62..91 are published while the client is
		// away, stream 2 resumes at 62 and 92..152 are published. Every
		// multiple of SkipEvery (10) is dropped: 15 of them. Each stream
		// ends on a seq that is not dropped, so every gap is seen.
		{bug: "subscribe_skips_seq", gaps: 152 / SkipEvery, received: 152 - 152/SkipEvery},
		// Stream 2 starts with the next update: 62..91 are lost.
		{bug: "subscribe_ignores_from_seq", gaps: 30, received: 122},
		// Stream 2 starts one early: seq 61 again.
		{bug: "subscribe_replays_previous", dups: 1, received: 153},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			bug, ok := Lookup(tc.bug)
			if !ok {
				t.Fatalf("no bug %q", tc.bug)
			}
			feed := longlived.New(longlived.Config{})
			defer feed.Close()
			cc := llServe(t, bug.WrapLonglived(feed))
			sink := newLLSink()
			d := longlived.NewDriver(cc, driver.Params{ID: 1}, sink)

			want := 0
			stream := func(publish int) {
				t.Helper()
				stop, closeStop := context.WithCancel(context.Background())
				defer closeStop()
				res := make(chan record.End, 1)
				go func() { res <- d.Stream(context.Background(), stop) }()
				llEventually(t, "subscribed", func() bool { return feed.Subscribers() == 1 })
				for range publish {
					feed.Publish()
				}
				want += publish
				llEventually(t, "delivery", func() bool {
					return sink.got()+int(sink.violated(record.Gap)) >= want
				})
				closeStop()
				select {
				case e := <-res:
					if e.Class != record.Complete {
						t.Fatalf("stream ended %v, want complete", e.Key())
					}
				case <-time.After(llWait):
					t.Fatal("Stream did not return")
				}
				llEventually(t, "handler gone", func() bool { return feed.Subscribers() == 0 })
			}
			stream(61) // 1..61
			for range 30 {
				feed.Publish() // 62..91 while away
			}
			want += 30
			stream(61) // 92..152
			if tc.bug == "subscribe_ignores_from_seq" {
				want -= 30
			}
			if g, d := sink.violated(record.Gap), sink.violated(record.Duplicate); g != tc.gaps || d != tc.dups {
				t.Errorf("gaps %d dups %d, want %d and %d", g, d, tc.gaps, tc.dups)
			}
			if sink.got() != tc.received {
				t.Errorf("received %d, want %d", sink.got(), tc.received)
			}
		})
	}
}

// newLoop builds the single-loop bug through the registry, the way the
// harness does, and closes it at test end.
func newLoop(t *testing.T, cfg longlived.Config) *SingleLoopFanout {
	t.Helper()
	bug, ok := Lookup(SubscribeSingleLoopFanout)
	if !ok {
		t.Fatal("no single loop bug")
	}
	srv := bug.WrapLonglived(longlived.New(cfg))
	c, ok := srv.(io.Closer)
	if !ok {
		t.Fatal("single loop server is not an io.Closer")
	}
	t.Cleanup(func() { _ = c.Close() })
	return srv.(*SingleLoopFanout)
}

type llResult struct {
	seqs []uint64
	err  error
}

func llRead(st grpc.ServerStreamingClient[pb.Update], n int) <-chan llResult {
	out := make(chan llResult, 1)
	go func() {
		var r llResult
		for n <= 0 || len(r.seqs) < n {
			u, err := st.Recv()
			if err != nil {
				r.err = err
				break
			}
			r.seqs = append(r.seqs, u.GetSeq())
		}
		out <- r
	}()
	return out
}

func llResultOf(t *testing.T, ch <-chan llResult) llResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(llWait):
		t.Fatal("timed out waiting for a reader")
		return llResult{}
	}
}

func llContiguous(seqs []uint64) bool {
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return false
		}
	}
	return true
}

// Apart from its fan-out, the single-loop server keeps the protocol.
func TestSingleLoopOtherwiseCorrect(t *testing.T) {
	f := newLoop(t, longlived.Config{}) // Rate 0: Publish by hand
	cc := llServe(t, f)
	c := pb.NewLonglivedClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), llWait)
	defer cancel()

	var readers []<-chan llResult
	for id := range int32(3) {
		st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		readers = append(readers, llRead(st, 0))
	}
	llEventually(t, "subscribed", func() bool { return f.Subscribers() == 3 })
	for range 100 {
		f.Publish()
	}
	// Replace id 0, unsubscribe id 1, leave id 2 for Close.
	st0, err := c.Subscribe(ctx, &pb.SubscribeRequest{Id: 0, FromSeq: 101})
	if err != nil {
		t.Fatal(err)
	}
	if r := llResultOf(t, readers[0]); status.Code(r.err) != codes.Aborted || len(r.seqs) != 100 || !llContiguous(r.seqs) {
		t.Errorf("replaced stream: %d updates, %v", len(r.seqs), r.err)
	}
	if resp, err := c.Unsubscribe(ctx, &pb.UnsubscribeRequest{Id: 1}); err != nil || !resp.GetFound() {
		t.Fatalf("Unsubscribe = %v, %v", resp, err)
	}
	if r := llResultOf(t, readers[1]); !errors.Is(r.err, io.EOF) || len(r.seqs) != 100 || !llContiguous(r.seqs) {
		t.Errorf("unsubscribed stream: %d updates, %v", len(r.seqs), r.err)
	}
	llEventually(t, "two left", func() bool { return f.Subscribers() == 2 })
	f.Publish()
	if r := llResultOf(t, llRead(st0, 1)); r.err != nil || r.seqs[0] != 101 {
		t.Errorf("replacement stream: %v, %v", r.seqs, r.err)
	}
	// A from_seq the server no longer has is OutOfRange (no ring).
	old, err := c.Subscribe(ctx, &pb.SubscribeRequest{Id: 7, FromSeq: 50})
	if err != nil {
		t.Fatal(err)
	}
	if r := llResultOf(t, llRead(old, 0)); status.Code(r.err) != codes.OutOfRange {
		t.Errorf("old from_seq: %v", r.err)
	}
	_ = f.Close()
	if r := llResultOf(t, readers[2]); status.Code(r.err) != codes.Unavailable || len(r.seqs) != 101 {
		t.Errorf("stream at Close: %d updates, %v", len(r.seqs), r.err)
	}
	llEventually(t, "handlers return", func() bool { return f.Subscribers() == 0 })
}

// The bug itself: one reader that does not read stalls publication for
// everybody, and Close still returns promptly while it is stalled.
func TestSingleLoopSlowReaderStallsEverybody(t *testing.T) {
	const rate = 1000
	f := newLoop(t, longlived.Config{Rate: rate, Payload: 1024})
	cc := llServe(t, f, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	c := pb.NewLonglivedClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), llWait)
	defer cancel()
	slowCtx, slowCancel := context.WithCancel(ctx)
	defer slowCancel()
	if _, err := c.Subscribe(slowCtx, &pb.SubscribeRequest{Id: 1}); err != nil {
		t.Fatal(err)
	}
	fast, err := c.Subscribe(ctx, &pb.SubscribeRequest{Id: 2})
	if err != nil {
		t.Fatal(err)
	}
	llEventually(t, "subscribed", func() bool { return f.Subscribers() == 2 })

	var mu sync.Mutex
	got := 0
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		for {
			if _, err := fast.Recv(); err != nil {
				return
			}
			mu.Lock()
			got++
			mu.Unlock()
		}
	}()
	time.Sleep(time.Second)
	mu.Lock()
	n := got
	mu.Unlock()
	// A correct server delivers ~1000 here (see longlived's
	// TestSlowSubscriberCutOff); the single loop stops after the slow
	// reader's window and write quota (~130 updates of 1 KiB) are full.
	if n > rate/2 {
		t.Fatalf("fast subscriber got %d updates in 1s at %d/s: not stalled", n, rate)
	}
	t.Logf("fast subscriber got %d updates in 1s at %d/s behind one stalled reader", n, rate)

	closed := make(chan struct{})
	go func() { _ = f.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(llWait):
		t.Fatal("Close blocked behind a stalled Send")
	}
	slowCancel() // the stalled Send returns once its client leaves
	select {
	case <-fastDone:
	case <-time.After(llWait):
		t.Fatal("fast stream did not end after Close")
	}
	llEventually(t, "handlers return", func() bool { return f.Subscribers() == 0 })
}
