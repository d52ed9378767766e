package fault

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/streambench/streambench/harness/clock"
)

// Env is what a timeline acts on: the link, the run's target and the
// run's event log. The engine implements it.
type Env interface {
	// Network starts network fault o on the picked connections (Member.ID
	// is the connection's index within its group) and returns its revert.
	Network(o Occurrence, conns []Member) (revert func() error, err error)
	// Target is the run's target: a server kind acts on it through the
	// capability interface it needs (Restarter, ConnectionAger, Pauser),
	// which Compile made sure it has.
	Target() any
	// Event records a moment on the run's timeline.
	Event(kind, fault, detail string)
}

// Timeline applies a scenario's faults at their offsets.
type Timeline struct {
	// Occurrences are the expanded fault windows (Expand).
	Occurrences []Occurrence
	// Streams injects stream faults (nil when the target hosts none).
	Streams *Streams
	// Clients and Conns are the candidates of stream and network faults,
	// in a stable order.
	Clients, Conns []Member
	// Seed picks fractions.
	Seed int64
	// Clock paces the timeline (clock.Real{} in runs).
	Clock clock.Clock
}

// Applied is what one occurrence actually did.
type Applied struct {
	Occurrence
	// Scope says what it hit.
	Scope string
	// Began and Ended are the actual offsets of apply and revert (Ended is
	// zero for an occurrence that never started).
	Began, Ended time.Duration
	// Err is why it could not be applied.
	Err error
}

type action struct {
	at     time.Duration
	revert bool
	i      int
}

// Run applies and reverts the occurrences at their offsets from start until
// ctx ends, then reverts whatever is still active (latest first). It returns
// one Applied per occurrence that started, in start order.
func (t *Timeline) Run(ctx context.Context, start time.Time, env Env) []Applied {
	var acts []action
	for i, o := range t.Occurrences {
		acts = append(acts, action{at: o.Start, i: i})
		if !o.Spec.Kind.Instant {
			acts = append(acts, action{at: o.End, revert: true, i: i})
		}
	}
	sort.SliceStable(acts, func(a, b int) bool {
		if acts[a].at != acts[b].at {
			return acts[a].at < acts[b].at
		}
		return acts[a].revert && !acts[b].revert // revert before the next apply
	})
	applied := make([]*Applied, len(t.Occurrences))
	reverts := make([]func() error, len(t.Occurrences))
	var order []int
	offset := func() time.Duration { return t.Clock.Now().Sub(start) }

	revert := func(i int) {
		if reverts[i] == nil {
			return
		}
		o := t.Occurrences[i]
		if err := reverts[i](); err != nil {
			env.Event("fault_error", o.Name(), "revert: "+err.Error())
		}
		reverts[i] = nil
		applied[i].Ended = offset()
		env.Event("fault_end", o.Name(), "")
	}

loop:
	for _, a := range acts {
		if !clock.SleepOn(ctx, t.Clock, start.Add(a.at).Sub(t.Clock.Now())) {
			break loop
		}
		if ctx.Err() != nil {
			break
		}
		if a.revert {
			revert(a.i)
			continue
		}
		o := t.Occurrences[a.i]
		ap := &Applied{Occurrence: o, Began: offset()}
		applied[a.i] = ap
		order = append(order, a.i)
		r, scope, err := t.apply(o, env)
		ap.Scope = scope
		if err != nil {
			ap.Err = err
			ap.Ended = ap.Began
			env.Event("fault_error", o.Name(), err.Error())
			continue
		}
		env.Event("fault_start", o.Name(), scope)
		if o.Spec.Kind.Instant {
			ap.Ended = ap.Began
			if r != nil {
				_ = r()
			}
			continue
		}
		if r == nil {
			// Over as soon as applied (a restart with no downtime).
			ap.Ended = offset()
			env.Event("fault_end", o.Name(), "")
			continue
		}
		reverts[a.i] = r
	}
	for k := len(order) - 1; k >= 0; k-- {
		revert(order[k])
	}
	out := make([]Applied, 0, len(order))
	for _, i := range order {
		out = append(out, *applied[i])
	}
	return out
}

// apply starts one occurrence and returns its revert and scope text.
func (t *Timeline) apply(o Occurrence, env Env) (func() error, string, error) {
	switch o.Spec.Kind.Layer {
	case Network:
		picked := o.Pick(t.Conns, t.Seed)
		scope := o.ScopeText(len(picked), count(t.Conns, o.Spec.Scope.Group)) + " connections"
		if len(picked) == 0 {
			return nil, scope, fmt.Errorf("scope matches no connection")
		}
		r, err := env.Network(o, picked)
		return r, scope, err
	case Stream:
		if t.Streams == nil {
			return nil, "", fmt.Errorf("stream faults need a target that hosts them: the builtin target, or an address or command target without target.tls (through the proxy)")
		}
		picked := o.Pick(t.Clients, t.Seed)
		scope := o.ScopeText(len(picked), count(t.Clients, o.Spec.Scope.Group)) + " clients"
		stop := t.Streams.Activate(o, picked)
		return func() error { stop(); return nil }, scope, nil
	case Server:
		revert, err := o.Spec.Kind.disrupt(o, env)
		return revert, "server", err
	}
	return nil, "", fmt.Errorf("unknown layer %v", o.Spec.Kind.Layer)
}

func count(members []Member, group string) int {
	n := 0
	for _, m := range members {
		if group == "" || m.Group == group {
			n++
		}
	}
	return n
}
