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
	"github.com/streambench/streambench/reports"
)

// lateAfter is how far behind its slot a stream may start before it counts
// as late.
const lateAfter = 10 * time.Millisecond

// openLoop is an open-loop group's accounting: streams are due on the
// arrival schedule whatever the target does; a slot that finds every client
// busy is dropped, one picked up after its time is late. Nothing is hidden:
// every slot is counted.
type openLoop struct {
	scheduled, started, dropped, late atomic.Uint64

	mu    sync.Mutex
	delay *hdrhistogram.Histogram // start delay behind the slot, µs
}

func newOpenLoop() *openLoop { return &openLoop{delay: record.NewHistogram()} }

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
	a := &reports.Arrival{
		Scheduled:  o.scheduled.Load(),
		Started:    o.started.Load(),
		Dropped:    o.dropped.Load(),
		Late:       o.late.Load(),
		StartDelay: h,
	}
	a.Unstarted = a.Scheduled - min(a.Scheduled, a.Started+a.Dropped)
	return a, err
}

// startGroup starts a group's clients: closed loop (each client its own
// loop, ramped by the group's stages) or open loop (a scheduler hands slots
// to the clients).
func (r *run) startGroup(g *group, cs []*client, hard, stop context.Context, wg *sync.WaitGroup) {
	if g.spec.Arrival == nil {
		whole := r.duration - min(g.spec.Start.D(), r.duration)
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
	g.open = newOpenLoop()
	slots := make(chan time.Time, len(cs))
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serve(hard, stop, slots, g.open)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(slots)
		offset := g.spec.Start.D()
		arrivals := load.NewArrivals(*g.spec.Arrival, r.duration-min(offset, r.duration))
		for {
			off, ok := arrivals.Next()
			if !ok {
				return
			}
			at := r.start.Add(offset + off)
			if d := time.Until(at); d > 0 && !wait(hard, stop, d) {
				return
			}
			g.open.scheduled.Add(1)
			select {
			case slots <- at:
			default:
				g.open.dropped.Add(1) // every client busy and the queue full
			}
		}
	}()
}

// serve is an open-loop client: it runs one stream per slot it takes, each
// measured from its slot (driver.WithIntended), until the slots run out or
// the run stops.
func (c *client) serve(ctx, stop context.Context, slots <-chan time.Time, o *openLoop) {
	ctx = c.withMetadata(ctx)
	for {
		select {
		case at, ok := <-slots:
			if !ok {
				return
			}
			if stop.Err() != nil {
				return
			}
			o.startedAt(time.Since(at))
			c.d.Stream(driver.WithIntended(c.streamContext(ctx), at), stop)
		case <-stop.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}
