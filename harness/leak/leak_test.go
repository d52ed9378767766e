package leak_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	channelzpb "google.golang.org/grpc/channelz/grpc_channelz_v1"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/builtin"
	"github.com/streambench/streambench/targets/faulty"
	"github.com/streambench/streambench/targets/longlived"
	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait in these tests.
const wait = 10 * time.Second

// target is a builtin target on a link, with what a client needs to dial.
type target struct {
	*builtin.Target
	addr  string // host:port for tcp, "bufnet" for bufconn
	dial  string
	dopts []grpc.DialOption
}

func (tg *target) client(t *testing.T) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(tg.dial, tg.dopts...)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// probe is a channelz probe reaching tg.
func (tg *target) probe() leak.ChannelzProbe {
	return leak.ChannelzProbe{Target: tg.dial, DialOptions: tg.dopts}
}

// start serves a builtin target (Introspection on: channelz) over kind
// ("bufconn" or "tcp"). The caller stops it.
func start(t *testing.T, kind string, bug *faulty.Bug) *target {
	t.Helper()
	tg := &target{Target: builtin.New(builtin.Config{
		Feed:          longlived.Config{Rate: 200, Payload: 64},
		Introspection: true,
		WrapLonglived: wrapLL(bug),
		WrapMath:      wrapMath(bug),
	})}
	var lis net.Listener
	switch kind {
	case "bufconn":
		bl := bufconn.Listen(1 << 20)
		lis, tg.addr, tg.dial = bl, "bufnet", "passthrough:///bufnet"
		tg.dopts = []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return bl.DialContext(ctx) }),
		}
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis, tg.addr, tg.dial = l, l.Addr().String(), "passthrough:///"+l.Addr().String()
		tg.dopts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	default:
		t.Fatalf("link %q", kind)
	}
	if err := tg.Serve(lis); err != nil {
		t.Fatal(err)
	}
	return tg
}

// describe is the evidence for a failure message.
func describe(l *reports.Leaks) string { return leak.Describe(l) }

// groupOf returns the leaked group whose function ends with suffix.
func groupOf(l *reports.Leaks, suffix string) (reports.LeakedFunction, bool) {
	for _, g := range l.Goroutines.Leaked {
		if strings.HasSuffix(g.Function, suffix) {
			return g, true
		}
	}
	return reports.LeakedFunction{}, false
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// subscribe opens a Subscribe stream and reads its first update.
func subscribe(t *testing.T, ctx context.Context, cc *grpc.ClientConn, id int32) grpc.ServerStreamingClient[pb.Update] {
	t.Helper()
	st, err := pb.NewLonglivedClient(cc).Subscribe(ctx, &pb.SubscribeRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatalf("subscribe %d: first update: %v", id, err)
	}
	return st
}

// drain reads st to its end and returns the final error.
func drain(st interface{ RecvMsg(any) error }) error {
	for {
		if err := st.RecvMsg(new(pb.Update)); err != nil {
			return err
		}
	}
}

// sqrt runs one complete Sqrt stream of n requests.
func sqrt(t *testing.T, cc *grpc.ClientConn, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	st, err := pb.NewMathClient(cc).Sqrt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if err := st.Send(&pb.SqrtRequest{Value: float64(i * i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("sqrt end: %v, want EOF", err)
	}
}

// workload runs a little of everything and leaves properly: Subscribe
// streams ended by Unsubscribe and by cancel, Sqrt and Pow streams.
func workload(t *testing.T, cc *grpc.ClientConn, subscribers int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ll := pb.NewLonglivedClient(cc)
	var wg sync.WaitGroup
	for id := int32(1); id <= int32(subscribers); id++ {
		st := subscribe(t, ctx, cc, id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := drain(st); err != io.EOF {
				t.Errorf("subscriber %d ended with %v, want EOF after Unsubscribe", id, err)
			}
		}()
	}
	for id := int32(1); id <= int32(subscribers); id++ {
		if _, err := ll.Unsubscribe(ctx, &pb.UnsubscribeRequest{Id: id}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	cctx, ccancel := context.WithCancel(ctx)
	subscribe(t, cctx, cc, 1000)
	ccancel()
	sqrt(t, cc, 5)
	pow, err := pb.NewMathClient(cc).Pow(ctx, &pb.PowRequest{Base: 2, Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := drain(pow); err != io.EOF {
		t.Fatalf("pow: %v", err)
	}
}

// A correct target and clients torn down in order leave nothing behind.
func TestCleanAfterTeardown(t *testing.T) {
	for _, kind := range []string{"bufconn", "tcp"} {
		t.Run(kind, func(t *testing.T) {
			base := leak.TakeBaseline()
			tg := start(t, kind, nil)
			cc := tg.client(t)
			workload(t, cc, 20)
			_ = cc.Close()
			tg.Close(time.Second)
			l := leak.Check(context.Background(), base, leak.Options{}, leak.RegistryProbe(tg.Feed.Subscribers))
			if !l.Clean {
				t.Fatalf("leaks after a clean teardown: %s", describe(l))
			}
			if l.Server == nil || l.Server.Source != "registry" || l.Server.Subscribers != 0 {
				t.Errorf("server evidence %+v", l.Server)
			}
			if l.Goroutines.Baseline != base.Goroutines() || l.Goroutines.After == 0 {
				t.Errorf("goroutine figures %+v", l.Goroutines)
			}
			// Fewer descriptors than at the baseline is not a leak: one the
			// process held before (a previous test's closing socket) may
			// have gone meanwhile. More would be.
			if runtime.GOOS == "linux" && (l.FDs.Baseline <= 0 || l.FDs.After > l.FDs.Baseline || len(l.FDs.Leaked) != 0) {
				t.Errorf("fd figures %+v", l.FDs)
			}
			if l.Heap.BaselineBytes == 0 || l.Heap.AfterBytes == 0 || l.Heap.BoundBytes != leak.DefaultHeapSlack+l.Heap.BaselineBytes/10 {
				t.Errorf("heap figures %+v", l.Heap)
			}
			t.Logf("settled in %.3fs", l.SettleSeconds)
		})
	}
}

// TestCleanManyStreams measures the settle time of 1000 Subscribe streams
// over 10 connections whose clients all cancel at once.
func TestCleanManyStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const streams, conns = 1000, 10
	base := leak.TakeBaseline()
	tg := start(t, "tcp", nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	var ccs []*grpc.ClientConn
	for range conns {
		ccs = append(ccs, tg.client(t))
	}
	var wg sync.WaitGroup
	for i := range streams {
		st, err := pb.NewLonglivedClient(ccs[i%conns]).Subscribe(ctx, &pb.SubscribeRequest{Id: int32(i)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = drain(st) }()
	}
	eventually(t, "all subscribed", func() bool { return tg.Feed.Subscribers() == streams })
	cancel()
	wg.Wait()
	stop := time.Now()
	for _, cc := range ccs {
		_ = cc.Close()
	}
	tg.Close(time.Second)
	teardown := time.Since(stop)
	l := leak.Check(context.Background(), base, leak.Options{}, leak.RegistryProbe(tg.Feed.Subscribers))
	if !l.Clean {
		t.Fatalf("leaks: %s", describe(l))
	}
	t.Logf("%d streams: teardown %v, then settled in %.3fs; heap %d -> %d bytes", streams, teardown, l.SettleSeconds, l.Heap.BaselineBytes, l.Heap.AfterBytes)
}

// captured keeps the servers a planted bug's wrappers returned.
type captured struct {
	mu   sync.Mutex
	ll   pb.LonglivedServer
	math pb.MathServer
}

func capture(b faulty.Bug, c *captured) *faulty.Bug {
	if f := b.Longlived; f != nil {
		b.Longlived = func(s pb.LonglivedServer) pb.LonglivedServer {
			w := f(s)
			c.mu.Lock()
			c.ll = w
			c.mu.Unlock()
			return w
		}
	}
	if f := b.Math; f != nil {
		b.Math = func(s pb.MathServer) pb.MathServer {
			w := f(s)
			c.mu.Lock()
			c.math = w
			c.mu.Unlock()
			return w
		}
	}
	return &b
}

func (c *captured) leak() faulty.Leak {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.ll.(faulty.Leak); ok {
		return l
	}
	return c.math.(faulty.Leak)
}

// subscribers is the registry probe's source: the Subscribers method of
// the Longlived server actually registered (the wrapper when it has one).
func (c *captured) subscribers(feed *longlived.Server) func() int {
	return func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		if s, ok := c.ll.(interface{ Subscribers() int }); ok {
			return s.Subscribers()
		}
		return feed.Subscribers()
	}
}

// Each planted leak is caught with its evidence: goroutines grouped by the
// leaking function, live subscribers in the registry and calls in flight in
// channelz for the Subscribe ones; after Release everything ends.
func TestPlantedLeaksCaught(t *testing.T) {
	tests := []struct {
		bug      string
		function string // suffix of the identifying function
		stranded int
		inFlight int64 // channelz, while the server serves
		subs     int   // registry, after the server stopped
		trigger  func(t *testing.T, cc *grpc.ClientConn)
	}{
		{
			bug: faulty.SubscribeIgnoresCancel, function: "faulty.(*ignoresCancel).Subscribe",
			stranded: 2, inFlight: 2, subs: 2,
			trigger: func(t *testing.T, cc *grpc.ClientConn) {
				ctx, cancel := context.WithCancel(context.Background())
				subscribe(t, ctx, cc, 1)
				subscribe(t, ctx, cc, 2)
				cancel() // the clients leave without Unsubscribe
			},
		},
		{
			bug: faulty.SubscribeStrandsOnResubscribe, function: "faulty.(*strandsOnResubscribe).Subscribe",
			stranded: 1, inFlight: 1, subs: 1,
			trigger: func(t *testing.T, cc *grpc.ClientConn) {
				ctx1, cancel1 := context.WithCancel(context.Background())
				defer cancel1()
				subscribe(t, ctx1, cc, 7)
				ctx2, cancel2 := context.WithCancel(context.Background())
				newer := subscribe(t, ctx2, cc, 7) // replaces the first
				if _, err := pb.NewLonglivedClient(cc).Unsubscribe(ctx2, &pb.UnsubscribeRequest{Id: 7}); err != nil {
					t.Fatal(err)
				}
				if err := drain(newer); err != io.EOF {
					t.Errorf("newer stream: %v", err)
				}
				cancel2()
			},
		},
		{
			bug: faulty.SqrtLeaksGoroutine, function: "faulty.(*sqrtLeak).heartbeat",
			stranded: 3, inFlight: 0, subs: 0,
			trigger: func(t *testing.T, cc *grpc.ClientConn) {
				for range 3 {
					sqrt(t, cc, 4) // each stream completes correctly
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.bug, func(t *testing.T) {
			bug, ok := faulty.Lookup(tt.bug)
			if !ok {
				t.Fatalf("no bug %q", tt.bug)
			}
			c := &captured{}
			base := leak.TakeBaseline()
			tg := start(t, "tcp", capture(bug, c))
			registry := leak.RegistryProbe(c.subscribers(tg.Feed))
			released := false
			defer func() {
				if !released {
					c.leak().Release()
					tg.Close(0)
				}
			}()

			cc := tg.client(t)
			tt.trigger(t, cc)
			eventually(t, "stranded goroutines", func() bool { return c.leak().Stranded() == tt.stranded })
			_ = cc.Close()

			// While the target serves: channelz sees the stranded handlers.
			cz := leak.Check(context.Background(), base, leak.Options{Settle: time.Second}, tg.probe())
			if cz.Clean || cz.Server == nil || cz.Server.Source != "channelz" ||
				cz.Server.InFlightCalls != tt.inFlight || cz.Server.Sockets != 0 {
				t.Errorf("channelz evidence: %s", describe(cz))
			}

			// After the target stopped (a hard Stop: GracefulStop would
			// wait for the stranded handlers): goroutines and registry.
			tg.Close(0)
			l := leak.Check(context.Background(), base, leak.Options{Settle: time.Second}, registry)
			if l.Clean {
				t.Fatalf("%s not caught: %s", tt.bug, describe(l))
			}
			g, ok := groupOf(l, tt.function)
			if !ok || g.Count != tt.stranded || !strings.Contains(g.Stack, tt.function) {
				t.Errorf("no group %s x %d: %s", tt.function, tt.stranded, describe(l))
			}
			if len(l.Goroutines.Leaked) != 1 {
				t.Errorf("evidence names more than the bug: %s", describe(l))
			}
			if l.Server == nil || l.Server.Subscribers != tt.subs {
				t.Errorf("registry evidence %+v, want %d subscribers", l.Server, tt.subs)
			}
			if len(l.FDs.Leaked) != 0 || l.Heap.Exceeded {
				t.Errorf("unexpected fd or heap evidence: %s", describe(l))
			}
			t.Logf("evidence: %s", strings.SplitN(describe(l), "\n\n", 2)[0])

			// Release: everything ends.
			c.leak().Release()
			released = true
			if err := leak.Wait(context.Background(), base, leak.Options{}, registry); err != nil {
				t.Fatalf("after Release: %v", err)
			}
		})
	}
}

// A ClientConn nobody closes is caught: its goroutines (and, over TCP, its
// socket and the server's view of it). The target here started before the
// baseline, like an external one.
func TestClientConnLeftOpen(t *testing.T) {
	for _, kind := range []string{"bufconn", "tcp"} {
		t.Run(kind, func(t *testing.T) {
			tg := start(t, kind, nil)
			defer tg.Close(0)
			base := leak.TakeBaseline()
			cc := tg.client(t)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if _, err := pb.NewLonglivedClient(cc).Unsubscribe(ctx, &pb.UnsubscribeRequest{Id: 1}); err != nil {
				t.Fatal(err)
			}
			l := leak.Check(ctx, base, leak.Options{Settle: time.Second}, tg.probe())
			if l.Clean {
				t.Fatalf("open ClientConn not caught: %s", describe(l))
			}
			for _, fn := range []string{
				"grpcsync.(*CallbackSerializer).run",
				"transport.(*http2Client).reader",
				"transport.(*loopyWriter).run",
				"transport.(*http2Server).HandleStreams", // the server's side of the connection
			} {
				if _, ok := groupOf(l, fn); !ok {
					t.Errorf("no %s in the evidence: %s", fn, describe(l))
				}
			}
			if g, _ := groupOf(l, "grpcsync.(*CallbackSerializer).run"); g.Count < 2 {
				t.Errorf("CallbackSerializer.run x %d", g.Count)
			}
			if l.Server == nil || l.Server.Sockets != 1 || l.Server.InFlightCalls != 0 {
				t.Errorf("channelz evidence %+v, want 1 socket, 0 calls", l.Server)
			}
			sockets := 0
			for _, fd := range l.FDs.Leaked {
				if strings.Contains(fd, "socket:[") {
					sockets++
				}
			}
			wantFDs := 0
			if kind == "tcp" && runtime.GOOS == "linux" {
				wantFDs = 2 // the client's end and the server's end
			}
			if sockets != wantFDs || len(l.FDs.Leaked) != wantFDs {
				t.Errorf("fd evidence %v, want %d sockets", l.FDs.Leaked, wantFDs)
			}
			t.Logf("evidence: %s", strings.SplitN(describe(l), "\n\n", 2)[0])

			_ = cc.Close()
			if err := leak.Wait(ctx, base, leak.Options{}, tg.probe()); err != nil {
				t.Fatalf("after Close: %v", err)
			}
		})
	}
}

// rawChannelz returns the server-level calls in flight and the sockets as
// channelz reports them, the inspecting call and connection included.
func rawChannelz(t *testing.T, tg *target) (int64, int) {
	t.Helper()
	cc := tg.client(t)
	defer cc.Close()
	cz := channelzpb.NewChannelzClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := cz.GetServers(ctx, &channelzpb.GetServersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetServer()) != 1 {
		t.Fatalf("%d servers in channelz, want 1", len(resp.GetServer()))
	}
	s := resp.GetServer()[0]
	d := s.GetData()
	socks, err := cz.GetServerSockets(ctx, &channelzpb.GetServerSocketsRequest{ServerId: s.GetRef().GetServerId()})
	if err != nil {
		t.Fatal(err)
	}
	return d.GetCallsStarted() - d.GetCallsSucceeded() - d.GetCallsFailed(), len(socks.GetSocketRef())
}

// The channelz arithmetic against a real server: the inspecting call and
// the probe's connection are subtracted, a stream in flight is counted, and
// the figures return to zero when the clients leave.
func TestChannelzProbe(t *testing.T) {
	tg := start(t, "tcp", nil)
	defer tg.Close(0)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	probe := tg.probe()
	read := func() reports.ServerLeaks {
		t.Helper()
		s, err := probe.Probe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	if calls, socks := rawChannelz(t, tg); calls != 1 || socks != 1 {
		t.Errorf("raw channelz of an idle server: %d calls, %d sockets; want 1, 1 (the inspector's own)", calls, socks)
	}
	eventually(t, "idle", func() bool { s := read(); return s.InFlightCalls == 0 && s.Sockets == 0 })

	cc := tg.client(t)
	sctx, scancel := context.WithCancel(ctx)
	subscribe(t, sctx, cc, 1)
	// The raw inspector's connection above may not have closed on the
	// server's side yet (a fresh-clone CI saw 2 sockets): eventually.
	eventually(t, "one stream open: 1 call, 1 socket", func() bool {
		s := read()
		return s.InFlightCalls == 1 && s.Sockets == 1 && s.Source == "channelz"
	})
	if calls, socks := rawChannelz(t, tg); calls != 2 || socks < 2 {
		t.Errorf("raw channelz with one stream: %d calls, %d sockets; want 2, 2", calls, socks)
	}
	subscribe(t, sctx, cc, 2)
	eventually(t, "two streams, one connection", func() bool { s := read(); return s.InFlightCalls == 2 && s.Sockets == 1 })

	base := leak.TakeBaseline() // the client's goroutines are part of it
	scancel()
	_ = cc.Close()
	l := leak.Check(ctx, base, leak.Options{Settle: 2 * time.Second}, probe)
	if !l.Clean || l.Server == nil || l.Server.InFlightCalls != 0 || l.Server.Sockets != 0 {
		t.Fatalf("after the clients left: %s", describe(l))
	}

	// The probe leaves nothing behind.
	base = leak.TakeBaseline()
	for range 5 {
		read()
	}
	if err := leak.Wait(ctx, base, leak.Options{}); err != nil {
		t.Fatalf("probe leaked: %v", err)
	}
}

// A target without channelz makes the probe unsupported (left out, the
// check can be clean); an unreachable one makes the check unclean.
func TestChannelzProbeErrors(t *testing.T) {
	srv := builtin.New(builtin.Config{}) // no Introspection: no channelz
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(lis); err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	base := leak.TakeBaseline()
	l, err := leak.Inspect(context.Background(), base, leak.Options{Settle: time.Second}, leak.ChannelzProbe{Target: addr})
	if !errors.Is(err, leak.ErrUnsupported) || !strings.Contains(err.Error(), "Unimplemented") {
		t.Errorf("error %v, want ErrUnsupported (Unimplemented)", err)
	}
	if !l.Clean || l.Server != nil {
		t.Errorf("unsupported probe: %s (server %+v)", describe(l), l.Server)
	}
	srv.Close(0)

	base = leak.TakeBaseline()
	start := time.Now()
	l, err = leak.Inspect(context.Background(), base, leak.Options{Settle: 300 * time.Millisecond}, leak.ChannelzProbe{Target: addr})
	if err == nil || errors.Is(err, leak.ErrUnsupported) || l.Clean {
		t.Errorf("unreachable target: clean %v, error %v", l.Clean, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("unreachable target: check took %v", d)
	}
}

// Memory kept between baseline and check exceeds the bound; released, it
// does not.
func TestHeapBound(t *testing.T) {
	const bound = 16 << 20
	base := leak.TakeBaseline()
	keep := make([]byte, 48<<20)
	for i := 0; i < len(keep); i += 4096 {
		keep[i] = 1
	}
	l := leak.Check(context.Background(), base, leak.Options{Settle: 100 * time.Millisecond, HeapBound: bound})
	runtime.KeepAlive(keep)
	if !l.Heap.Exceeded || l.Clean || l.Heap.BoundBytes != bound || l.Heap.AfterBytes+1<<20 < l.Heap.BaselineBytes+48<<20 { // 1 MiB of the baseline may be freed since
		t.Errorf("48 MiB kept, bound 16 MiB: %+v clean %v", l.Heap, l.Clean)
	}
	keep = nil
	l = leak.Check(context.Background(), base, leak.Options{Settle: 100 * time.Millisecond, HeapBound: bound})
	if l.Heap.Exceeded || !l.Clean {
		t.Errorf("nothing kept: %+v clean %v", l.Heap, l.Clean)
	}
	l = leak.Check(context.Background(), base, leak.Options{Settle: 100 * time.Millisecond})
	if l.Heap.BoundBytes != leak.DefaultHeapSlack+base.HeapBytes()/10 {
		t.Errorf("default bound %d for baseline %d", l.Heap.BoundBytes, base.HeapBytes())
	}
}

// A file left open is named; closed, it is not.
func TestFDLeak(t *testing.T) {
	base := leak.TakeBaseline()
	if base.FDs() < 0 {
		t.Skip("no /proc/self/fd here")
	}
	f, err := os.CreateTemp(t.TempDir(), "leak")
	if err != nil {
		t.Fatal(err)
	}
	l := leak.Check(context.Background(), base, leak.Options{Settle: 100 * time.Millisecond})
	if l.Clean || len(l.FDs.Leaked) != 1 || !strings.HasSuffix(l.FDs.Leaked[0], f.Name()) || l.FDs.After != l.FDs.Baseline+1 {
		t.Errorf("open file: %+v", l.FDs)
	}
	f.Close()
	if err := leak.Wait(context.Background(), base, leak.Options{}); err != nil {
		t.Fatal(err)
	}
}

// Wait's error carries the evidence; Ignore leaves a goroutine out.
func TestWaitAndIgnore(t *testing.T) {
	base := leak.TakeBaseline()
	block := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); parked(block) }()
	defer func() { close(block); <-done }()

	err := leak.Wait(context.Background(), base, leak.Options{Settle: 200 * time.Millisecond})
	var le *leak.Error
	if !errors.As(err, &le) || le.Leaks.Clean {
		t.Fatalf("Wait = %v, want a *leak.Error", err)
	}
	g, ok := groupOf(le.Leaks, "leak_test.parked")
	if !ok || g.Count != 1 || !strings.Contains(err.Error(), "1 x github.com/streambench/streambench/harness/leak_test.parked") {
		t.Errorf("evidence: %v", err)
	}
	if err := leak.Wait(context.Background(), base, leak.Options{Settle: 200 * time.Millisecond,
		Ignore: []string{"github.com/streambench/streambench/harness/leak_test.parked"}}); err != nil {
		t.Errorf("ignored goroutine reported: %v", err)
	}
}

//go:noinline
func parked(c chan struct{}) { <-c }

func wrapLL(b *faulty.Bug) func(pb.LonglivedServer) pb.LonglivedServer {
	if b == nil {
		return nil
	}
	return b.WrapLonglived
}

func wrapMath(b *faulty.Bug) func(pb.MathServer) pb.MathServer {
	if b == nil {
		return nil
	}
	return b.WrapMath
}
