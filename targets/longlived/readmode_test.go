package longlived

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

// silentAfter sends n updates, then keeps the stream open without sending
// anything until the client goes away: a blackhole as the client sees it.
type silentAfter struct {
	pb.UnimplementedLonglivedServer
	n int
}

func (s silentAfter) Subscribe(_ *pb.SubscribeRequest, st grpc.ServerStreamingServer[pb.Update]) error {
	for i := 1; i <= s.n; i++ {
		if err := st.Send(&pb.Update{Seq: uint64(i), SentUnixNano: time.Now().UnixNano()}); err != nil {
			return err
		}
	}
	<-st.Context().Done()
	return st.Context().Err()
}

func TestDriverIdleWatchdog(t *testing.T) {
	const idle = 150 * time.Millisecond
	for _, tc := range []struct {
		name string
		idle time.Duration
		// quiet is how long Stream must still be running (Idle off).
		quiet time.Duration
		want  record.End
	}{
		{name: "silent server ends idle", idle: idle, want: record.End{Class: record.Idle}},
		{name: "off waits for cancel", idle: 0, quiet: 3 * idle, want: record.End{Class: record.Canceled}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, silentAfter{n: 3})
			sink := newFakeSink()
			d := NewDriver(e.cc, driver.Params{ID: 1, Idle: tc.idle}, sink)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := time.Now()
			res := runStream(ctx, d, context.Background())
			if tc.quiet > 0 {
				select {
				case end := <-res:
					t.Fatalf("Stream ended %v after %v with the watchdog off", end.Key(), time.Since(start))
				case <-time.After(tc.quiet):
				}
				cancel()
				start = time.Now()
			}
			end := endOf(t, res)
			took := time.Since(start)
			if end != tc.want {
				t.Fatalf("ended %v (%v), want %v", end.Key(), sink.details, tc.want.Key())
			}
			if sink.got() != 3 {
				t.Fatalf("received %d updates, want 3", sink.got())
			}
			switch {
			case tc.idle > 0 && (took < tc.idle || took > tc.idle+time.Second):
				t.Fatalf("watchdog fired after %v, want about %v", took, tc.idle)
			case tc.idle == 0 && took > time.Second:
				t.Fatalf("Stream returned %v after cancel", took)
			}
			if tc.want.Class == record.Idle && !strings.Contains(sink.details[0], "no update for 150ms (after 3 updates)") {
				t.Fatalf("detail %q", sink.details[0])
			}
		})
	}
}

// The watchdog counts only time spent waiting for the server: a reader that
// stalls longer than Idle on purpose, or reads slowly, is not idle.
func TestDriverIdleIgnoresOwnPauses(t *testing.T) {
	srv := New(Config{Rate: 200, Payload: 64, Queue: 4096})
	defer srv.Close()
	srv.Start()
	e := newEnv(t, srv)
	for _, tc := range []struct {
		name string
		read driver.ReadMode
	}{
		{"stall", driver.ReadMode{StallAfter: 50 * time.Millisecond, StallFor: 500 * time.Millisecond}},
		{"delay", driver.ReadMode{Delay: 150 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := newFakeSink()
			d := NewDriver(e.cc, driver.Params{ID: 1, Idle: 100 * time.Millisecond, Read: tc.read}, sink)
			stop, closeStop := context.WithCancel(context.Background())
			defer closeStop()
			res := runStream(context.Background(), d, stop)
			time.Sleep(800 * time.Millisecond)
			closeStop()
			if end := endOf(t, res); end.Class != record.Complete {
				t.Fatalf("ended %v (%v), want complete", end.Key(), sink.details)
			}
			if len(sink.violations) != 0 {
				t.Fatalf("violations %v", sink.violations)
			}
		})
	}
}

// A delayed reader takes at least Delay per update.
func TestDriverReadDelay(t *testing.T) {
	const delay = 30 * time.Millisecond
	srv := New(Config{})
	defer srv.Close()
	e := newEnv(t, srv)
	sink := newFakeSink()
	d := NewDriver(e.cc, driver.Params{ID: 1, Read: driver.ReadMode{Delay: delay}}, sink)
	stop, closeStop := context.WithCancel(context.Background())
	defer closeStop()
	res := runStream(context.Background(), d, stop)
	eventually(t, "registered", func() bool { return srv.registered() == 1 })
	start := time.Now()
	for range 10 {
		srv.Publish()
	}
	eventually(t, "received", func() bool { return sink.got() == 10 })
	if took := time.Since(start); took < 9*delay {
		t.Fatalf("10 updates read in %v with a %v delay each", took, delay)
	}
	if lat := sink.maxLat(); lat < 8*delay {
		t.Fatalf("max latency %v: the delay does not show", lat)
	}
	closeStop()
	if end := endOf(t, res); end.Class != record.Complete {
		t.Fatalf("ended %v (%v)", end.Key(), sink.details)
	}
}

// A stall stops reading for StallFor, then the reader catches up: the stall
// shows as latency, nothing is lost.
func TestDriverReadStallResumes(t *testing.T) {
	const stall = 400 * time.Millisecond
	srv := New(Config{Rate: 200, Payload: 64, Queue: 4096})
	defer srv.Close()
	srv.Start()
	e := newEnv(t, srv)
	sink := newFakeSink()
	d := NewDriver(e.cc, driver.Params{ID: 1, Read: driver.ReadMode{StallAfter: 100 * time.Millisecond, StallFor: stall}}, sink)
	stop, closeStop := context.WithCancel(context.Background())
	defer closeStop()
	res := runStream(context.Background(), d, stop)
	time.Sleep(250 * time.Millisecond) // in the stall
	during := sink.got()
	time.Sleep(100 * time.Millisecond)
	if got := sink.got(); got != during {
		t.Fatalf("received %d updates during the stall", got-during)
	}
	eventually(t, "resumed", func() bool { return sink.got() > during+50 })
	closeStop()
	if end := endOf(t, res); end.Class != record.Complete {
		t.Fatalf("ended %v (%v)", end.Key(), sink.details)
	}
	if lat := sink.maxLat(); lat < stall/2 {
		t.Fatalf("max latency %v after a %v stall", lat, stall)
	}
	if len(sink.violations) != 0 {
		t.Fatalf("violations %v", sink.violations)
	}
}

// A stalled reader still ends promptly: stop unsubscribes and drains what
// flow control holds (Complete), a cancelled ctx ends it at once (Canceled).
func TestDriverStalledReaderEndsPromptly(t *testing.T) {
	srv := New(Config{Rate: 200, Payload: 1024, Queue: 4096})
	defer srv.Close()
	srv.Start()
	e := newEnv(t, srv, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	for _, tc := range []struct {
		name   string
		read   driver.ReadMode
		cancel bool // cancel ctx instead of closing stop
		want   record.Class
		within time.Duration
	}{
		{"never reads, stopped", driver.ReadMode{Stop: true}, false, record.Complete, time.Second},
		{"stops reading, stopped", driver.ReadMode{StallAfter: 50 * time.Millisecond, Stop: true}, false, record.Complete, time.Second},
		{"long stall, stopped", driver.ReadMode{StallFor: time.Hour}, false, record.Complete, time.Second},
		{"long delay, stopped", driver.ReadMode{Delay: time.Hour}, false, record.Complete, time.Second},
		{"never reads, cancelled", driver.ReadMode{Stop: true}, true, record.Canceled, 200 * time.Millisecond},
		{"long delay, cancelled", driver.ReadMode{Delay: time.Hour}, true, record.Canceled, 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := newFakeSink()
			d := NewDriver(e.cc, driver.Params{ID: 1, Read: tc.read}, sink)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop, closeStop := context.WithCancel(context.Background())
			defer closeStop()
			res := runStream(ctx, d, stop)
			// Flow control fills (~130 updates of 1 KiB) and the handler's
			// Send blocks: the server sees the stall while it lasts.
			eventually(t, "Send blocked", func() bool { return srv.Stats(200*time.Millisecond).BlockedNow == 1 })
			start := time.Now()
			if tc.cancel {
				cancel()
			} else {
				closeStop()
			}
			end := endOf(t, res)
			if took := time.Since(start); took > tc.within {
				t.Errorf("Stream returned %v after the end was asked, want within %v", took, tc.within)
			}
			if end.Class != tc.want {
				t.Fatalf("ended %v (%v), want %v", end.Key(), sink.details, tc.want)
			}
			eventually(t, "handler gone", func() bool { return srv.Subscribers() == 0 })
		})
	}
}

// A server that accepts connections and never answers (a blackhole from
// the first byte): the stream never opens, and the watchdog still ends it.
func TestDriverIdleWhileConnecting(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	conns := make(chan net.Conn, 16)
	held.Add(1)
	go func() {
		defer held.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			conns <- c // held open, never read or written
		}
	}()
	defer func() {
		lis.Close()
		held.Wait()
		close(conns)
		for c := range conns {
			c.Close()
		}
	}()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sink := newFakeSink()
	const idle = 200 * time.Millisecond
	d := NewDriver(cc, driver.Params{ID: 1, Idle: idle}, sink)
	start := time.Now()
	end := endOf(t, runStream(context.Background(), d, context.Background()))
	if took := time.Since(start); end.Class != record.Idle || took < idle || took > idle+time.Second {
		t.Fatalf("ended %v after %v (%v), want idle_timeout after about %v", end.Key(), took, sink.details, idle)
	}
}
