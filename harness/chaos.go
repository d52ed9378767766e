package harness

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/streambench/streambench/harness/clock"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// netKinds are the network fault kinds sc's link can do (none for an
// address target: streambench dials it directly and owns no link).
func netKinds(sc *scenario.Scenario) []string {
	if sc.Target.Address != "" {
		return nil
	}
	return link.KindsOf(sc.Link.Kind)
}

// events is the run's timeline log, safe for concurrent use.
type events struct {
	mu    sync.Mutex
	start time.Time
	now   func() time.Time
	list  []reports.Event
}

func (e *events) add(kind, fault, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, reports.Event{Offset: e.now().Sub(e.start).Seconds(), Kind: kind, Fault: fault, Detail: detail})
}

func (e *events) all() []reports.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]reports.Event(nil), e.list...)
}

// chaosEnv is the fault timeline's view of the run (fault.Env).
type chaosEnv struct{ r *run }

func (e chaosEnv) Network(o fault.Occurrence, conns []fault.Member) (func() error, error) {
	f := netFault(o.Spec, e.r.seed, o.Rep)
	hit := make(map[link.Label]bool, len(conns))
	for _, m := range conns {
		hit[link.Label{Group: m.Group, Conn: m.ID}] = true
	}
	return e.r.link.Apply(f, func(l link.Label) bool { return hit[l] })
}

// netFault is the link fault of a network spec's repetition rep.
func netFault(s *fault.Spec, seed int64, rep int) link.Fault {
	p := s.Params.(*fault.NetParams)
	f := link.Fault{
		Kind:      s.Kind.Name,
		Direction: p.Direction,
		Latency:   p.Latency.D(),
		Jitter:    p.Jitter.D(),
		Rate:      int64(p.Rate),
		Bytes:     int64(p.Bytes),
		Timeout:   p.Timeout.D(),
		Toxicity:  p.Toxicity,
		// Each occurrence its own seed, derived from the scenario's.
		Seed: uint64(seed) ^ uint64(s.Index+1)<<32 ^ uint64(rep+1),
	}
	switch f.Kind {
	case link.Slicer:
		f.SliceAverage, f.SliceVariation, f.SliceDelay = int(p.AverageSize), int(p.SizeVariation), p.Delay.D()
	case link.SlowClose:
		f.Delay = p.Delay.D()
	}
	return f
}

// compileFaults compiles sc's faults and checks each network fault against
// its link (units toxiproxy counts, settings the link accepts), so a fault
// the link would refuse is a scenario error, not a failure mid-run.
func compileFaults(sc *scenario.Scenario) ([]*fault.Spec, error) {
	specs, err := fault.Compile(sc, netKinds(sc))
	if err != nil {
		return nil, err
	}
	var errs scenario.Errors
	for _, s := range specs {
		if s.Kind.Layer != fault.Network {
			continue
		}
		if err := link.CheckFor(sc.Link.Kind, netFault(s, 1, 0)); err != nil {
			path := fmt.Sprintf("faults[%d]", s.Index)
			errs = append(errs, &scenario.Error{File: sc.File, Pos: sc.PosOf(path), Field: path, Msg: err.Error()})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return specs, nil
}

func (e chaosEnv) StopServer(grace time.Duration) bool { return e.r.target.Stop(grace) }

func (e chaosEnv) StartServer() error {
	lis, err := e.r.link.Listen()
	if err != nil {
		return err
	}
	if err := e.r.target.Serve(lis); err != nil {
		lis.Close()
		return err
	}
	return nil
}

func (e chaosEnv) SetMaxConnectionAge(age, grace time.Duration) {
	e.r.target.SetMaxConnectionAge(age, grace)
}

func (e chaosEnv) Event(kind, fault, detail string) { e.r.events.add(kind, fault, detail) }

// startTimeline runs the fault timeline until ctx ends (the end of the
// duration); wait returns what it applied once every fault is reverted.
func (r *run) startTimeline(ctx context.Context) (wait func() []fault.Applied) {
	if len(r.specs) == 0 {
		return func() []fault.Applied { return nil }
	}
	tl := &fault.Timeline{
		Occurrences: fault.Expand(r.specs, r.duration),
		Streams:     r.streams,
		Seed:        r.seed,
		Clock:       clock.Real{},
	}
	for _, g := range r.groups {
		for i := 0; i < g.spec.Clients; i++ {
			tl.Clients = append(tl.Clients, fault.Member{Group: g.spec.Name, ID: i})
		}
		for i := range g.spec.Connections {
			tl.Conns = append(tl.Conns, fault.Member{Group: g.spec.Name, ID: i})
		}
	}
	done := make(chan []fault.Applied, 1)
	go func() { done <- tl.Run(ctx, r.start, chaosEnv{r}) }()
	return func() []fault.Applied { return <-done }
}
