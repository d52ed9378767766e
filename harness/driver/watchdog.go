package driver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Watchdog cancels a stream when it has waited for an update for longer
// than idle. The receive loop only stores when it started waiting (a time
// it already has), so the per-update cost is one atomic store; the timer
// fires at most once per idle period and re-arms itself for the remaining
// time when updates kept coming.
type Watchdog struct {
	idle   time.Duration
	epoch  time.Time          // origin of since (monotonic)
	since  atomic.Int64       // waiting since (ns from epoch, +1); 0 = client paused
	cancel context.CancelFunc // cancels the stream
	hit    atomic.Bool

	mu   sync.Mutex // serialises the callback with stop
	done bool
	t    *time.Timer
}

// NewWatchdog arms a watchdog over a stream opened at opened (waiting
// from then on): cancel is called once the stream has waited idle.
func NewWatchdog(idle time.Duration, opened time.Time, cancel context.CancelFunc) *Watchdog {
	w := &Watchdog{idle: idle, epoch: opened, cancel: cancel}
	w.since.Store(1) // waiting since the stream opened
	w.mu.Lock()
	w.t = time.AfterFunc(idle, w.check)
	w.mu.Unlock()
	return w
}

// Waiting notes that the client waits for an update since now.
func (w *Watchdog) Waiting(now time.Time) { w.since.Store(int64(now.Sub(w.epoch)) + 1) }

// Paused notes that the client paused reading on purpose.
func (w *Watchdog) Paused() { w.since.Store(0) }

// Fired reports whether the watchdog cancelled the stream.
func (w *Watchdog) Fired() bool { return w.hit.Load() }

func (w *Watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	next := w.idle
	if since := w.since.Load(); since != 0 {
		waited := time.Since(w.epoch) - time.Duration(since-1)
		if waited >= w.idle {
			w.hit.Store(true)
			w.done = true
			w.cancel()
			return
		}
		next = w.idle - waited
	}
	w.t.Reset(next)
}

// Stop disarms the watchdog; after it returns the callback does nothing.
func (w *Watchdog) Stop() {
	w.mu.Lock()
	w.done = true
	w.t.Stop()
	w.mu.Unlock()
}
