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
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/clock"
	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/reports"
)

// ErrStuck is wrapped by Run's error when teardown did not finish within
// its deadline.
var ErrStuck = errors.New("run did not stop in time")

// ErrTarget is wrapped by Run's error when the target could not be started
// or reached: the run measured nothing.
var ErrTarget = errors.New("target unavailable")

// Run resolves sc with the plan options among opts (see NewPlan) and runs
// it with the run options: RunPlan(ctx, plan, runOpts...). A scenario or
// override that does not validate is a scenario.Errors and no run.
func Run(ctx context.Context, sc *scenario.Scenario, opts ...Option) (*reports.Report, error) {
	planOpts, runOpts := split(opts)
	p, err := NewPlan(sc, planOpts...)
	if err != nil {
		return nil, err
	}
	return RunPlan(ctx, p, runOpts...)
}

// RunPlan executes p and returns its report. Cancelling ctx interrupts the
// run: clients stop opening streams, streams in flight drain (bounded by
// the graceful stop) and the partial report comes back with Interrupted
// set. Each call makes and starts its own target (the plan's kind).
//
// RunPlan returns an error only when the run could not produce a
// trustworthy report: a target that could not be reached or started
// (ErrTarget), a fault that could not be injected, or a teardown that
// exceeded its deadline (ErrStuck). The report is returned whenever one
// exists, even together with an error.
func RunPlan(ctx context.Context, p *Plan, opts ...RunOption) (*reports.Report, error) {
	if p == nil {
		return nil, scenario.Errors{{Msg: "no plan"}}
	}
	t, err := p.kind.New(target.Spec{Scenario: p.sc, Override: p.sc.OverrideNote("target")})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTarget, err)
	}
	cfg := runConfigOf(opts)
	r := &run{cfg: cfg, p: p, sc: p.sc, duration: p.Duration(), grace: p.GracefulStop(), seed: p.seed}
	r.target, r.specs, r.leakOpts = t, p.specs, p.leaks
	// The leak check compares the end of the run with this moment.
	r.base = leak.TakeBaseline()
	if err := r.setup(); err != nil {
		r.closeConnsNow()
		r.stopTarget()
		r.release()
		return nil, err
	}
	r.execute(ctx)
	rep := r.report(p.checks)
	if len(r.errs) > 0 {
		return rep, errors.Join(r.errs...)
	}
	return rep, nil
}

// run is one execution of a plan. Each phase owns its part, in its own
// file: wiring (setup.go: the target, the link, the groups' connections,
// and their teardown), driving (this file: the clock of the run and its
// stop), the fault timeline (chaos.go), sampling (sample.go: windows,
// resources, progress) and the outcome (report.go, leaks.go, watch.go).
// The plan is every phase's only shared input; errs is the run's, which
// every phase may add to.
type run struct {
	cfg      runConfig
	p        *Plan
	sc       *scenario.Scenario // the plan's effective scenario: read only
	duration time.Duration
	grace    time.Duration
	seed     int64
	errs     []error

	wiring
	driving
	timeline
	sampling
	outcome
}

// driving is the run's clock: set by execute.
type driving struct {
	start time.Time
	end   time.Time
	// stopAt is when the stop was given (clients began to drain).
	stopAt      time.Time
	interrupted bool
	skew        time.Duration // start minus the start barrier
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
	// last, lastEnds and lastDropped are the cumulative figures at the
	// previous window; merged is the window the sampler merges into, its
	// histograms reused from window to window.
	last record.Counters
	// atStop is the group's counters at the stop: what came after is the
	// drain's (reports.MessageCounts.DrainReceived), not the load's.
	atStop      record.Counters
	stopped     bool // atStop was taken
	lastEnds    map[string]uint64
	lastDropped int
	merged      record.Window
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
	groups := make([][]*client, len(r.groups))
	for k, g := range r.groups {
		g.stopper = driver.NewStopper(stop, stopWaves(len(g.conns)))
		defer g.stopper.Close()
		cs := make([]*client, len(g.share.clients))
		for i, j := range g.share.clients {
			// Ids are global, so shards of one run never share one.
			cs[i] = r.newClient(g, j, g.share.firstID+int32(j)+1)
		}
		r.prepareGroup(g, len(cs))
		groups[k] = cs
	}

	// The windows are cut from the start, before any client runs: a
	// cutter started behind 100,000 new goroutines waits its turn behind
	// them (sample.go).
	r.sat = saturation{cpu: r.cfg.cpuTime, wait: r.cfg.cpuWait, procs: runtime.GOMAXPROCS(0)}
	r.sat.start(r.cfg.now())
	r.gen = newGenMeter(r.cfg.now)
	r.gen.start()
	defer r.gen.close()
	samplerDone := make(chan struct{})
	samplerStop := make(chan struct{})
	cuts, free := make(chan *cutBatch, 16), make(chan *cutBatch, 16)
	go r.cutter(samplerStop, stop.Done(), cuts, free)
	go func() {
		defer close(samplerDone)
		r.sample(cuts, free, stop)
	}()

	for k, g := range r.groups {
		r.startGroup(g, groups[k], hard, stop, &clients)
	}
	waitFaults := r.startTimeline(stop)
	watchDone := make(chan struct{})
	waitWatch := r.watchTarget(watchDone)

	// Phase 1: run for the duration, or until interrupted.
	if !clock.Sleep(ctx, r.duration) {
		r.interrupted = true
	}
	r.noteResources() // the peak is usually now, with every stream open
	if r.cfg.onStop != nil {
		r.cfg.onStop()
	}
	for _, g := range r.groups {
		g.atStop, g.stopped = g.rec.Counters(), true
	}
	closeStop()
	r.stopAt = r.cfg.now()
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
	r.gen.close()
	r.resMu.Lock()
	r.resources.CPUBusySeconds = r.sat.busy
	r.resources.CPUStarvedSeconds = r.sat.starved
	r.resMu.Unlock()
	if w := r.sat.warning(); w != "" {
		r.warnings = append(r.warnings, w)
	}
	if w := genWarning(r.genWindows, r.windows, r.duration.Seconds()); w != "" {
		r.warnings = append(r.warnings, w)
	}
	if err := r.targetDown(); err != nil {
		r.errs = append(r.errs, err)
	}

	// Teardown in the order the link needs: faults off, clients closed,
	// server stopped, link closed (toxiproxy leaks a latency pipe
	// otherwise). A target in this process is stopped before the leak
	// check; any other after the check has taken its own evidence.
	if r.link != nil {
		if err := r.link.Quiesce(); err != nil {
			r.errs = append(r.errs, fmt.Errorf("link: revert faults: %w", err))
		}
	}
	r.closeConns()
	if _, ok := r.target.(target.Resident); ok {
		r.stopTarget()
	}
	r.snapshot()
	r.checkLeaks()
	r.stopTarget() // when the leak check did not (a target that died)
	r.crashMu.Lock()
	if r.crash != nil {
		r.errs = append(r.errs, r.crash)
	}
	r.crashMu.Unlock()
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
