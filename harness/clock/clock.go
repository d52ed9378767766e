// Package clock injects time: the real clock in runs, a fake one in unit
// tests so they never sleep and replay exactly.
package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and wakes waiters.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Real is the system clock.
type Real struct{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// After implements Clock. The timer is garbage once it fires or is dropped
// (Go 1.23+ timers need no Stop to be collected).
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Fake is a manual clock: time moves only when Advance is called.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now implements Clock.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After implements Clock.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := f.now.Add(d)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: at, ch: ch})
	return ch
}

// Advance moves the clock forward by d, waking every waiter due by then in
// time order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	now := f.now
	sort.SliceStable(f.waiters, func(i, j int) bool { return f.waiters[i].at.Before(f.waiters[j].at) })
	kept := f.waiters[:0]
	var due []waiter
	for _, w := range f.waiters {
		if !w.at.After(now) {
			due = append(due, w)
		} else {
			kept = append(kept, w)
		}
	}
	f.waiters = kept
	f.mu.Unlock()
	for _, w := range due {
		w.ch <- w.at
	}
}

// Waiters reports how many After channels are pending (tests use it to
// know a goroutine is parked before advancing).
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Sleep waits d unless ctx ends first. It reports whether it slept the
// whole d: false when ctx ended before it (or had already ended). A
// d <= 0 has nothing to wait for and returns true at once. It is the one "sleep unless cancelled" of the
// project; a loop that resets one timer per message keeps its own.
func Sleep(ctx context.Context, d time.Duration) bool {
	return SleepOr(ctx.Done(), nil, d)
}

// SleepOr waits d unless stop or also closes first, and reports whether it
// slept the whole d (false: a channel closed first). It is Sleep for a
// wait that two things end: a run's context and its stop signal
// (ctx.Done(), stop.Done()), a connection's close and its link's. A nil
// channel never ends the wait. A d <= 0 returns true at once.
func SleepOr(stop, also <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	select { // already ended: do not race a ready timer
	case <-stop:
		return false
	case <-also:
		return false
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-also:
		return false
	}
}

// SleepOn is Sleep on clock c (a Fake in tests): it waits d on c unless
// ctx ends first, and reports whether it slept the whole d. A d <= 0
// returns true at once.
func SleepOn(ctx context.Context, c Clock, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	select {
	case <-c.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
