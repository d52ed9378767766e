// Package harness is streambench's engine: it wires a scenario's target,
// link and client groups, runs them for the scenario's duration, stops them
// in order, and turns the measurements into a report with verdicts.
//
// Everything the CLI does is reachable from here, so a user can run a
// scenario from their own `go test`:
//
//	sc, err := scenario.Load("scenarios/smoke.yaml")
//	rep, err := harness.Run(ctx, sc, harness.WithDuration(2*time.Second))
//	if !rep.Passed { t.Fatal(rep.Failed()) }
package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/builtin"
	"github.com/streambench/streambench/targets/longlived"
	mathsrv "github.com/streambench/streambench/targets/math"
)

// ErrStuck is wrapped by Run's error when teardown did not finish within
// its deadline.
var ErrStuck = errors.New("run did not stop in time")

// Factories maps each RPC to the driver that speaks it.
var Factories = map[string]driver.Factory{
	scenario.RPCSubscribe: longlived.NewDriver,
	scenario.RPCPow:       mathsrv.NewPowDriver,
	scenario.RPCSum:       mathsrv.NewSumDriver,
	scenario.RPCSqrt:      mathsrv.NewSqrtDriver,
}

// Run executes sc and returns its report. Cancelling ctx interrupts the run:
// clients stop opening streams, streams in flight drain (bounded by the
// graceful stop) and the partial report comes back with Interrupted set.
//
// Run returns an error only when the run could not produce a trustworthy
// report: invalid assertions (a *scenario.Errors), a target that could not
// start, or a teardown that exceeded its deadline (ErrStuck). The report is
// returned whenever one exists, even together with an error.
func Run(ctx context.Context, sc *scenario.Scenario, opts ...Option) (*reports.Report, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	sc = scaled(sc, cfg)
	checks, err := assert.Compile(sc)
	if err != nil {
		return nil, err
	}
	specs, err := compileFaults(sc)
	if err != nil {
		return nil, err
	}
	if cfg.target != "" && len(specs) > 0 {
		return nil, scenario.Errors{{File: sc.File, Pos: sc.PosOf("faults"), Field: "faults",
			Msg: fmt.Sprintf("this scenario injects faults, which need the builtin target and a link streambench owns; it cannot run against --target %s", cfg.target)}}
	}
	leakOpts := leakOptions(checks)
	r := &run{cfg: cfg, sc: sc, duration: sc.Duration.D(), grace: sc.GracefulStop.D(), seed: sc.Seed, specs: specs, leakOpts: leakOpts}
	if cfg.duration > 0 {
		r.duration = cfg.duration
	}
	if cfg.gracefulStop != nil {
		r.grace = *cfg.gracefulStop
	}
	if cfg.seed != nil {
		r.seed = *cfg.seed
	}
	if r.seed == 0 {
		r.seed = rand.Int64N(1<<53) + 1
	}
	// The leak check compares the end of the run with this moment.
	r.base = leak.TakeBaseline()
	if err := r.setup(); err != nil {
		r.closeConnsNow()
		r.teardownTarget()
		if r.target != nil {
			r.target.Release()
		}
		return nil, err
	}
	r.execute(ctx)
	rep := r.report(checks)
	if len(r.errs) > 0 {
		return rep, errors.Join(r.errs...)
	}
	return rep, nil
}

type run struct {
	cfg      config
	sc       *scenario.Scenario
	duration time.Duration
	grace    time.Duration
	seed     int64

	link   link.Link
	target *builtin.Target
	dial   string
	dopts  []grpc.DialOption

	linkName string
	address  string // an external target's host:port

	base     leak.Baseline
	leakOpts leak.Options
	leaks    *reports.Leaks

	specs   []*fault.Spec
	streams *fault.Streams
	events  events
	applied []fault.Applied

	groups []*group
	start  time.Time
	end    time.Time

	interrupted  bool
	resources    reports.Resources
	resMu        sync.Mutex // guards resources until the run's end
	windows      []reports.Window
	groupReports []reports.Group
	errs         []error
}

type group struct {
	spec  scenario.Group
	rec   *record.Recorder
	conns []*grpc.ClientConn
	// open is the open-loop arrival accounting (nil for closed loop).
	open *openLoop
	// stopper sends the group's stop-time calls (Unsubscribe) in waves.
	stopper *driver.Stopper
	// stats are per-connection figures, one per conns entry.
	stats []*connStat
	// last and lastEnds are the cumulative figures at the previous window.
	last     record.Counters
	lastEnds map[string]uint64
}

// setup starts the target (when builtin) and dials every group's
// connections.
func (r *run) setup() error {
	switch {
	case r.cfg.target != "":
		r.address = r.cfg.target
	case r.sc.Target.Address != "":
		r.address = r.sc.Target.Address
	default:
		if err := r.startBuiltin(); err != nil {
			return err
		}
	}
	if r.address != "" {
		r.dial = "passthrough:///" + r.address
		r.dopts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	for _, gs := range r.sc.Groups {
		g := &group{spec: gs, rec: record.New(shardCount(gs.Clients), r.cfg.now)}
		g.rec.WatchAllOpen(gs.Clients)
		gs.Connections = max(gs.Connections, 1)
		g.spec.Connections = gs.Connections
		r.groups = append(r.groups, g)
		extra := r.dialOptions(gs)
		for i := 0; i < gs.Connections; i++ {
			opts := r.dopts
			if r.link != nil {
				opts = r.link.DialOptionsFor(link.Label{Group: gs.Name, Conn: i})
			}
			st := &connStat{}
			g.stats = append(g.stats, st)
			opts = append(append([]grpc.DialOption(nil), opts...), extra...)
			opts = append(opts, grpc.WithChainStreamInterceptor(st.interceptor()))
			cc, err := grpc.NewClient(r.dial, opts...)
			if err != nil {
				return fmt.Errorf("group %s: dial %s: %w", gs.Name, r.dial, err)
			}
			g.conns = append(g.conns, cc)
		}
	}
	r.connect()
	return nil
}

// stopWaves bounds how many of a group's stop-time calls (a subscriber's
// Unsubscribe) are in flight at once: 8 per connection, at least 128 and at
// most 1,024. Enough to keep every connection's calls pipelined (20,000
// subscribers leave in about a second), few enough that 100,000 leaving at
// once do not bury the updates still being delivered to the others (with
// no bound the drain added 4–8 s to their p99; measured on 2 cores).
func stopWaves(connections int) int { return min(max(8*connections, 128), 1024) }

// connectWait bounds how long setup waits for the ClientConns to connect.
const connectWait = 10 * time.Second

// connect brings every ClientConn up before the clock starts, so thousands
// of clients opening their first stream at once do not also race their
// connections' dials (at 100,000 streams that storm timed the dials out).
// A conn that cannot connect in time is left to connect on demand: its
// streams then fail and are classified like any other.
func (r *run) connect() {
	ctx, cancel := context.WithTimeout(context.Background(), connectWait)
	defer cancel()
	for _, g := range r.groups {
		for _, cc := range g.conns {
			cc.Connect()
		}
	}
	for _, g := range r.groups {
		for _, cc := range g.conns {
			for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
				if !cc.WaitForStateChange(ctx, s) {
					return
				}
			}
		}
	}
}

// shardCount picks a recorder shard count: enough that clients rarely
// share a lock, few enough that merging stays cheap.
func shardCount(clients int) int {
	n := 4 * runtime.GOMAXPROCS(0)
	if clients < n {
		n = clients
	}
	return n
}

func (r *run) startBuiltin() error {
	b := r.sc.Target.Builtin
	if b == nil {
		b = &scenario.Builtin{}
	}
	var l link.Link
	var err error
	if t := r.sc.Link.Toxiproxy; t != nil && t.Address != "" {
		l, err = link.NewToxiproxy(t.Address)
	} else {
		l, err = link.New(r.sc.Link.Kind)
	}
	if err != nil {
		return err
	}
	r.link, r.linkName = l, l.Name()
	// Every builtin server gets the stream-layer interceptor: it injects
	// stream faults and counts how handlers end (the server side of eof).
	r.streams = fault.NewStreams(r.seed)
	r.target = builtin.New(builtin.Config{
		ServerOptions: append(serverTransportOptions(b.Server), grpc.ChainStreamInterceptor(r.streams.Interceptor())),
		Feed: longlived.Config{
			Rate:    b.Feed.Rate.PerSecond(),
			Payload: int(b.Feed.Payload),
			Ring:    b.Feed.Ring,
			Queue:   b.Feed.Queue,
		},
		MaxConcurrentStreams: b.Server.MaxConcurrentStreams,
		KeepaliveTime:        b.Server.Keepalive.Time.D(),
		KeepaliveTimeout:     b.Server.Keepalive.Timeout.D(),
		KeepaliveMinTime:     b.Server.Keepalive.MinTime.D(),
		Bug:                  r.cfg.bug,
	})
	lis, err := l.Listen()
	if err != nil {
		return fmt.Errorf("builtin target: %w", err)
	}
	if err := r.target.Serve(lis); err != nil {
		lis.Close()
		return err
	}
	r.dial = l.Target()
	return nil
}

// execute runs the clients for the duration, then stops everything in
// order: stop new work, let streams drain, cancel what is left, close
// connections, stop the target.
func (r *run) execute(ctx context.Context) {
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	stop, closeStop := context.WithCancel(context.Background())
	defer closeStop()

	var clients sync.WaitGroup
	r.start = r.cfg.now()
	r.events = events{start: r.start, now: r.cfg.now}
	var id int32
	for _, g := range r.groups {
		g.stopper = driver.NewStopper(stop, stopWaves(len(g.conns)))
		defer g.stopper.Close()
		cs := make([]*client, g.spec.Clients)
		for i := range cs {
			id++
			cs[i] = r.newClient(g, i, id)
		}
		r.startGroup(g, cs, hard, stop, &clients)
	}
	waitFaults := r.startTimeline(stop)

	samplerDone := make(chan struct{})
	samplerStop := make(chan struct{})
	go func() {
		defer close(samplerDone)
		r.sample(samplerStop, stop)
	}()

	// Phase 1: run for the duration, or until interrupted.
	timer := time.NewTimer(r.duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
		r.interrupted = true
	}
	timer.Stop()
	r.noteResources() // the peak is usually now, with every stream open
	if r.cfg.onStop != nil {
		r.cfg.onStop()
	}
	closeStop()
	// Every fault is reverted before streams drain: a blackhole or a
	// stopped server would otherwise hold the drain until the hard stop.
	r.applied = waitFaults()
	for _, a := range r.applied {
		if a.Err != nil {
			// A fault that could not be injected makes the run
			// untrustworthy: it did not test what the scenario says.
			r.errs = append(r.errs, fmt.Errorf("%s at %v: not applied: %w", a.Name(), a.Began.Round(time.Millisecond), a.Err))
		}
	}

	// Phase 2: streams in flight finish, bounded by the graceful stop.
	if !waitTimeout(&clients, r.grace) {
		// Phase 3: cancel what is left; it must stop within the settle time.
		cancelHard()
		if !waitTimeout(&clients, r.cfg.settle) {
			r.errs = append(r.errs, fmt.Errorf("%w: clients still running %v after cancel", ErrStuck, r.cfg.settle))
		}
	}
	r.end = r.cfg.now()
	close(samplerStop)
	<-samplerDone

	// Teardown in the order the link needs: faults off, clients closed,
	// server stopped, link closed (toxiproxy leaks a latency pipe
	// otherwise).
	if r.link != nil {
		if err := r.link.Quiesce(); err != nil {
			r.errs = append(r.errs, fmt.Errorf("link: revert faults: %w", err))
		}
	}
	r.closeConns()
	r.teardownTarget()
	r.snapshot()
	r.checkLeaks()
}

// closeConns closes every ClientConn, unless a planted bug makes the
// client leak them (then checkLeaks closes them after looking).
func (r *run) closeConns() {
	if r.cfg.bug != nil && r.cfg.bug.SkipClose {
		return
	}
	r.closeConnsNow()
}

func (r *run) closeConnsNow() {
	for _, g := range r.groups {
		for _, cc := range g.conns {
			_ = cc.Close()
		}
		g.conns = nil
	}
}

func (r *run) teardownTarget() {
	defer func() {
		if r.link != nil {
			if err := r.link.Close(); err != nil {
				r.errs = append(r.errs, fmt.Errorf("link: close: %w", err))
			}
			r.link = nil
		}
	}()
	if r.target == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.target.Close(r.grace)
	}()
	limit := time.NewTimer(r.grace + r.cfg.settle)
	defer limit.Stop()
	select {
	case <-done:
	case <-limit.C:
		r.errs = append(r.errs, fmt.Errorf("%w: builtin target still stopping after %v", ErrStuck, r.grace+r.cfg.settle))
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func baseOf(g scenario.Group) int64 {
	if g.Base != nil {
		return *g.Base
	}
	return 2
}

func repeatOf(g scenario.Group) bool {
	return g.Repeat == nil || *g.Repeat
}

// sample records per-second windows and reports progress until done closes.
func (r *run) sample(done <-chan struct{}, stop context.Context) {
	tick := time.NewTicker(r.cfg.progressEvery)
	defer tick.Stop()
	second := time.NewTicker(time.Second)
	defer second.Stop()
	for {
		select {
		case <-done:
			r.window()
			r.emit("done")
			return
		case <-second.C:
			r.window()
			r.noteResources()
		case <-tick.C:
			phase := "running"
			if stop.Err() != nil {
				phase = "draining"
			}
			r.emit(phase)
		}
	}
}

func (r *run) window() {
	off := r.cfg.now().Sub(r.start).Seconds()
	for _, g := range r.groups {
		w := g.rec.Window()
		c := w.Counters
		win := reports.Window{
			Offset:   off,
			Group:    g.spec.Name,
			Started:  c.Started - g.last.Started,
			Ended:    c.Ended - g.last.Ended,
			Failed:   c.Failed - g.last.Failed,
			Sent:     c.Sent - g.last.Sent,
			Received: c.Received - g.last.Received,
		}
		for k, n := range w.Ends {
			if d := n - g.lastEnds[k]; d > 0 {
				if win.Ends == nil {
					win.Ends = map[string]uint64{}
				}
				win.Ends[k] = d
			}
		}
		if w.Latency.TotalCount() > 0 {
			if h, err := reports.FromHDR(w.Latency, 0); err == nil {
				win.Latency = &h
			}
		}
		r.windows = append(r.windows, win)
		g.last, g.lastEnds = c, w.Ends
	}
}

func (r *run) emit(phase string) {
	if r.cfg.progress == nil {
		return
	}
	p := Progress{Elapsed: r.cfg.now().Sub(r.start), Duration: r.duration, Phase: phase}
	for _, g := range r.groups {
		c := g.rec.Counters()
		p.Groups = append(p.Groups, GroupProgress{
			Name: g.spec.Name, Active: c.Started - c.Ended,
			Opened: c.Started, Failed: c.Failed, Received: c.Received,
		})
	}
	r.cfg.progress(p)
}

// noteResources samples the process's heap and goroutines, keeping the
// peak and the streams open then. The sampler and the run's goroutine (at
// stop) call it.
func (r *run) noteResources() {
	r.resMu.Lock()
	defer r.resMu.Unlock()
	r.noteResourcesLocked()
}

func (r *run) noteResourcesLocked() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var open uint64
	for _, g := range r.groups {
		c := g.rec.Counters()
		open += c.Started - min(c.Started, c.Ended)
	}
	res := &r.resources
	if ms.HeapInuse > res.PeakHeapBytes {
		res.PeakHeapBytes, res.PeakStreams = ms.HeapInuse, max(res.PeakStreams, open)
	}
	res.PeakGoroutines = max(res.PeakGoroutines, runtime.NumGoroutine())
	res.PeakStreams = max(res.PeakStreams, open)
}
