package link

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials/insecure"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/testenv"
	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

// TestMain checks for leaks, leaving out only the goroutines toxiproxy
// v2.12.0 itself strands when a connection's upstream dies while its client
// sends (Stranded; an upstream bug): the severing and restart tests here
// make that happen now and then (a full -race run saw one NoopToxic.Pipe in a
// channel send), and no code of ours can drain them.
func TestMain(m *testing.M) {
	var opts []goleak.Option
	for _, f := range Stranded {
		opts = append(opts, goleak.IgnoreTopFunction(f))
	}
	// The tests mostly wait on the links' timing (latency, bandwidth,
	// slices): eight at once.
	testenv.Parallel(8)
	goleak.VerifyTestMain(m, opts...)
}

// env is one link with a Math server behind it.
type env struct {
	t    *testing.T
	link Link
	srv  *grpc.Server
	ccs  []*grpc.ClientConn
}

type linkMaker struct {
	name string
	make func(t *testing.T) Link
}

var makers = []linkMaker{
	{KindBufconn, func(t *testing.T) Link { return NewBufconn() }},
	{KindTCP, func(t *testing.T) Link { return NewTCP() }},
	{KindToxiproxy, func(t *testing.T) Link {
		l, err := NewToxiproxy("")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}},
}

// newEnv starts a Math server behind l. Cleanup follows the teardown order
// the package doc gives: quiesce, close clients, stop server, close link.
func newEnv(t *testing.T, l Link, opts ...grpc.ServerOption) *env {
	t.Helper()
	e := &env{t: t, link: l, srv: grpc.NewServer(opts...)}
	pb.RegisterMathServer(e.srv, mathsrv.New())
	lis, err := l.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = e.srv.Serve(lis) }()
	t.Cleanup(func() {
		if err := l.Quiesce(); err != nil {
			t.Errorf("quiesce: %v", err)
		}
		for _, cc := range e.ccs {
			within(t, 5*time.Second, "cc.Close", func() { cc.Close() })
		}
		within(t, 5*time.Second, "server.Stop", e.srv.Stop)
		<-served
		within(t, 5*time.Second, "link.Close", func() {
			if err := l.Close(); err != nil {
				t.Errorf("link close: %v", err)
			}
		})
	})
	return e
}

func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// dial opens a ClientConn labelled l with fast reconnects.
func (e *env) dial(l Label) pb.MathClient {
	e.t.Helper()
	opts := append(e.link.DialOptionsFor(l), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.5, Jitter: 0.2, MaxDelay: 250 * time.Millisecond},
		MinConnectTimeout: time.Second,
	}))
	cc, err := grpc.NewClient(e.link.Target(), opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.ccs = append(e.ccs, cc)
	return pb.NewMathClient(cc)
}

// msg is one received Pow message, or the stream's end.
type msg struct {
	seq     uint64
	size    int
	latency time.Duration // receive time - server send time
	at      time.Time
	err     error
}

// stream runs a Pow stream in the background; its messages arrive on the
// returned channel, which closes after the final error. The stream ends
// when the test ends.
func (e *env) stream(c pb.MathClient, interval time.Duration, payload int) <-chan msg {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan msg, 1<<16)
	s, err := c.Pow(ctx, &pb.PowRequest{Base: 1, Count: mathsrv.MaxPowCount, IntervalNanos: int64(interval), PayloadBytes: int32(payload)})
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for {
			r, err := s.Recv()
			now := time.Now()
			if err != nil {
				out <- msg{err: err, at: now}
				return
			}
			select {
			case out <- msg{seq: r.GetSeq(), size: len(r.GetPayload()), latency: now.Sub(time.Unix(0, r.GetSentUnixNano())), at: now}:
			default: // the test stopped reading
			}
		}
	}()
	e.t.Cleanup(func() { cancel(); <-done })
	return out
}

// next returns the next message or fails after d.
func next(t *testing.T, ch <-chan msg, d time.Duration) msg {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("stream channel closed")
		}
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
	}
	panic("unreachable")
}

// quiet asserts nothing arrives on ch for d.
func quiet(t *testing.T, ch <-chan msg, d time.Duration) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("got %+v during %v of blackhole", m, d)
	case <-time.After(d):
	}
}

// drain discards what is buffered on ch.
func drain(ch <-chan msg) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// endOf waits for ch's error, up to d, and returns it with its time.
func endOf(t *testing.T, ch <-chan msg, d time.Duration) msg {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-ch:
			if m.err != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("stream did not end within %v", d)
		}
	}
}

// forEach runs f on each kind of link, side by side with each other and
// with the other forEach tests: each has its own server and link, the
// checks are bounds that hold under load (they hold beside the other
// packages' tests too), and the tests mostly wait on the links' timing
// (run one after another, the package spent 16 of its 21 s asleep).
func forEach(t *testing.T, f func(t *testing.T, e *env)) {
	t.Parallel()
	forEachKind(t, f)
}

// forEachKind runs f on each kind of link side by side, but not beside
// the other tests: latency is measured against a quiet baseline, which
// the other tests' streams disturb (a median of 35 ms before the fault,
// seen with eight at once).
func forEachKind(t *testing.T, f func(t *testing.T, e *env)) {
	for _, mk := range makers {
		t.Run(mk.name, func(t *testing.T) {
			t.Parallel()
			f(t, newEnv(t, mk.make(t)))
		})
	}
}

func mustApply(t *testing.T, l Link, f Fault, match func(Label) bool) func() error {
	t.Helper()
	revert, err := l.Apply(f, match)
	if err != nil {
		t.Fatal(err)
	}
	return revert
}

var lbl = Label{Group: "a", Conn: 0}

func TestSever(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) { testSever(t, e) })
}

func testSever(t *testing.T, e *env) {
	c := e.dial(lbl)
	ch := e.stream(c, 5*time.Millisecond, 16)
	next(t, ch, 5*time.Second)
	start := time.Now()
	mustApply(t, e.link, Fault{Kind: Sever}, nil)
	m := endOf(t, ch, 2*time.Second)
	took := m.at.Sub(start)
	t.Logf("sever: client saw %v after %v", m.err, took)
	if status.Code(m.err) != codes.Unavailable {
		t.Errorf("sever: got %v, want Unavailable", m.err)
	}
	if took > 500*time.Millisecond {
		t.Errorf("sever took %v to reach the client", took)
	}
	// The ClientConn reconnects for the next stream.
	start = time.Now()
	ch2 := e.stream(c, 5*time.Millisecond, 16)
	if m := next(t, ch2, 5*time.Second); m.err != nil {
		t.Fatalf("after sever: %v", m.err)
	}
	t.Logf("sever: next stream's first message after %v", time.Since(start))
}

func TestBlackhole(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		c := e.dial(lbl)
		ch := e.stream(c, 5*time.Millisecond, 16)
		next(t, ch, 5*time.Second)
		revert := mustApply(t, e.link, Fault{Kind: Blackhole}, nil)
		time.Sleep(50 * time.Millisecond) // what was in flight
		drain(ch)
		quiet(t, ch, 400*time.Millisecond)
		healed := time.Now()
		if err := revert(); err != nil {
			t.Fatal(err)
		}
		m := next(t, ch, 5*time.Second)
		t.Logf("blackhole healed: first event after %v: seq %d err %v", m.at.Sub(healed), m.seq, m.err)
		if e.link.Name() == KindToxiproxy {
			// Removing a timeout toxic closes the connections it held.
			if status.Code(m.err) != codes.Unavailable {
				t.Errorf("toxiproxy blackhole healed: got %+v, want Unavailable", m)
			}
			if m := next(t, e.stream(c, 5*time.Millisecond, 16), 5*time.Second); m.err != nil {
				t.Errorf("after blackhole: %v", m.err)
			}
			return
		}
		if m.err != nil {
			t.Fatalf("stream failed after blackhole: %v", m.err)
		}
		// Held data: nothing was lost.
		last := m.seq
		for range 20 {
			m := next(t, ch, 5*time.Second)
			if m.err != nil || m.seq != last+1 {
				t.Fatalf("after heal: got %+v after seq %d", m, last)
			}
			last = m.seq
		}
	})
}

func TestBlackholeClose(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		c := e.dial(lbl)
		ch := e.stream(c, 5*time.Millisecond, 16)
		next(t, ch, 5*time.Second)
		mustApply(t, e.link, Fault{Kind: Blackhole}, nil)
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		within(t, 2*time.Second, "cc.Close under blackhole", func() { e.ccs[0].Close() })
		t.Logf("cc.Close under blackhole took %v", time.Since(start))
	})
}

// medianLatency collects n messages' latencies and returns their median,
// checking the sequence stays in order.
func medianLatency(t *testing.T, ch <-chan msg, n int) time.Duration {
	t.Helper()
	var ls []time.Duration
	var last uint64
	for i := range n {
		m := next(t, ch, 5*time.Second)
		if m.err != nil {
			t.Fatal(m.err)
		}
		if i > 0 && m.seq != last+1 {
			t.Fatalf("order: seq %d after %d", m.seq, last)
		}
		last = m.seq
		ls = append(ls, m.latency)
	}
	slices.Sort(ls)
	return ls[len(ls)/2]
}

func TestLatency(t *testing.T) {
	forEachKind(t, func(t *testing.T, e *env) { testLatency(t, e) })
}

func testLatency(t *testing.T, e *env) {
	c := e.dial(lbl)
	ch := e.stream(c, 5*time.Millisecond, 64)
	base := medianLatency(t, ch, 40)
	revert := mustApply(t, e.link, Fault{Kind: Latency, Direction: Downstream, Settings: LatencySettings{Latency: ms(50), Jitter: ms(10)}, Seed: 7}, nil)
	time.Sleep(100 * time.Millisecond)
	drain(ch)
	next(t, ch, 5*time.Second) // a message sent under the fault
	with := medianLatency(t, ch, 100)
	shift := with - base
	t.Logf("latency 50ms±10ms: median %v -> %v (shift %v)", base, with, shift)
	if shift < 35*time.Millisecond || shift > 90*time.Millisecond {
		t.Errorf("latency shift %v, want about 50ms", shift)
	}
	if err := revert(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	drain(ch)
	after := medianLatency(t, ch, 40)
	t.Logf("latency reverted: median %v", after)
	if after > base+20*time.Millisecond {
		t.Errorf("after revert median latency %v, baseline %v", after, base)
	}
}

// throughput measures payload bytes received per second over d.
func throughput(t *testing.T, ch <-chan msg, d time.Duration) float64 {
	t.Helper()
	deadline := time.After(d)
	start := time.Now()
	var n int
	for {
		select {
		case m := <-ch:
			if m.err != nil {
				t.Fatal(m.err)
			}
			n += m.size
		case <-deadline:
			return float64(n) / time.Since(start).Seconds()
		}
	}
}

func TestBandwidth(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		c := e.dial(lbl)
		const rate = 200_000
		revert := mustApply(t, e.link, Fault{Kind: Bandwidth, Settings: BandwidthSettings{Rate: scenario.Size(rate)}}, nil)
		ch := e.stream(c, 0, 4000)
		next(t, ch, 5*time.Second)
		time.Sleep(300 * time.Millisecond) // past the windows' first burst
		drain(ch)
		got := throughput(t, ch, 1500*time.Millisecond)
		t.Logf("bandwidth %d B/s: measured %.0f B/s of payload", rate, got)
		if got > 1.3*rate || got < 0.3*rate {
			t.Errorf("throughput %.0f B/s, want near %d", got, rate)
		}
		if err := revert(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		drain(ch)
		free := throughput(t, ch, 500*time.Millisecond)
		t.Logf("bandwidth reverted: %.0f B/s", free)
		if free < 3*rate {
			t.Errorf("after revert throughput %.0f B/s, still capped", free)
		}
	})
}

func TestScope(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		a := e.stream(e.dial(Label{"a", 0}), 5*time.Millisecond, 16)
		b := e.stream(e.dial(Label{"b", 0}), 5*time.Millisecond, 16)
		next(t, a, 5*time.Second)
		next(t, b, 5*time.Second)
		revert := mustApply(t, e.link, Fault{Kind: Blackhole}, func(l Label) bool { return l.Group == "a" })
		time.Sleep(50 * time.Millisecond)
		drain(a)
		drain(b)
		deadline := time.Now().Add(400 * time.Millisecond)
		nb := 0
		for time.Now().Before(deadline) {
			if m := next(t, b, time.Second); m.err != nil {
				t.Fatalf("group b hit: %v", m.err)
			}
			nb++
		}
		quiet(t, a, 10*time.Millisecond)
		t.Logf("scope: group b got %d messages while a was blackholed", nb)
		if nb < 5 {
			t.Errorf("group b got only %d messages in 400ms", nb)
		}
		if err := revert(); err != nil {
			t.Fatal(err)
		}
		if m := next(t, a, 5*time.Second); e.link.Name() != KindToxiproxy && m.err != nil {
			t.Errorf("group a after revert: %v", m.err)
		}
	})
}

func TestSlicer(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		c := e.dial(lbl)
		ch := e.stream(c, 200*time.Millisecond, 8000)
		base := medianLatency(t, ch, 5)
		// 8 KB in ~500 B slices, 5 ms apart: >= ~75 ms per message.
		mustApply(t, e.link, Fault{Kind: Slicer, Direction: Downstream, Settings: SlicerSettings{AverageSize: 500, SizeVariation: 100, Delay: ms(5)}, Seed: 3}, nil)
		time.Sleep(300 * time.Millisecond)
		drain(ch)
		next(t, ch, 5*time.Second)
		with := medianLatency(t, ch, 5)
		t.Logf("slicer: median latency %v -> %v", base, with)
		if with < base+50*time.Millisecond {
			t.Errorf("slicer: latency %v, want >= %v", with, base+50*time.Millisecond)
		}
	})
}

func TestLimitData(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		c := e.dial(lbl)
		ch := e.stream(c, 2*time.Millisecond, 1000)
		next(t, ch, 5*time.Second)
		const limit = 30_000
		mustApply(t, e.link, Fault{Kind: LimitData, Settings: LimitDataSettings{Bytes: scenario.Size(limit)}}, nil)
		applied := time.Now()
		// Only messages the server sent after the fault was in force
		// surely crossed the limited link: under load, earlier ones still
		// wait in the client's buffers and this channel (and one sent
		// while Apply ran crossed before the limit: a run saw 31,000 B).
		var got int
		deadline := time.After(5 * time.Second)
		for {
			select {
			case m := <-ch:
				if m.err != nil {
					t.Logf("limit_data %d B: stream ended with %v after %d payload bytes", limit, m.err, got)
					if status.Code(m.err) != codes.Unavailable {
						t.Errorf("limit_data: got %v, want Unavailable", m.err)
					}
					if got > limit {
						t.Errorf("received %d payload bytes past a %d byte limit", got, limit)
					}
					return
				}
				if m.at.Add(-m.latency).After(applied) {
					got += m.size
				}
			case <-deadline:
				t.Fatalf("limit_data: stream still running after %d bytes", got)
			}
		}
	})
}

// TestLimitDataLateRead: a Read already blocked when limit_data starts
// counts against the limit too; what lies past it is dropped with the
// connection (without this, one read buffer's worth crossed unlimited).
func TestLimitDataLateRead(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	defer server.Close()
	r := newRegistry()
	defer r.close()
	fc, err := r.wrap(client, lbl)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		total, buf := 0, make([]byte, 64<<10)
		for {
			n, err := fc.Read(buf)
			total += n
			if err != nil {
				got <- total
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // the Read blocks, on the fast path
	const limit = 1000
	if _, err := r.apply(Fault{Kind: LimitData, Settings: LimitDataSettings{Bytes: limit}}, nil); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = server.Write(make([]byte, 10*limit)) }()
	select {
	case n := <-got:
		if n > limit {
			t.Fatalf("read %d bytes past a %d byte limit", n, limit)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the limited connection did not close")
	}
}

func TestSlowClose(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		c := e.dial(lbl)
		ch := e.stream(c, 5*time.Millisecond, 16)
		next(t, ch, 5*time.Second)
		const delay = 300 * time.Millisecond
		mustApply(t, e.link, Fault{Kind: SlowClose, Direction: Downstream, Settings: SlowCloseSettings{Delay: scenario.Duration(delay)}}, nil)
		start := time.Now()
		e.srv.Stop() // the server closes; the client must see it late
		m := endOf(t, ch, 5*time.Second)
		took := m.at.Sub(start)
		t.Logf("slow_close %v: client saw %v after %v", delay, m.err, took)
		if took < delay-50*time.Millisecond {
			t.Errorf("slow_close: client saw the close after %v, want >= %v", took, delay)
		}
	})
}

func TestKinds(t *testing.T) {
	for _, mk := range makers {
		l := mk.make(t)
		if !slices.Equal(l.Kinds(), KindsOf(mk.name)) {
			t.Errorf("%s: Kinds %v, KindsOf %v", mk.name, l.Kinds(), KindsOf(mk.name))
		}
		for _, k := range NetKinds() {
			if l.Supports(k.Name) {
				continue
			}
			_, err := l.Apply(Fault{Kind: k.Name}, nil)
			if err == nil || !strings.Contains(err.Error(), "cannot do "+k.Name) {
				t.Errorf("%s: unsupported kind %s: Apply err %v", mk.name, k.Name, err)
			}
		}
		if _, err := l.Apply(Fault{Kind: "flood"}, nil); err == nil {
			t.Errorf("%s: unknown kind accepted", mk.name)
		}
		if _, err := l.Apply(Fault{Kind: Latency, Settings: BandwidthSettings{Rate: 5000}}, nil); err == nil || !strings.Contains(err.Error(), "not those of latency") {
			t.Errorf("%s: another kind's settings: Apply err %v", mk.name, err)
		}
		l.Close()
	}
	if KindsOf("bogus") != nil {
		t.Error("KindsOf(bogus) not nil")
	}
	_, err := NewBufconn().Apply(Fault{Kind: Timeout}, nil)
	if err == nil || !strings.Contains(err.Error(), "it can do: bandwidth, blackhole") {
		t.Errorf("unsupported kind error %v does not list the choices", err)
	}
}

func TestToxicityIsSeeded(t *testing.T) {
	f := Fault{Kind: Blackhole, Toxicity: 0.3, Seed: 42}
	var hits []int
	for i := range 1000 {
		if f.hits(nil, Label{"g", i}) {
			hits = append(hits, i)
		}
	}
	if n := len(hits); n < 250 || n > 350 {
		t.Errorf("toxicity 0.3 hit %d of 1000 labels", n)
	}
	var again []int
	for i := range 1000 {
		if f.hits(nil, Label{"g", i}) {
			again = append(again, i)
		}
	}
	if !slices.Equal(hits, again) {
		t.Error("same seed picked different labels")
	}
	f.Seed = 43
	var other []int
	for i := range 1000 {
		if f.hits(nil, Label{"g", i}) {
			other = append(other, i)
		}
	}
	if slices.Equal(hits, other) {
		t.Error("another seed picked the same labels")
	}
}

// TestExternalToxiproxy drives a real toxiproxy-server binary, built from
// the module, through the HTTP client.
func TestExternalToxiproxy(t *testing.T) {
	// Not beside the other tests: it measures latency too (forEachKind).
	bin := buildToxiproxy(t)
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start toxiproxy-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	var l *Toxiproxy
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		l, err = NewToxiproxy(addr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("toxiproxy-server at %s not up: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Run("latency", func(t *testing.T) { testLatency(t, newEnv(t, l)) })
	l2, err := NewToxiproxy(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("sever", func(t *testing.T) { testSever(t, newEnv(t, l2)) })
	// The link deleted the proxies it created.
	left, err := toxiclient.NewClient(addr).Proxies()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("proxies left on the server: %v", left)
	}
}

func buildToxiproxy(t *testing.T) string {
	t.Helper()
	required := os.Getenv("STREAMBENCH_REQUIRE_TOXIPROXY") == "1"
	skip := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if required {
			t.Fatalf("%s (STREAMBENCH_REQUIRE_TOXIPROXY=1)", msg)
		}
		t.Skipf("%s; set STREAMBENCH_REQUIRE_TOXIPROXY=1 to make this a failure", msg)
	}
	if p := os.Getenv("STREAMBENCH_TOXIPROXY_SERVER"); p != "" {
		return p
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		skip("toxiproxy-server cannot be built: no go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "toxiproxy-server")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", bin, "github.com/Shopify/toxiproxy/v2/cmd/server")
	if out, err := cmd.CombinedOutput(); err != nil {
		skip("toxiproxy-server cannot be built: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port
}

// TestLinksLeaveCredentialsToTheCaller: no link decides the transport
// security (the plan does: plaintext or TLS), so its dial options alone
// are refused by grpc-go for want of credentials.
func TestLinksLeaveCredentialsToTheCaller(t *testing.T) {
	for _, kind := range []string{KindBufconn, KindTCP, KindToxiproxy} {
		t.Run(kind, func(t *testing.T) {
			l, err := New(kind)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if kind == KindTCP {
				lis, err := l.Listen()
				if err != nil {
					t.Fatal(err)
				}
				defer lis.Close()
			}
			cc, err := grpc.NewClient(l.Target(), l.DialOptionsFor(Label{Group: "g"})...)
			if err == nil {
				cc.Close()
				t.Fatal("a ClientConn with the link's options only was accepted: the link set transport credentials")
			}
			if !strings.Contains(err.Error(), "credentials") {
				t.Fatalf("unexpected error: %v", err)
			}
		})
	}
}

// ms is n milliseconds as a setting.
func ms(n int) scenario.Duration { return scenario.Duration(time.Duration(n) * time.Millisecond) }
