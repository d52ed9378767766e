package scenario

import (
	"fmt"
	"slices"
	"time"
)

// DefaultReconnect is the backoff a group gets when it sets none: faster
// than gRPC's own default (1s base, 120s max), which would make recovery
// times measure the backoff rather than the target.
var DefaultReconnect = Reconnect{
	Base:       Duration(50 * time.Millisecond),
	Multiplier: 1.6,
	Jitter:     0.2,
	Max:        Duration(2 * time.Second),
}

// minWindow is the smallest HTTP/2 window gRPC accepts (smaller is ignored).
const minWindow = 64 * kib

// chaos validates the fields of the chaos features: links with settings,
// group phases, backoff, slow readers, watchdogs and the fault timeline.
func (v *validator) chaos() {
	s := v.s
	if t := s.Link.Toxiproxy; t != nil && t.Address != "" {
		if err := CheckLoopback(t.Address); err != nil {
			v.add("link.toxiproxy.address", "%v", err)
		}
	}
	for i := range s.Groups {
		v.groupChaos(i, &s.Groups[i])
	}
	for i := range s.Faults {
		v.fault(i, &s.Faults[i])
	}
}

func (v *validator) groupChaos(i int, g *Group) {
	p := indexPath("groups", i) + "."
	v.nonNegative(p+"start", g.Start)
	if g.Start > 0 && v.s.Duration > 0 && g.Start >= v.s.Duration {
		v.add(p+"start", "must be before the end of the run (duration %s%s), got %s", v.s.Duration, v.s.OverrideNote("duration"), g.Start)
	}
	if r := g.Reconnect; r != nil {
		rp := p + "reconnect."
		if r.Base <= 0 {
			v.add(rp+"base", "must be > 0, got %s", r.Base)
		}
		if r.Multiplier < 1 {
			v.add(rp+"multiplier", "must be >= 1, got %v", r.Multiplier)
		}
		if r.Jitter < 0 || r.Jitter > 1 {
			v.add(rp+"jitter", "must be between 0 and 1, got %v", r.Jitter)
		}
		if r.Max < r.Base {
			v.add(rp+"max", "must be >= base (%s), got %s", r.Base, r.Max)
		}
	}
	rd := g.Read
	v.nonNegative(p+"read.delay", rd.Delay)
	v.nonNegative(p+"read.stall_after", rd.StallAfter)
	v.nonNegative(p+"read.stall_for", rd.StallFor)
	if rd.Stop && rd.StallFor > 0 {
		v.add(p+"read.stop", "stop reads no more after stall_after; stall_for (a pause then resume) contradicts it")
	}
	if rd.StallFor > 0 && rd.StallAfter == 0 && !v.s.Has(p+"read.stall_after") {
		v.add(p+"read.stall_after", "must be set with stall_for (when in each stream to stall)")
	}
	v.nonNegative(p+"idle", g.Idle)
	if g.Keepalive.Timeout > 0 && g.Keepalive.Time == 0 {
		v.add(p+"keepalive.timeout", "applies only with keepalive.time (no pings are sent without it)")
	}
	v.nonNegative(p+"keepalive.time", g.Keepalive.Time)
	v.nonNegative(p+"keepalive.timeout", g.Keepalive.Timeout)
	v.load(p, g)
	v.buffers(p+"buffers.", g.Buffers)
	if g.Window != 0 && (g.Window < minWindow || g.Window > 1<<31-1) {
		v.add(p+"window", "must be 0 (gRPC's dynamic windows) or from 64KiB to 2GiB-1, got %s", g.Window)
	}
}

func (v *validator) fault(i int, f *Fault) {
	p := indexPath("faults", i) + "."
	v.nonNegative(p+"at", f.At)
	v.nonNegative(p+"for", f.For)
	v.nonNegative(p+"every", f.Every)
	v.nonNegative(p+"until", f.Until)
	if d := v.s.Duration; d > 0 && f.At >= d {
		v.add(p+"at", "must be before the end of the run (duration %s%s), got %s", d, v.s.OverrideNote("duration"), f.At)
	}
	if f.Every > 0 && f.For >= f.Every {
		v.add(p+"for", "must be shorter than every (%s) so windows do not overlap, got %s", f.Every, f.For)
	}
	if f.Until != 0 && f.Every == 0 {
		v.add(p+"until", "applies only to a repeating fault (every)")
	}
	if f.Until != 0 && f.Until < f.At {
		v.add(p+"until", "must not be before at (%s), got %s", f.At, f.Until)
	}
	if f.Kind == "" {
		v.add(p+"kind", "must be set (`streambench list` prints the fault kinds)")
	}
	if g := f.Scope.Group; g != "" {
		names := make([]string, 0, len(v.s.Groups))
		for _, gr := range v.s.Groups {
			names = append(names, gr.Name)
		}
		if !slices.Contains(names, g) {
			v.add(p+"scope.group", "%s", UnknownChoice("group", g, names))
		}
	}
	if fr := f.Scope.Fraction; fr < 0 || fr > 1 {
		v.add(p+"scope.fraction", "must be between 0 and 1 (0 or unset = all), got %v", fr)
	}
}

// load validates a group's load model: closed-loop stages or an open-loop
// arrival schedule.
func (v *validator) load(p string, g *Group) {
	for i, st := range g.Stages {
		sp := fmt.Sprintf("%sstages[%d].", p, i)
		if st.Duration <= 0 {
			v.add(sp+"duration", "must be > 0, got %s", st.Duration)
		}
		if st.Target < 0 || (g.Clients > 0 && st.Target > g.Clients) {
			v.add(sp+"target", "must be between 0 and clients (%d), got %d", g.Clients, st.Target)
		}
	}
	a := g.Arrival
	if a == nil {
		return
	}
	if len(g.Stages) > 0 {
		v.add(p+"stages", "closed-loop stages and an open-loop arrival exclude each other; ramp the arrival with arrival.stages")
	}
	if a.Rate < 0 || a.Rate > MaxFeedRate {
		v.add(p+"arrival.rate", "must be between 0 and %s, got %s", MaxFeedRate, a.Rate)
	}
	if a.Rate == 0 && len(a.Stages) == 0 {
		v.add(p+"arrival", "give a rate (e.g. rate: 100/s) or stages")
	}
	for i, st := range a.Stages {
		sp := fmt.Sprintf("%sarrival.stages[%d].", p, i)
		if st.Duration <= 0 {
			v.add(sp+"duration", "must be > 0, got %s", st.Duration)
		}
		if st.Target < 0 || st.Target > MaxFeedRate {
			v.add(sp+"target", "must be between 0 and %s, got %s", MaxFeedRate, st.Target)
		}
	}
}

// maxBuffer bounds a transport buffer: a per-connection cost, and an int.
const maxBuffer = 64 << 20

// buffers checks one side's transport buffers (path ends with ".").
func (v *validator) buffers(p string, b Buffers) {
	for _, f := range []struct {
		key  string
		size Size
	}{{"write", b.Write}, {"read", b.Read}} {
		if f.size < 0 || f.size > maxBuffer {
			v.add(p+f.key, "must be from 0 (gRPC's 32KiB) to 64MiB, got %s", f.size)
		}
	}
}
