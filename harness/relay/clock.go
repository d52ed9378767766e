package relay

import (
	"sync/atomic"
	"time"
)

// rearmParts is how finely the write deadline follows the time: the
// coarse clock ticks, and a deadline is re-armed, every
// WriteTimeout/rearmParts.
const rearmParts = 16

// coarseClock is the time in unix nanoseconds, advanced by a ticker: a
// read costs an atomic load instead of a clock read.
type coarseClock struct{ ns atomic.Int64 }

// now is the clock's time, at most one tick behind the real time.
func (c *coarseClock) now() int64 { return c.ns.Load() }

// run advances the clock every tick until done closes.
func (c *coarseClock) run(tick time.Duration, done <-chan struct{}) {
	t := time.NewTicker(max(tick, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			c.ns.Store(now.UnixNano())
		}
	}
}
