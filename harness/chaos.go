package harness

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/streambench/streambench/harness/clock"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/reports"
)

// timeline is the run's fault timeline and its log of events.
type timeline struct {
	specs   []*fault.Spec
	events  events
	applied []fault.Applied
}

// events is the run's timeline log, safe for concurrent use.
type events struct {
	mu    sync.Mutex
	start time.Time
	now   func() time.Time
	list  []reports.Event
}

func (e *events) add(kind, fault, detail string) { e.addAt(e.now(), kind, fault, detail) }

// addAt records an event that happened at t (before now), keeping the list
// in time order.
func (e *events) addAt(t time.Time, kind, fault, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ev := reports.Event{Offset: t.Sub(e.start).Seconds(), Kind: kind, Fault: fault, Detail: detail}
	i := len(e.list)
	for i > 0 && e.list[i-1].Offset > ev.Offset {
		i--
	}
	e.list = slices.Insert(e.list, i, ev)
}

// from returns the events added after the first i.
func (e *events) from(i int) []reports.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i >= len(e.list) {
		return nil
	}
	return append([]reports.Event(nil), e.list[i:]...)
}

func (e *events) all() []reports.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]reports.Event(nil), e.list...)
}

// chaosEnv is the fault timeline's view of the run (fault.Env).
type chaosEnv struct{ r *run }

func (e chaosEnv) Network(o fault.Occurrence, conns []fault.Member) (func() error, error) {
	f := o.Spec.Net(e.r.seed, o.Rep)
	hit := make(map[link.Label]bool, len(conns))
	for _, m := range conns {
		hit[link.Label{Group: m.Group, Conn: m.ID}] = true
	}
	return e.r.link.Apply(f, func(l link.Label) bool { return hit[l] })
}

// Target is the run's target, for the server kinds' capabilities.
func (e chaosEnv) Target() any { return e.r.target }

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
		// Every member of the whole run, so that a shard picks what one
		// process would; what is not this shard's is not here to be hit.
		for i := range g.share.total {
			tl.Clients = append(tl.Clients, fault.Member{Group: g.spec.Name, ID: i})
		}
		for i := range g.share.totalConns {
			tl.Conns = append(tl.Conns, fault.Member{Group: g.spec.Name, ID: i})
		}
	}
	done := make(chan []fault.Applied, 1)
	go func() { done <- tl.Run(ctx, r.start, chaosEnv{r}) }()
	return func() []fault.Applied { return <-done }
}
