package harness

import (
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/connectivity"

	"github.com/streambench/streambench/harness/target"
)

// Watching an address target: streambench does not own its process, so it
// learns that the target died from the connections.
const (
	// watchEvery is how often the watcher looks at the connections.
	watchEvery = 200 * time.Millisecond
	// downAfter is how long no connection may be ready before the watcher
	// dials the target itself to tell a dead target from a link fault.
	downAfter = time.Second
)

// targetWatch is what the watcher found.
type targetWatch struct {
	mu     sync.Mutex
	downAt time.Duration // offset of the first time the target was down (0: never)
	why    string
	up     bool // it answered again after being down
}

// watchTarget watches a Watched target until done closes: when none of
// the run's connections has been ready for downAfter and a direct TCP dial
// to the address (past the link, so a link fault does not count) fails,
// the target is down: a target_down event now, and a harness error at the
// end naming it, when, why and how many streams failed after it. It
// returns a wait for its goroutine.
func (r *run) watchTarget(done <-chan struct{}) (wait func()) {
	w, ok := r.target.(target.Watched)
	if !ok {
		return func() {}
	}
	addr := w.WatchAddr()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(watchEvery)
		defer tick.Stop()
		var since time.Time
		down := false
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if r.anyReady() {
				since = time.Time{}
				if down {
					down = false
					r.watch.mu.Lock()
					r.watch.up = true
					r.watch.mu.Unlock()
					r.events.add("target_up", "", "a connection is ready again")
				}
				continue
			}
			if since.IsZero() {
				since = time.Now()
			}
			if down || time.Since(since) < downAfter {
				continue
			}
			c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
			if err == nil {
				c.Close()
				continue
			}
			down = true
			// The target is dated from when its connections went, not
			// from when the watcher was sure.
			r.events.addAt(since, "target_down", "", err.Error())
			r.watch.mu.Lock()
			if r.watch.downAt == 0 {
				r.watch.downAt, r.watch.why = max(since.Sub(r.start), time.Nanosecond), err.Error()
			}
			r.watch.mu.Unlock()
		}
	}()
	return func() { <-finished }
}

// anyReady reports whether any of the run's connections is ready.
func (r *run) anyReady() bool {
	for _, g := range r.groups {
		for _, cc := range g.conns {
			if cc.GetState() == connectivity.Ready {
				return true
			}
		}
	}
	return false
}

// targetDown is the harness error of a target the watcher found down, nil
// when it never was. Call it after the windows are complete.
func (r *run) targetDown() error {
	r.watch.mu.Lock()
	at, why, up := r.watch.downAt, r.watch.why, r.watch.up
	r.watch.mu.Unlock()
	if at == 0 {
		return nil
	}
	var failed uint64
	for _, w := range r.windows {
		if w.Offset >= at.Seconds() {
			failed += w.Failed
		}
	}
	again := "and did not come back"
	if up {
		again = "(it answered again later)"
	}
	return fmt.Errorf("%w: %s stopped answering at %.1fs (%s) %s; %d streams failed from then on",
		ErrTarget, r.target.Name(), at.Seconds(), why, again, failed)
}

// targetIsDown reports whether the watcher last saw the target down.
func (r *run) targetIsDown() bool {
	r.watch.mu.Lock()
	defer r.watch.mu.Unlock()
	return r.watch.downAt != 0 && !r.watch.up
}
