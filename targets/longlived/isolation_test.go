package longlived_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/targets/faulty"
	"github.com/streambench/streambench/targets/longlived"
	pb "github.com/streambench/streambench/targets/proto"
)

// Isolation scenario: a 200/s feed of 1 KiB updates, fast subscribers on
// one connection, slow ones (20 ms per update, i.e. at most 50/s) on another
// with static 64 KiB windows, so their Sends block after ~60 updates.
const (
	feedRate = 200
	nFast    = 4
	nSlow    = 2
	queue    = 256
	delay    = 20 * time.Millisecond

	phase1  = 1500 * time.Millisecond // fast only
	settle  = 1500 * time.Millisecond // slow readers fill their windows
	measure = 2500 * time.Millisecond // judged window with slow readers present

	// The isolation criterion: fast p99 within p99Factor of the fast-only
	// phase, or below p99Bound; delivered rate at least minRate of the feed.
	p99Factor = 5
	p99Bound  = 250 * time.Millisecond // generous: the machine is shared, -race
	minRate   = 0.9
)

// phase is what the fast group got during one phase.
type phase struct {
	rate float64 // updates per second per fast subscriber
	p99  time.Duration
	max  time.Duration
}

func (p phase) isolated(base phase) bool {
	return p.rate >= minRate*feedRate && (p.p99 <= p99Factor*base.p99 || p.p99 <= p99Bound)
}

// measureFast returns the fast group's phase from its recorder's window
// (reset when the phase started) and its received counter at both ends.
func measureFast(w record.Window, received0 uint64, d time.Duration) phase {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return phase{
		rate: float64(w.Received-received0) / d.Seconds() / nFast,
		p99:  us(w.Latency.ValueAtQuantile(99)),
		max:  us(w.Latency.Max()),
	}
}

type target struct {
	srv   pb.LonglivedServer
	stats func() longlived.Stats // nil for the planted bug
}

// TestSlowReadersIsolated runs the isolation scenario against the correct
// server, where slow readers are cut off and fast ones keep the feed rate,
// and against subscribe_single_loop_fanout, where the same signals (the
// fast group's delivered rate against the feed rate) collapse.
func TestSlowReadersIsolated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for ~15 s")
	}
	cfg := longlived.Config{Rate: feedRate, Payload: 1024, Queue: queue, Ring: 4096}
	for _, tc := range []struct {
		name     string
		target   func(t *testing.T) target
		isolated bool
	}{
		{
			name: "correct",
			target: func(t *testing.T) target {
				srv := longlived.New(cfg)
				t.Cleanup(srv.Close)
				srv.Start()
				return target{srv: srv, stats: func() longlived.Stats { return srv.Stats(100 * time.Millisecond) }}
			},
			isolated: true,
		},
		{
			name: faulty.SubscribeSingleLoopFanout,
			target: func(t *testing.T) target {
				bug, ok := faulty.Lookup(faulty.SubscribeSingleLoopFanout)
				if !ok {
					t.Fatal("bug not found")
				}
				srv := bug.WrapLonglived(longlived.New(cfg))
				t.Cleanup(func() { _ = srv.(io.Closer).Close() })
				return target{srv: srv}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The two cases go side by side (each has its own server and
			// mostly waits on the feed's pace), not beside other tests.
			t.Parallel()
			tg := tc.target(t)
			lis := bufconn.Listen(1 << 20)
			gs := grpc.NewServer()
			pb.RegisterLonglivedServer(gs, tg.srv)
			served := make(chan struct{})
			go func() { defer close(served); _ = gs.Serve(lis) }()
			t.Cleanup(func() { gs.Stop(); <-served })
			fastCC := dial(t, lis)
			slowCC := dial(t, lis, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))

			fastRec, slowRec := record.New(nFast, nil), record.New(nSlow, nil)
			fast := startGroup(fastCC, fastRec, 1, nFast, driver.ReadMode{})
			defer fast.abort()

			// Phase 1: fast subscribers alone.
			waitFor(t, 5*time.Second, "fast subscribers receiving", func() bool {
				return fastRec.Counters().Received >= 2*nFast
			})
			fastRec.Window() // reset: the phase starts now
			c0 := fastRec.Counters().Received
			time.Sleep(phase1)
			base := measureFast(fastRec.Window(), c0, phase1)

			// Phase 2: slow readers join.
			slowStart := time.Now()
			slow := startGroup(slowCC, slowRec, 100, nSlow, driver.ReadMode{Delay: delay})
			defer slow.abort()
			var cutOffAt time.Duration
			var maxBlockedNow int
			poll := func(until time.Duration) {
				for time.Since(slowStart) < until {
					if tg.stats != nil {
						st := tg.stats()
						maxBlockedNow = max(maxBlockedNow, st.BlockedNow)
						if cutOffAt == 0 && st.CutOff == nSlow {
							cutOffAt = time.Since(slowStart)
						}
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			poll(settle)
			fastRec.Window()
			c1 := fastRec.Counters().Received
			poll(settle + measure)
			withSlow := measureFast(fastRec.Window(), c1, measure)
			t.Logf("fast alone: %.1f/s per subscriber, p99 %v, max %v", base.rate, base.p99, base.max)
			t.Logf("with slow readers: %.1f/s per subscriber, p99 %v, max %v (feed %d/s)",
				withSlow.rate, withSlow.p99, withSlow.max, feedRate)

			if got := withSlow.isolated(base); got != tc.isolated {
				t.Errorf("isolated = %v, want %v (rate %.1f/s >= %.0f/s; p99 %v <= %d×%v or <= %v)",
					got, tc.isolated, withSlow.rate, minRate*feedRate, withSlow.p99, p99Factor, base.p99, p99Bound)
			}
			if !tc.isolated && withSlow.rate > feedRate/2 {
				t.Errorf("single loop delivered %.1f/s: the slow readers did not hold it back", withSlow.rate)
			}

			if tc.isolated {
				// Slow readers are cut off; each sees ResourceExhausted once
				// it has drained what flow control held.
				waitFor(t, 10*time.Second, "slow readers cut off", func() bool {
					if cutOffAt == 0 && tg.stats().CutOff == nSlow {
						cutOffAt = time.Since(slowStart)
					}
					return cutOffAt != 0
				})
				ends := slow.wait(t, 10*time.Second)
				seen := time.Since(slowStart)
				for i, e := range ends {
					if e != (record.End{Class: record.Status, Code: codes.ResourceExhausted}) {
						t.Errorf("slow reader %d ended %v, want status:ResourceExhausted", i, e.Key())
					}
				}
				st := tg.stats()
				blockedMax := time.Duration(st.SendBlocked.Max()) * time.Microsecond
				t.Logf("slow readers: cut off %v after joining, saw ResourceExhausted after %v; "+
					"server: cut off %d, max queue %d, longest Send %v, Send time %v, blocked>100ms at once %d",
					cutOffAt, seen, st.CutOff, st.MaxQueue, blockedMax, st.SendTime, maxBlockedNow)
				if st.CutOff != nSlow || st.MaxQueue != queue || blockedMax < 100*time.Millisecond || maxBlockedNow < 1 {
					t.Errorf("server stats: cut off %d (want %d), max queue %d (want %d), longest Send %v, blocked now %d",
						st.CutOff, nSlow, st.MaxQueue, queue, blockedMax, maxBlockedNow)
				}
				slowLag := time.Duration(slowRec.Snapshot().Latency.Max()) * time.Microsecond
				t.Logf("slow readers fell %v behind (≈ %.0f updates at %d/s)", slowLag, slowLag.Seconds()*feedRate, feedRate)
			} else {
				slow.stopAndWait(t, 5*time.Second)
			}

			ends := fast.stopAndWait(t, 5*time.Second)
			for i, e := range ends {
				if e.Class != record.Complete {
					t.Errorf("fast subscriber %d ended %v, want complete", i, e.Key())
				}
			}
			if v := fastRec.Snapshot().Violations; len(v) != 0 {
				t.Errorf("fast subscribers saw violations %v", v)
			}
		})
	}
}

func dial(t *testing.T, lis *bufconn.Listener, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)
	cc, err := grpc.NewClient("passthrough:///bufnet", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// group is n Subscribe drivers running one stream each.
type group struct {
	ends              []chan record.End
	cancel, closeStop context.CancelFunc
	running           sync.WaitGroup
}

func startGroup(cc grpc.ClientConnInterface, rec *record.Recorder, firstID, n int, read driver.ReadMode) *group {
	ctx, cancel := context.WithCancel(context.Background())
	stop, closeStop := context.WithCancel(context.Background())
	g := &group{cancel: cancel, closeStop: closeStop}
	for i := range n {
		id := firstID + i
		d := longlived.NewDriver(cc, driver.Params{ID: int32(id), Read: read}, rec.Client(id))
		ch := make(chan record.End, 1)
		g.ends = append(g.ends, ch)
		g.running.Add(1)
		go func() {
			defer g.running.Done()
			ch <- d.Stream(ctx, stop)
		}()
	}
	return g
}

// wait collects every driver's end, failing the test after limit.
func (g *group) wait(t *testing.T, limit time.Duration) []record.End {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var out []record.End
	for _, ch := range g.ends {
		select {
		case e := <-ch:
			out = append(out, e)
		case <-timer.C:
			t.Fatalf("streams still running after %v", limit)
		}
	}
	return out
}

func (g *group) stopAndWait(t *testing.T, limit time.Duration) []record.End {
	g.closeStop()
	return g.wait(t, limit)
}

// abort cancels whatever is still running and waits for it (bounded by the
// drivers' prompt return on cancel).
func (g *group) abort() {
	g.closeStop()
	g.cancel()
	done := make(chan struct{})
	go func() { g.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
