package fleet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/relay"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/longlived"
	pb "github.com/streambench/streambench/targets/proto"
	"github.com/streambench/streambench/targets/refclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const subscribe = "/streambench.v1.Longlived/Subscribe"

// wait bounds every wait in these tests.
const wait = 10 * time.Second

// upstream is the builtin Subscribe feed served over loopback TCP,
// restartable on the same port (the feed outlives its gRPC servers).
type upstream struct {
	feed   *longlived.Server
	addr   string
	mu     sync.Mutex
	gs     *grpc.Server
	served chan struct{}
}

func newUpstream(t *testing.T, rate float64) *upstream {
	t.Helper()
	u := &upstream{feed: longlived.New(longlived.Config{Rate: rate, Payload: 16})}
	u.feed.Start()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = lis.Addr().String()
	u.serve(lis)
	t.Cleanup(func() {
		u.stop()
		u.feed.Close()
	})
	return u
}

func (u *upstream) serve(lis net.Listener) {
	gs := grpc.NewServer()
	pb.RegisterLonglivedServer(gs, u.feed)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	u.mu.Lock()
	u.gs, u.served = gs, served
	u.mu.Unlock()
}

// stop stops the server hard: its connections close.
func (u *upstream) stop() {
	u.mu.Lock()
	gs, served := u.gs, u.served
	u.gs = nil
	u.mu.Unlock()
	if gs != nil {
		gs.Stop()
		<-served
	}
}

// restart stops the server and serves again on the same port after down.
func (u *upstream) restart(t *testing.T, down time.Duration) {
	t.Helper()
	u.stop()
	time.Sleep(down)
	lis, err := net.Listen("tcp", u.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", u.addr, err)
	}
	u.serve(lis)
}

// fleet is n reference clients, each behind a relay of its own.
type fleet struct {
	relays []*relay.Relay
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

type fleetOpts struct {
	n      int
	faulty string
	base   time.Duration
	cfg    func(*relay.Config)
	client func(*refclient.Options)
}

func startFleet(t *testing.T, u *upstream, o fleetOpts) *fleet {
	t.Helper()
	if o.base == 0 {
		o.base = 20 * time.Millisecond
	}
	f := &fleet{}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for i := range o.n {
		cfg := relay.Config{Upstream: u.addr, Linger: 100 * time.Millisecond, DialTimeout: time.Second,
			Seqs: &relay.Seqs{Method: subscribe, Response: 1, Request: 2}}
		if o.cfg != nil {
			o.cfg(&cfg)
		}
		r, err := relay.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		f.relays = append(f.relays, r)
		opts := refclient.Options{Addr: r.Addr(), Replica: i, Faulty: o.faulty, Seed: 7, MinConnectTimeout: 2 * time.Second,
			Backoff: driver.Backoff{Base: o.base, Multiplier: 1.6, Jitter: 0.2, Max: 20 * o.base}}
		if o.client != nil {
			o.client(&opts)
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if _, err := refclient.Run(ctx, opts); err != nil && !errors.Is(err, refclient.ErrGaveUp) {
				f.mu.Lock()
				f.errs = append(f.errs, err)
				f.mu.Unlock()
			}
		}()
	}
	t.Cleanup(f.stop)
	return f
}

// stop stops the clients, then the relays (idempotent).
func (f *fleet) stop() {
	f.cancel()
	f.wg.Wait()
	for _, r := range f.relays {
		_ = r.Close()
	}
}

// evidence stops the fleet and returns each client's evidence, taken
// once every stream is recorded ended (bounded).
func (f *fleet) evidence(t *testing.T) []Client {
	t.Helper()
	end := time.Now()
	f.cancel()
	f.wg.Wait()
	if len(f.errs) > 0 {
		t.Fatalf("clients failed: %v", f.errs)
	}
	deadline := time.Now().Add(wait)
	for _, r := range f.relays {
		for r.Open() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	var out []Client
	for i, r := range f.relays {
		c := FromRelay(fmt.Sprintf("c%d", i), r)
		c.End = end
		out = append(out, c)
	}
	return out
}

// streaming waits until every client has received updates.
func (f *fleet) streaming(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for _, r := range f.relays {
		for {
			n := 0
			for _, s := range r.Streams() {
				n += s.Seq.Count
			}
			if n >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a client received nothing: %+v", r.Streams())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// refuseSubscribes is a stream fault: while on, every Subscribe is
// aborted with Unavailable at its next message either way (a live one at
// its next update, a new one as its request crosses).
func refuseSubscribes(on *atomic.Bool) relay.Faults {
	return relay.FaultsFunc(func(s relay.StreamInfo, m relay.MessageInfo) relay.Action {
		if on.Load() && s.Method == subscribe {
			return relay.Action{Abort: &relay.Abort{Code: codes.Unavailable, Message: "refused by the test"}}
		}
		return relay.Action{}
	})
}

// wantVerdict checks a verdict's outcome and that a failure names the
// client and figures.
func wantVerdict(t *testing.T, v reports.Verdict, pass bool, mentions ...string) {
	t.Helper()
	t.Logf("%s: pass=%v actual=%q detail=%q", v.Name, v.Pass, v.Actual, v.Detail)
	if v.Pass != pass {
		t.Fatalf("%s: pass = %v, want %v: %s / %s", v.Name, v.Pass, pass, v.Actual, v.Detail)
	}
	for _, m := range mentions {
		if !strings.Contains(v.Detail, m) {
			t.Errorf("%s: detail %q does not mention %q", v.Name, v.Detail, m)
		}
	}
}

// profile is the reference clients' backoff in these tests.
func profile(base time.Duration) Profile {
	return Profile{Base: base, Multiplier: 1.6, Jitter: 0.2, Max: 20 * base}
}

func TestBackoff(t *testing.T) {
	refuse := relay.StageFault{At: relay.StageAccepted, Action: relay.ConnAction{Kind: relay.ConnRefuse}}
	closeAfterPreface := relay.StageFault{At: relay.StagePreface, Action: relay.ConnAction{Kind: relay.ConnClose}}
	tests := []struct {
		name     string
		faulty   string
		refuse   bool             // streams refused on a live connection
		conn     relay.ConnFaults // connections cut, then this fault; else an upstream restart
		pass     bool
		mentions []string
	}{
		{name: "upstream restart, correct", pass: true},
		{name: "connections refused, correct", conn: refuse, pass: true},
		{name: "connections closed after the preface, correct", conn: closeAfterPreface, pass: true},
		{name: "connections closed after the preface, hot loop", conn: closeAfterPreface, faulty: refclient.HotLoop, mentions: []string{"client c0", "connection attempt"}},
		{name: "upstream restart, hot loop", faulty: refclient.HotLoop, mentions: []string{"client c0", "connection attempt"}},
		{name: "streams refused, correct", refuse: true, pass: true},
		{name: "streams refused, hot loop", faulty: refclient.HotLoop, refuse: true, mentions: []string{"client c0", "resubscribe"}},
		{name: "streams refused, give up", faulty: refclient.GiveUp, refuse: true, mentions: []string{"client c0", "gave up"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, 200)
			var on atomic.Bool
			f := startFleet(t, u, fleetOpts{n: 2, faulty: tt.faulty, cfg: func(c *relay.Config) { c.Faults = refuseSubscribes(&on) }})
			f.streaming(t)
			switch {
			case tt.refuse:
				on.Store(true)
				time.Sleep(700 * time.Millisecond)
				on.Store(false)
			case tt.conn != nil:
				for _, r := range f.relays {
					r.SetConnFaults(tt.conn)
					if n := r.GoAway(http2.ErrCodeEnhanceYourCalm, "too_many_pings", 0); n != 1 {
						t.Fatalf("cut %d connections, want 1", n)
					}
				}
				time.Sleep(500 * time.Millisecond)
				for _, r := range f.relays {
					r.SetConnFaults(nil)
				}
			default:
				u.restart(t, 400*time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			wantVerdict(t, Backoff(f.evidence(t), subscribe, profile(20*time.Millisecond)), tt.pass, tt.mentions...)
		})
	}
}

func TestHerd(t *testing.T) {
	tests := []struct {
		name   string
		faulty string
		pass   bool
	}{
		{name: "correct fleet disperses", pass: true},
		{name: "no jitter: lockstep", faulty: refclient.NoJitter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A base of 100 ms: the profile's spread (tens of ms) stands
			// well above the scheduling noise of a busy machine (a
			// lockstep fleet measured up to 8 ms there).
			base := 100 * time.Millisecond
			u := newUpstream(t, 100)
			f := startFleet(t, u, fleetOpts{n: 5, faulty: tt.faulty, base: base})
			f.streaming(t)
			cut := time.Now()
			u.restart(t, 1100*time.Millisecond)
			time.Sleep(200 * time.Millisecond)
			wantVerdict(t, Herd(f.evidence(t), cut, profile(base), 100*time.Millisecond), tt.pass)
		})
	}
}

func TestResume(t *testing.T) {
	tests := []struct {
		name     string
		faulty   string
		pass     bool
		mentions []string
	}{
		{name: "correct", pass: true},
		{name: "resume from the last seen", faulty: refclient.ResumeFromLast, mentions: []string{"client c0", "overlap 1"}},
		{name: "resume from zero", faulty: refclient.ResumeFromZero, mentions: []string{"client c0", "restart", "asked from 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, 200)
			f := startFleet(t, u, fleetOpts{n: 3, faulty: tt.faulty})
			f.streaming(t)
			u.restart(t, 200*time.Millisecond)
			f.streaming(t)
			time.Sleep(200 * time.Millisecond)
			wantVerdict(t, Resume(f.evidence(t), subscribe), tt.pass, tt.mentions...)
		})
	}
}

func TestZombies(t *testing.T) {
	tests := []struct {
		name     string
		faulty   string
		pass     bool
		mentions []string
	}{
		{name: "correct: the idle stream cancelled", pass: true},
		{name: "abandon", faulty: refclient.Abandon, mentions: []string{"client c0", "zombie", "stayed open"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, 200)
			stall := relay.FaultsFunc(func(s relay.StreamInfo, m relay.MessageInfo) relay.Action {
				if s.Method == subscribe && s.Conn == 1 && s.ID == 1 && m.Dir == relay.ServerToClient && m.DirIndex == 5 {
					return relay.Action{Stall: 800 * time.Millisecond}
				}
				return relay.Action{}
			})
			f := startFleet(t, u, fleetOpts{n: 2, faulty: tt.faulty, cfg: func(c *relay.Config) { c.Faults = stall },
				client: func(o *refclient.Options) { o.Idle = 150 * time.Millisecond }})
			f.streaming(t)
			time.Sleep(1200 * time.Millisecond)
			wantVerdict(t, Zombies(f.evidence(t), subscribe, 1, 300*time.Millisecond), tt.pass, tt.mentions...)
		})
	}
}

func TestKeepalive(t *testing.T) {
	tests := []struct {
		name     string
		faulty   string
		pass     bool
		mentions []string
	}{
		{name: "correct", pass: true},
		{name: "ping flood", faulty: refclient.PingFlood, mentions: []string{"client c0", "pings on connection", "too_many_pings"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, 200)
			f := startFleet(t, u, fleetOpts{n: 2, faulty: tt.faulty, client: func(o *refclient.Options) { o.PingEvery = 10 * time.Millisecond }})
			f.streaming(t)
			time.Sleep(300 * time.Millisecond)
			// grpc-go's server default: MinTime 5 min, 2 strikes.
			wantVerdict(t, Keepalive(f.evidence(t), 5*time.Minute, 2), tt.pass, tt.mentions...)
		})
	}
}

func TestGoAway(t *testing.T) {
	tests := []struct {
		name     string
		faulty   string
		pass     bool
		mentions []string
	}{
		{name: "correct: moves within the grace", pass: true},
		{name: "ignore goaway", faulty: refclient.IgnoreGoAway, mentions: []string{"client c0", "after the grace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const grace = 500 * time.Millisecond
			u := newUpstream(t, 200)
			f := startFleet(t, u, fleetOpts{n: 2, faulty: tt.faulty})
			f.streaming(t)
			for _, r := range f.relays {
				if n := r.GoAway(http2.ErrCodeNo, "", grace); n != 1 {
					t.Fatalf("GOAWAY sent on %d connections, want 1", n)
				}
			}
			time.Sleep(grace + 300*time.Millisecond)
			f.streaming(t)
			wantVerdict(t, GoAway(f.evidence(t), subscribe, grace), tt.pass, tt.mentions...)
		})
	}
}

// TestNoData: every check fails on no evidence, and on evidence that
// holds nothing it can judge.
func TestNoData(t *testing.T) {
	quiet := []Client{{Name: "c0", Conns: []relay.ConnRecord{{ID: 1, Opened: time.Now(), Established: time.Now()}}}}
	checks := map[string]func([]Client) reports.Verdict{
		"backoff":   func(c []Client) reports.Verdict { return Backoff(c, subscribe, GRPC) },
		"herd":      func(c []Client) reports.Verdict { return Herd(c, time.Now().Add(-time.Minute), GRPC, 0) },
		"resume":    func(c []Client) reports.Verdict { return Resume(c, subscribe) },
		"zombies":   func(c []Client) reports.Verdict { return Zombies(c, subscribe, 1, 0) },
		"keepalive": func(c []Client) reports.Verdict { return Keepalive(c, time.Minute, 2) },
		"goaway":    func(c []Client) reports.Verdict { return GoAway(c, subscribe, time.Second) },
	}
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			for _, ev := range [][]Client{nil, {}, {{Name: "c0"}}} {
				if v := check(ev); v.Pass || !strings.HasPrefix(v.Detail, "no data") {
					t.Errorf("%d clients without evidence: %+v", len(ev), v)
				}
			}
			if name == "keepalive" { // a connection that never pinged is evidence
				return
			}
			if v := check(quiet); v.Pass || !strings.HasPrefix(v.Detail, "no data") {
				t.Errorf("a quiet client: %+v", v)
			}
		})
	}
}
