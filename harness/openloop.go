package harness

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/load"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// lateAfter is how far behind its slot a stream may start before it counts
// as late.
const lateAfter = 10 * time.Millisecond

// openLoop is an open-loop group's accounting: streams are due on the
// arrival schedule whatever the target does; a free client claims the next
// slot (load.Dispatcher), and due slots beyond the queue's bound are
// dropped, one started after its time is late. Nothing is hidden: every
// slot is counted.
type openLoop struct {
	slots *load.Dispatcher
	// base is when the schedule's offset 0 is; end is the schedule's
	// length (the group's share of the run).
	base time.Time
	end  time.Duration
	now  func() time.Time

	started, late atomic.Uint64

	mu    sync.Mutex
	delay *hdrhistogram.Histogram // start delay behind the slot, µs
}

func newOpenLoop(a scenario.Arrival, clients int, base time.Time, end time.Duration, now func() time.Time) *openLoop {
	queue := clients
	if a.Queue != nil {
		queue = int(*a.Queue) // scenario.QueueUnbounded is load.Unbounded
	}
	return &openLoop{
		slots: load.NewDispatcher(load.NewArrivals(a, end), queue),
		base:  base, end: end, now: now,
		delay: record.NewHistogram(),
	}
}

// offset is how far into the schedule the run is.
func (o *openLoop) offset() time.Duration { return o.now().Sub(o.base) }

func (o *openLoop) startedAt(behind time.Duration) {
	o.started.Add(1)
	if behind > lateAfter {
		o.late.Add(1)
	}
	v := max(int64(behind/time.Microsecond), record.LowestUS)
	o.mu.Lock()
	_ = o.delay.RecordValue(min(v, record.HighestUS))
	o.mu.Unlock()
}

func (o *openLoop) report() (*reports.Arrival, error) {
	o.mu.Lock()
	h, err := reports.FromHDR(o.delay, 0)
	o.mu.Unlock()
	scheduled, dropped := o.slots.Tally(min(o.offset(), o.end))
	a := &reports.Arrival{
		Scheduled:  uint64(scheduled),
		Started:    o.started.Load(),
		Dropped:    uint64(dropped),
		Late:       o.late.Load(),
		StartDelay: h,
	}
	a.Unstarted = a.Scheduled - min(a.Scheduled, a.Started+a.Dropped)
	return a, err
}

// startGroup starts a group's clients: closed loop (each client its own
// loop, ramped by the group's stages) or open loop (each client claims the
// schedule's next slot whenever it is free).
// prepareGroup makes g's open-loop accounting, for a group with an
// arrival rate, before any of its n clients starts (the sampler reads it
// from the run's start).
func (r *run) prepareGroup(g *group, n int) {
	if g.spec.Arrival == nil {
		return
	}
	offset := min(g.spec.Start.D(), r.duration)
	g.open = newOpenLoop(*g.spec.Arrival, n, r.start.Add(offset), r.duration-offset, r.cfg.now)
}

func (r *run) startGroup(g *group, cs []*client, hard, stop context.Context, wg *sync.WaitGroup) {
	offset := min(g.spec.Start.D(), r.duration)
	whole := r.duration - offset
	if g.spec.Arrival == nil {
		spans := load.Active(g.spec.Stages, len(cs), whole)
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.runIntervals(hard, stop, r.start, spans[i], whole)
			}()
		}
		return
	}
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serve(hard, stop, g.open)
		}()
	}
}

// serve is an open-loop client: while slots are left it claims the next
// one, waits for its time if it is early, and runs one stream measured from
// the slot (driver.WithIntended), until the run stops.
func (c *client) serve(ctx, stop context.Context, o *openLoop) {
	ctx = c.withMetadata(ctx)
	for stop.Err() == nil && ctx.Err() == nil {
		off, ok := o.slots.Take(o.offset())
		if !ok {
			return
		}
		at := o.base.Add(off)
		if d := at.Sub(o.now()); d > 0 && !wait(ctx, stop, d) || stop.Err() != nil {
			return // the claimed slot counts as unstarted
		}
		o.startedAt(o.now().Sub(at))
		c.d.Stream(driver.WithIntended(c.streamContext(ctx), at), stop)
	}
}
