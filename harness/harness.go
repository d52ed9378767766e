// Package harness is streambench's engine: it wires a scenario's target,
// link and client groups, runs them for the scenario's duration, stops them
// in order, and turns the measurements into a report with verdicts.
//
// Everything the CLI does is reachable from here, so a user can run a
// scenario from their own `go test`:
//
//	sc, err := harness.Load("scenarios/smoke.yaml")
//	if err != nil {
//		t.Fatal(err)
//	}
//	rep, err := harness.Run(ctx, sc, harness.WithDuration(2*time.Second))
//	if err != nil {
//		t.Fatal(err)
//	}
//	if !rep.Passed {
//		t.Fatal(rep.Failed())
//	}
package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/streambench/streambench/harness/clock"
	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// ErrStuck is wrapped by Run's error when teardown did not finish within
// its deadline.
var ErrStuck = errors.New("run did not stop in time")

// ErrTarget is wrapped by Run's error when the target could not be started
// or reached: the run measured nothing.
var ErrTarget = errors.New("target unavailable")

// Run resolves sc with the overrides among opts (see NewPlan) and runs
// it: RunPlan(ctx, plan, opts...). A scenario or override that does not
// validate is a scenario.Errors and no run.
func Run(ctx context.Context, sc *scenario.Scenario, opts ...Option) (*reports.Report, error) {
	p, err := NewPlan(sc, opts...)
	if err != nil {
		return nil, err
	}
	return RunPlan(ctx, p, opts...)
}

// RunPlan executes p and returns its report. Cancelling ctx interrupts the
// run: clients stop opening streams, streams in flight drain (bounded by
// the graceful stop) and the partial report comes back with Interrupted
// set. Overrides among opts are the plan's business and ignored here.
//
// RunPlan returns an error only when the run could not produce a
// trustworthy report: a target that could not be reached or started
// (ErrTarget), a fault that could not be injected, or a teardown that
// exceeded its deadline (ErrStuck). The report is returned whenever one
// exists, even together with an error.
func RunPlan(ctx context.Context, p *Plan, opts ...Option) (*reports.Report, error) {
	if p == nil {
		return nil, scenario.Errors{{Msg: "no plan"}}
	}
	cfg := configOf(opts)
	r := &run{cfg: cfg, p: p, sc: p.sc, duration: p.Duration(), grace: p.GracefulStop(), seed: p.seed, specs: p.specs, leakOpts: p.leaks}
	// The leak check compares the end of the run with this moment.
	r.base = leak.TakeBaseline()
	if err := r.setup(); err != nil {
		r.closeConnsNow()
		r.teardownTarget()
		if r.target != nil {
			r.target.Release()
		}
		r.closeCommand()
		return nil, err
	}
	r.execute(ctx)
	rep := r.report(p.checks)
	if len(r.errs) > 0 {
		return rep, errors.Join(r.errs...)
	}
	return rep, nil
}

type run struct {
	cfg      config
	p        *Plan
	sc       *scenario.Scenario // the plan's effective scenario: read only
	duration time.Duration
	grace    time.Duration
	seed     int64

	link   link.Link
	target server         // the builtin target (nil otherwise)
	cmd    *commandTarget // a command target (nil otherwise)
	proc   *reports.TargetProcess
	dial   string

	base leak.Baseline
	// targetBase is an address or command target's figures before load
	// (nil for the builtin target).
	targetBase *leak.TargetBaseline
	leakOpts   leak.Options
	leaks      *reports.Leaks

	specs   []*fault.Spec
	streams *fault.Streams
	events  events
	applied []fault.Applied

	groups []*group
	start  time.Time
	end    time.Time
	// stopped is when the stop was given (clients began to drain).
	stopped time.Time

	interrupted  bool
	skew         time.Duration // start minus the start barrier
	resources    reports.Resources
	resMu        sync.Mutex // guards resources until the run's end
	sat          saturation // touched by the sampler only
	windows      []reports.Window
	live         liveFaults // the faults Progress shows (the sampler's)
	groupReports []reports.Group
	errs         []error
	// crash is a command target's exit nobody asked for, set by its
	// watcher (guarded by crashMu) and joined to errs at teardown.
	crash   error
	crashMu sync.Mutex
	// warnings are what the report should say that fails nothing.
	warnings []string
	// watch is what the address target's watcher found.
	watch targetWatch
}

type group struct {
	spec scenario.Group
	// share is which of the group's clients and connections this process
	// runs (all of them unless the run is a shard).
	share *share
	rec   *record.Recorder
	conns []*grpc.ClientConn
	// open is the open-loop arrival accounting (nil for closed loop).
	open *openLoop
	// stopper sends the group's stop-time calls (Unsubscribe) in waves.
	stopper *driver.Stopper
	// setup is what the group's RPC entry prepared (rpc.Entry.Setup).
	setup any
	// stats are per-connection figures, one per conns entry.
	stats []*connStat
	// last and lastEnds are the cumulative figures at the previous window.
	last     record.Counters
	lastEnds map[string]uint64
}

// setup starts the target (when builtin) and dials every group's
// connections.
func (r *run) setup() error {
	switch r.p.target {
	case TargetAddress:
		if err := r.front(r.p.Address()); err != nil {
			return err
		}
	case TargetCommand:
		if err := r.startCommand(); err != nil {
			return err
		}
	default:
		if err := r.startBuiltin(); err != nil {
			return err
		}
	}
	r.targetBase = r.targetBaseline()
	for gi, gs := range r.sc.Groups {
		sh := &r.p.shares[gi]
		g := &group{spec: gs, share: sh, rec: record.New(shardCount(len(sh.clients)), r.cfg.now)}
		g.rec.WatchAllOpen(len(sh.clients))
		r.groups = append(r.groups, g)
		extra := append(r.p.tr.dialOptions(r.authority()), r.dialOptions(gs)...)
		for _, i := range sh.conns {
			opts := r.link.DialOptionsFor(link.Label{Group: gs.Name, Conn: i})
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
	if err := r.connect(); err != nil {
		return err
	}
	return r.prepareGroups()
}

// setupWait bounds an RPC entry's setup of a group (a method resolved over
// server reflection).
const setupWait = 30 * time.Second

// prepareGroups runs each group's RPC entry setup once, over one of its
// connections.
func (r *run) prepareGroups() error {
	dir := ""
	if r.sc.File != "" {
		dir = filepath.Dir(r.sc.File)
	}
	for gi, g := range r.groups {
		e, _ := r.p.rpcs.Lookup(g.spec.RPC)
		if e.Setup == nil || len(g.conns) == 0 {
			continue
		}
		bad := func(field, msg string) error {
			path := fmt.Sprintf("groups[%d].%s", gi, field)
			return scenario.Errors{{File: r.sc.File, Pos: r.sc.PosOf(path), Field: path, Msg: msg}}
		}
		ctx, cancel := context.WithTimeout(context.Background(), setupWait)
		res, err := e.Setup(ctx, g.spec, dir, bad, g.conns[0])
		cancel()
		if err != nil {
			if _, ok := scenario.AsErrors(err); ok {
				return err
			}
			return fmt.Errorf("%w: group %s: %w", ErrTarget, g.spec.Name, err)
		}
		g.setup = res
	}
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

// unreachableAfter is how long setup lets a target refuse every connection
// before it says the target is unreachable (exit 3) instead of running
// against nothing.
const unreachableAfter = 3 * time.Second

// connect brings every ClientConn up before the clock starts, so thousands
// of clients opening their first stream at once do not also race their
// connections' dials (at 100,000 streams that storm timed the dials out).
// A target that refuses every connection for unreachableAfter is an
// ErrTarget; a conn that is merely slow is left to connect on demand after
// connectWait: its streams then fail and are classified like any other.
func (r *run) connect() error {
	var all []*grpc.ClientConn
	for _, g := range r.groups {
		for _, cc := range g.conns {
			cc.Connect()
			all = append(all, cc)
		}
	}
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		ready, failing := 0, 0
		for _, cc := range all {
			switch cc.GetState() {
			case connectivity.Ready:
				ready++
			case connectivity.TransientFailure:
				failing++
			}
		}
		elapsed := time.Since(start)
		switch {
		case ready == len(all):
			return nil
		case ready == 0 && failing > 0 && elapsed >= unreachableAfter:
			return fmt.Errorf("%w: %s is unreachable: %s", ErrTarget, r.targetName(), r.probeTarget())
		case elapsed >= connectWait:
			return nil
		}
	}
	return nil
}

// authority is the :authority clients present to an address or command
// target: its own address, not the link's internal dial name ("" for the
// builtin target).
func (r *run) authority() string {
	switch {
	case r.cmd != nil:
		return r.cmd.Addr()
	case r.p.target == TargetAddress:
		return r.p.Address()
	}
	return ""
}

// targetName names the target in errors and events.
func (r *run) targetName() string {
	if a := r.p.Address(); a != "" {
		return "target " + a
	}
	if r.cmd != nil {
		return "the target process at " + r.cmd.Addr()
	}
	return "the builtin target"
}

// probeTarget says why the target cannot be reached, from one bounded TCP
// dial of an address target (gRPC keeps its connection errors to itself).
func (r *run) probeTarget() string {
	a := r.p.Address()
	if r.cmd != nil {
		a = r.cmd.Addr()
	}
	if a == "" {
		return "no connection became ready"
	}
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		return err.Error()
	}
	c.Close()
	if why := r.p.tr.why(a); why != "" {
		return why
	}
	if r.p.TLS() {
		return "it accepts TCP connections and TLS handshakes but no gRPC connection became ready (not a gRPC server?)"
	}
	return "it accepts TCP connections but no gRPC connection became ready (not a gRPC server, or TLS expected: target.tls instead of insecure?)"
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

// front puts the plan's link in front of a target listening at addr.
func (r *run) front(addr string) error {
	toxiproxy := ""
	if t := r.sc.Link.Toxiproxy; t != nil {
		toxiproxy = t.Address
	}
	l, err := link.Front(r.p.link, addr, toxiproxy)
	if err != nil {
		return fmt.Errorf("%w: link: %w", ErrTarget, err)
	}
	r.link, r.dial = l, l.Target()
	return nil
}

// startCommand starts a command target and waits until it serves; a
// target that exits by itself later is an event and a harness error.
func (r *run) startCommand() error {
	home := ""
	if r.sc.File != "" {
		home = filepath.Dir(r.sc.File)
	}
	c, err := newCommandTarget(r.sc.Target, home, r.cfg.artifacts, r.p.tr.creds)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTarget, err)
	}
	c.crashed = func(status string, tail []string) {
		r.events.add("target_exit", "", status)
		r.crashMu.Lock()
		defer r.crashMu.Unlock()
		r.crash = fmt.Errorf("%w: the target process (%s) exited by itself at %.1fs (%s); its last output:\n%s",
			ErrTarget, strings.Join(c.spec.Argv, " "), r.cfg.now().Sub(r.start).Seconds(), status, strings.Join(tail, "\n"))
	}
	r.cmd = c
	if err := c.start(); err != nil {
		return fmt.Errorf("%w: %w", ErrTarget, err)
	}
	return r.front(c.Addr())
}

func (r *run) startBuiltin() error {
	var l link.Link
	var err error
	if t := r.sc.Link.Toxiproxy; t != nil && t.Address != "" {
		l, err = link.NewToxiproxy(t.Address)
	} else {
		l, err = link.New(r.p.link)
	}
	if err != nil {
		return fmt.Errorf("%w: link: %w", ErrTarget, err)
	}
	r.link = l
	// Every builtin server gets the stream-layer interceptor: it injects
	// stream faults and counts how handlers end (the server side of eof).
	r.streams = fault.NewStreams(r.seed)
	r.target = newBuiltin(r.sc.Target.Builtin, r.streams.Interceptor(), r.cfg.variant)
	lis, err := l.Listen()
	if err != nil {
		return fmt.Errorf("%w: builtin target: %w", ErrTarget, err)
	}
	if err := r.target.Serve(lis); err != nil {
		lis.Close()
		return fmt.Errorf("%w: builtin target: %w", ErrTarget, err)
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
	if at := r.cfg.startAt; !at.IsZero() {
		clock.Sleep(ctx, time.Until(at))
	}
	r.start = r.cfg.now()
	if at := r.cfg.startAt; !at.IsZero() {
		r.skew = r.start.Sub(at)
	}
	r.events = events{start: r.start, now: r.cfg.now}
	for _, g := range r.groups {
		g.stopper = driver.NewStopper(stop, stopWaves(len(g.conns)))
		defer g.stopper.Close()
		cs := make([]*client, len(g.share.clients))
		for i, j := range g.share.clients {
			// Ids are global, so shards of one run never share one.
			cs[i] = r.newClient(g, j, g.share.firstID+int32(j)+1)
		}
		r.startGroup(g, cs, hard, stop, &clients)
	}
	waitFaults := r.startTimeline(stop)
	watchDone := make(chan struct{})
	waitWatch := r.watchTarget(watchDone)

	r.sat = saturation{cpu: r.cfg.cpuTime, procs: runtime.GOMAXPROCS(0)}
	r.sat.start(r.cfg.now())
	samplerDone := make(chan struct{})
	samplerStop := make(chan struct{})
	go func() {
		defer close(samplerDone)
		r.sample(samplerStop, stop)
	}()

	// Phase 1: run for the duration, or until interrupted.
	if !clock.Sleep(ctx, r.duration) {
		r.interrupted = true
	}
	r.noteResources() // the peak is usually now, with every stream open
	if r.cfg.onStop != nil {
		r.cfg.onStop()
	}
	closeStop()
	r.stopped = r.cfg.now()
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
	close(watchDone)
	waitWatch()
	close(samplerStop)
	<-samplerDone
	r.resMu.Lock()
	r.resources.CPUBusySeconds = r.sat.busy
	r.resMu.Unlock()
	if w := r.sat.warning(); w != "" {
		r.warnings = append(r.warnings, w)
	}
	if err := r.targetDown(); err != nil {
		r.errs = append(r.errs, err)
	}

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
	r.closeCommand() // when the leak check did not (a dead process)
	if r.cmd != nil {
		r.crashMu.Lock()
		if r.crash != nil {
			r.errs = append(r.errs, r.crash)
		}
		r.crashMu.Unlock()
	}
}

// closeConns closes every ClientConn, unless a planted bug makes the
// client leak them (then checkLeaks closes them after looking).
func (r *run) closeConns() {
	if r.cfg.variant != nil && r.cfg.variant.LeakConns {
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
	if r.cmd != nil {
		// A command target's process and the link in front of it stay
		// until the leak check has taken the process's own evidence; it
		// then stops the process, and only then closes the link
		// (closeCommand): toxiproxy strands its pipes when the upstream is
		// still sending as it closes.
		return
	}
	defer r.closeLink()
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

// closeLink closes the link (after the clients and the target).
func (r *run) closeLink() {
	if r.link != nil {
		if err := r.link.Close(); err != nil {
			r.errs = append(r.errs, fmt.Errorf("link: close: %w", err))
		}
		r.link = nil
	}
}

// closeCommand stops a command target's process, then the link in front
// of it. Idempotent.
func (r *run) closeCommand() {
	if r.cmd != nil && r.proc == nil {
		r.proc = r.cmd.Close()
	}
	r.closeLink()
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
			r.sat.sample(r.cfg.now(), stop.Err() == nil)
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
			MaxSeq:   w.MaxSeq,
		}
		for k, n := range w.Ends {
			if d := n - g.lastEnds[k]; d > 0 {
				if win.Ends == nil {
					win.Ends = map[string]uint64{}
				}
				win.Ends[k] = d
			}
		}
		win.Latency = windowHistogram(w.Latency)
		win.LatencyCorrected = windowHistogram(w.Corrected)
		r.windows = append(r.windows, win)
		g.last, g.lastEnds = c, w.Ends
	}
}

// windowHistogram is h as a report's window carries it: nil when empty.
func windowHistogram(h *hdrhistogram.Histogram) *reports.Histogram {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	out, err := reports.FromHDR(h, 0)
	if err != nil {
		return nil
	}
	return &out
}

func (r *run) emit(phase string) {
	if r.cfg.progress == nil {
		return
	}
	p := Progress{Elapsed: r.cfg.now().Sub(r.start), Duration: r.duration, Phase: phase}
	last, span := r.lastWindows()
	p.Window = time.Duration(span * float64(time.Second))
	for _, g := range r.groups {
		c := g.rec.Counters()
		gp := GroupProgress{
			Name: g.spec.Name, Active: c.Started - c.Ended,
			Opened: c.Started, Failed: c.Failed, Received: c.Received,
		}
		if w, ok := last[g.spec.Name]; ok && span > 0 {
			gp.Rate = float64(w.Received) / span
			if w.Latency != nil {
				gp.P99 = time.Duration(w.Latency.P99MS * float64(time.Millisecond))
			}
		}
		p.Groups = append(p.Groups, gp)
	}
	p.Faults = r.live.update(r.events.from(r.live.seen), p.Elapsed, r.instantFault)
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
	res.PeakStackBytes = max(res.PeakStackBytes, ms.StackInuse)
	res.PeakStreams = max(res.PeakStreams, open)
}
