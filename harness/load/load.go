// Package load paces work: when each stream of an open-loop group is due
// (an arrival schedule, constant or ramping) and which client takes it, and
// when each client of a closed-loop group with stages is active. All are
// functions of the scenario and of the offsets their callers pass, so a
// run's schedule is the same every time.
package load

import (
	"math"
	"sync"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// segment is one piece of a piecewise-linear rate: from r0 to r1 per
// second over d, starting at offset start with n0 arrivals already due.
type segment struct {
	start, d time.Duration
	r0, r1   float64
	n0       float64
}

// Arrivals yields the offsets at which an open-loop group's streams are
// due: the n-th arrival (from 0) is at the time t where the integral of the
// rate from 0 to t reaches n.
type Arrivals struct {
	segs     []segment
	duration time.Duration
	n        int
}

// NewArrivals lays out a's schedule within a run of the given duration:
// from a.Rate, each stage ramps linearly to its target over its duration;
// after the last stage the rate holds.
func NewArrivals(a scenario.Arrival, duration time.Duration) *Arrivals {
	out := &Arrivals{duration: duration}
	rate := a.Rate.PerSecond()
	var at time.Duration
	var n float64
	for _, st := range a.Stages {
		d := st.Duration.D()
		r1 := st.Target.PerSecond()
		out.segs = append(out.segs, segment{start: at, d: d, r0: rate, r1: r1, n0: n})
		n += (rate + r1) / 2 * d.Seconds()
		at += d
		rate = r1
	}
	if at < duration { // hold the last rate to the end
		out.segs = append(out.segs, segment{start: at, d: duration - at, r0: rate, r1: rate, n0: n})
	}
	return out
}

// Next returns the offset of the next arrival, or false when none is due
// before the end of the run.
func (a *Arrivals) Next() (time.Duration, bool) {
	off, ok := a.At(a.n)
	if ok {
		a.n++
	}
	return off, ok
}

// At returns the offset of arrival n (from 0), or false when it is not due
// before the end of the run.
func (a *Arrivals) At(n int) (time.Duration, bool) {
	target := float64(n)
	for _, s := range a.segs {
		end := s.n0 + (s.r0+s.r1)/2*s.d.Seconds()
		if target >= end && !(target == s.n0 && s.d == 0) {
			continue
		}
		tau, ok := solve(s, target-s.n0)
		if !ok {
			continue
		}
		off := s.start + tau
		if off >= a.duration {
			return 0, false
		}
		return off, true
	}
	return 0, false
}

// Due returns how many arrivals are due by t (offset <= t): the n for
// which At(0..n-1) are at or before t and At(n) is after it or absent.
func (a *Arrivals) Due(t time.Duration) int {
	if t < 0 {
		return 0
	}
	n := int(math.Floor(a.integral(t))) + 1 // a first guess from the rate's integral
	for n > 0 {
		if off, ok := a.At(n - 1); ok && off <= t {
			break
		}
		n--
	}
	for {
		off, ok := a.At(n)
		if !ok || off > t {
			return n
		}
		n++
	}
}

// integral returns how many arrivals the rate accumulates from 0 to t.
func (a *Arrivals) integral(t time.Duration) float64 {
	var last float64
	for _, s := range a.segs {
		if t < s.start {
			break
		}
		tau := min(t-s.start, s.d).Seconds()
		d := s.d.Seconds()
		last = s.n0 + s.r0*tau
		if d > 0 {
			last += (s.r1 - s.r0) * tau * tau / (2 * d)
		}
	}
	return last
}

// Unbounded is a Dispatcher queue with no bound: no slot is ever dropped,
// every one waits for a free client (wrk2's model).
const Unbounded = -1

// Dispatcher hands an open-loop group's slots to its clients. A free client
// claims the next slot (Take) and starts its stream at the slot's time, or
// at once when the slot is already past. Slots come due whether or not a
// client is free: when more than queue of them are due and unclaimed, the
// oldest are dropped, so the queue holds the newest. It is safe for
// concurrent use; its only clock is the offset its callers pass.
type Dispatcher struct {
	mu      sync.Mutex
	a       *Arrivals
	queue   int
	next    int // the first slot not yet claimed or dropped
	dropped int
}

// NewDispatcher returns a dispatcher of a's slots, letting at most queue
// due slots wait for a client (Unbounded: all of them).
func NewDispatcher(a *Arrivals, queue int) *Dispatcher {
	return &Dispatcher{a: a, queue: queue}
}

// Take claims the next slot for a client free at offset now and returns its
// offset (in the future when the client is early), after dropping the due
// slots beyond the queue's bound; false when no slot is left in the run.
func (d *Dispatcher) Take(now time.Duration) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drop(now)
	off, ok := d.a.At(d.next)
	if ok {
		d.next++
	}
	return off, ok
}

// drop drops the oldest unclaimed slots beyond the queue's bound among
// those whose time has passed (a client free at a slot's very time takes
// it).
func (d *Dispatcher) drop(now time.Duration) {
	if d.queue == Unbounded {
		return
	}
	if waiting := d.a.Due(now-1) - d.next; waiting > d.queue {
		d.dropped += waiting - d.queue
		d.next += waiting - d.queue
	}
}

// Tally returns, at offset now, how many slots have come due (scheduled)
// and how many of them were dropped, counting the drops due by now that no
// client has come to take yet.
func (d *Dispatcher) Tally(now time.Duration) (scheduled, dropped int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drop(now)
	return d.a.Due(now), d.dropped
}

// solve finds tau in [0, d] with r0*tau + (r1-r0)*tau^2/(2d) = k.
func solve(s segment, k float64) (time.Duration, bool) {
	d := s.d.Seconds()
	if d <= 0 {
		return 0, false
	}
	acc := (s.r1 - s.r0) / (2 * d)
	var tau float64
	if math.Abs(acc) < 1e-12 {
		if s.r0 <= 0 {
			return 0, false
		}
		tau = k / s.r0
	} else {
		disc := s.r0*s.r0 + 4*acc*k
		if disc < 0 {
			return 0, false
		}
		tau = (-s.r0 + math.Sqrt(disc)) / (2 * acc)
	}
	if tau < 0 || tau > d+1e-9 {
		return 0, false
	}
	return time.Duration(tau * float64(time.Second)), true
}

// Interval is a span of a run during which a client is active.
type Interval struct {
	From, To time.Duration
}

// step is the resolution at which closed-loop stages are followed.
const step = 10 * time.Millisecond

// Active returns, for each of clients clients, the intervals during which
// it is active under stages: the target count ramps linearly from 0 through
// each stage's target and holds the last; client i is active while the
// target exceeds i. Without stages every client is active for the whole
// run.
func Active(stages []scenario.ClientStage, clients int, duration time.Duration) [][]Interval {
	out := make([][]Interval, clients)
	if len(stages) == 0 {
		for i := range out {
			out[i] = []Interval{{0, duration}}
		}
		return out
	}
	target := func(t time.Duration) float64 {
		var at time.Duration
		prev := 0.0
		for _, st := range stages {
			d := st.Duration.D()
			if t < at+d {
				frac := float64(t-at) / float64(d)
				return prev + (float64(st.Target)-prev)*frac
			}
			at += d
			prev = float64(st.Target)
		}
		return prev
	}
	open := make([]time.Duration, clients)
	for i := range open {
		open[i] = -1
	}
	for t := time.Duration(0); t <= duration; t += step {
		active := target(t)
		for i := 0; i < clients; i++ {
			on := float64(i) < active && t < duration
			switch {
			case on && open[i] < 0:
				open[i] = t
			case !on && open[i] >= 0:
				out[i] = append(out[i], Interval{open[i], t})
				open[i] = -1
			}
		}
	}
	for i := range open {
		if open[i] >= 0 {
			out[i] = append(out[i], Interval{open[i], duration})
		}
	}
	return out
}
