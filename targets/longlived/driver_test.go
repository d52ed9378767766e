package longlived

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

// runStream runs d.Stream in the background and returns its result channel.
func runStream(ctx context.Context, d driver.Driver, stop context.Context) <-chan record.End {
	out := make(chan record.End, 1)
	go func() { out <- d.Stream(ctx, stop) }()
	return out
}

func endOf(t *testing.T, ch <-chan record.End) record.End {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(wait):
		t.Fatal("timed out waiting for Stream to return")
		return record.End{}
	}
}

func TestDriverCompleteAndResume(t *testing.T) {
	srv := New(Config{Ring: 64})
	defer srv.Close()
	e := newEnv(t, srv)
	sink := newFakeSink()
	d := NewDriver(e.cc, driver.Params{ID: 4}, sink)
	ctx := context.Background()

	total := 0
	for round := range 3 {
		stop, closeStop := context.WithCancel(context.Background())
		defer closeStop()
		res := runStream(ctx, d, stop)
		eventually(t, "registered", func() bool { return srv.registered() == 1 })
		for range 10 {
			srv.Publish()
		}
		total += 10 + 3*round // plus what was published between streams
		eventually(t, "updates received", func() bool { return sink.got() == total })
		closeStop()
		if end := endOf(t, res); end.Class != record.Complete {
			t.Fatalf("round %d ended %v (%v), want complete", round, end.Key(), sink.details)
		}
		eventually(t, "handler gone", func() bool { return srv.Subscribers() == 0 })
		// Published while the client is away: the next stream replays them.
		for range 3 * (round + 1) {
			srv.Publish()
		}
	}
	if sink.started != 3 || len(sink.ends) != 3 || len(sink.violations) != 0 {
		t.Fatalf("started %d, ends %v, violations %v", sink.started, sink.ends, sink.violations)
	}
	if got := d.(*subscribeDriver).next; got != srv.LastSeq()-9+1 {
		// 9 = published after the last stream ended (3*3).
		t.Fatalf("next = %d, last seq %d", got, srv.LastSeq())
	}
}

// stop already closed when Stream starts: the Unsubscribe may overtake the
// Subscribe; the driver retries and still ends Complete.
func TestDriverStopBeforeStart(t *testing.T) {
	srv := New(Config{})
	defer srv.Close()
	e := newEnv(t, srv)
	sink := newFakeSink()
	d := NewDriver(e.cc, driver.Params{ID: 1}, sink)
	stop, closeStop := context.WithCancel(context.Background())
	defer closeStop()
	closeStop()
	for i := range 20 {
		if end := endOf(t, runStream(context.Background(), d, stop)); end.Class != record.Complete {
			t.Fatalf("stream %d ended %v (%v), want complete", i, end.Key(), sink.details)
		}
	}
}

// earlyOK ends every Subscribe with OK after a few updates, unasked.
type earlyOK struct {
	pb.UnimplementedLonglivedServer
	n int
}

func (s earlyOK) Subscribe(_ *pb.SubscribeRequest, st grpc.ServerStreamingServer[pb.Update]) error {
	for i := 1; i <= s.n; i++ {
		if err := st.Send(&pb.Update{Seq: uint64(i), SentUnixNano: time.Now().UnixNano()}); err != nil {
			return err
		}
	}
	return nil
}

func TestDriverEnds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		srv        func() pb.LonglivedServer
		params     driver.Params
		act        func(t *testing.T, cancel context.CancelFunc, srv pb.LonglivedServer)
		want       record.End
		detail     string
		wantNext0  bool
		wantRecvGE int
	}{
		{
			name:       "premature EOF",
			srv:        func() pb.LonglivedServer { return earlyOK{n: 12} },
			want:       record.End{Class: record.PrematureEOF},
			detail:     "clean EOF after 12 updates without Unsubscribe",
			wantRecvGE: 12,
		},
		{
			name: "cancel",
			srv:  func() pb.LonglivedServer { return New(Config{Rate: 100}) },
			act: func(_ *testing.T, cancel context.CancelFunc, _ pb.LonglivedServer) {
				time.Sleep(30 * time.Millisecond)
				cancel()
			},
			want: record.End{Class: record.Canceled},
		},
		{
			name:   "stream timeout",
			srv:    func() pb.LonglivedServer { return New(Config{Rate: 100}) },
			params: driver.Params{StreamTimeout: 50 * time.Millisecond},
			want:   record.End{Class: record.Deadline},
		},
		{
			name: "server close",
			srv:  func() pb.LonglivedServer { return New(Config{}) },
			act: func(t *testing.T, _ context.CancelFunc, srv pb.LonglivedServer) {
				s := srv.(*Server)
				eventually(t, "registered", func() bool { return s.registered() == 1 })
				s.Close()
			},
			want:   record.End{Class: record.Status, Code: codes.Unavailable},
			detail: "server closing",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.srv()
			if s, ok := srv.(*Server); ok {
				s.Start()
				defer s.Close()
			}
			e := newEnv(t, srv)
			sink := newFakeSink()
			tc.params.ID = 2
			d := NewDriver(e.cc, tc.params, sink)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := runStream(ctx, d, context.Background())
			if tc.act != nil {
				tc.act(t, cancel, srv)
			}
			end := endOf(t, res)
			if end != tc.want {
				t.Fatalf("ended %v (%v), want %v", end.Key(), sink.details, tc.want.Key())
			}
			if len(sink.ends) != 1 || sink.ends[0] != end || sink.started != 1 {
				t.Fatalf("sink: started %d, ends %v", sink.started, sink.ends)
			}
			if !strings.Contains(sink.details[0], tc.detail) {
				t.Errorf("detail %q, want it to contain %q", sink.details[0], tc.detail)
			}
			if sink.got() < tc.wantRecvGE {
				t.Errorf("received %d, want >= %d", sink.got(), tc.wantRecvGE)
			}
		})
	}
}

// After OutOfRange the client starts over (next = 0) without counting a gap.
func TestDriverOutOfRangeStartsOver(t *testing.T) {
	srv := New(Config{Ring: 4})
	defer srv.Close()
	e := newEnv(t, srv)
	sink := newFakeSink()
	d := NewDriver(e.cc, driver.Params{ID: 5}, sink)
	sd := d.(*subscribeDriver)
	for range 20 {
		srv.Publish()
	}
	sd.next = 3 // long gone from a ring of 4
	end := endOf(t, runStream(context.Background(), d, context.Background()))
	if end != (record.End{Class: record.Status, Code: codes.OutOfRange}) || sd.next != 0 {
		t.Fatalf("ended %v, next %d; want OutOfRange and next 0", end.Key(), sd.next)
	}
	stop, closeStop := context.WithCancel(context.Background())
	defer closeStop()
	res := runStream(context.Background(), d, stop)
	eventually(t, "registered", func() bool { return srv.registered() == 1 })
	for range 5 {
		srv.Publish()
	}
	eventually(t, "received", func() bool { return sink.got() == 5 })
	closeStop()
	if end := endOf(t, res); end.Class != record.Complete || len(sink.violations) != 0 || sd.next != 26 {
		t.Fatalf("ended %v, violations %v, next %d", end.Key(), sink.violations, sd.next)
	}
}

// Gaps count the updates lost; repeats count one duplicate each and never
// move next backwards.
func TestDriverSeqCheckCounts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		seqs       []uint64
		start      uint64
		gaps, dups uint64
		next       uint64
	}{
		{"contiguous", []uint64{1, 2, 3}, 0, 0, 0, 4},
		{"fresh start anywhere", []uint64{40, 41}, 0, 0, 0, 42},
		{"gap", []uint64{5, 6, 9, 10}, 5, 2, 0, 11},
		{"duplicate", []uint64{5, 5, 6, 4, 7}, 5, 0, 2, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &scripted{seqs: tc.seqs}
			e := newEnv(t, srv)
			sink := newFakeSink()
			d := NewDriver(e.cc, driver.Params{ID: 1}, sink)
			d.(*subscribeDriver).next = tc.start
			end := endOf(t, runStream(context.Background(), d, context.Background()))
			if end.Class != record.PrematureEOF {
				t.Fatalf("end %v", end.Key())
			}
			if sink.violations[record.Gap] != tc.gaps || sink.violations[record.Duplicate] != tc.dups {
				t.Fatalf("violations %v, want gaps %d dups %d", sink.violations, tc.gaps, tc.dups)
			}
			if got := d.(*subscribeDriver).next; got != tc.next {
				t.Fatalf("next %d, want %d", got, tc.next)
			}
		})
	}
}

// scripted sends a fixed list of seqs, then ends with OK.
type scripted struct {
	pb.UnimplementedLonglivedServer
	seqs []uint64
}

func (s *scripted) Subscribe(_ *pb.SubscribeRequest, st grpc.ServerStreamingServer[pb.Update]) error {
	for _, seq := range s.seqs {
		if err := st.Send(&pb.Update{Seq: seq, SentUnixNano: time.Now().UnixNano()}); err != nil {
			return err
		}
	}
	return nil
}
