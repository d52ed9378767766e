package scenario

import (
	"time"
)

// Default values Defaults fills in.
const (
	DefaultGracefulStop = Duration(5 * time.Second)
	DefaultFeedRate     = Rate(100)
	DefaultFeedPayload  = Size(64)
	DefaultFeedRing     = 4096
	DefaultFeedQueue    = 1024
	DefaultConnections  = 1
	DefaultReadyTimeout = Duration(10 * time.Second)
	DefaultStopTimeout  = Duration(5 * time.Second)
	DefaultRepeat       = true
)

// Defaults fills in what the scenario leaves out:
//
//   - version 1, graceful_stop 5s;
//   - no target: the builtin one; a builtin target's feed gets rate 100/s,
//     payload 64B, ring 4096 and queue 1024;
//   - a builtin target's link: bufconn (an address target keeps no link);
//   - each group: connections 1, repeat true, the default reconnect
//     backoff for what it leaves out.
//
// What depends on a group's RPC (messages, the RPC's own settings, a name
// from the RPC) is the RPC catalog's to fill in (harness/rpc).
//
// A field the file sets explicitly is never replaced, even when zero
// ("graceful_stop: 0" stays 0; "messages: 0" stays 0 and fails Validate). In
// a Scenario built in code every zero field counts as unset. Defaults is
// idempotent.
func (s *Scenario) Defaults() {
	if s.Version == 0 {
		s.Version = Version
	}
	if s.GracefulStop == 0 && !s.Has("graceful_stop") {
		s.GracefulStop = DefaultGracefulStop
	}
	if s.Target.Builtin == nil && s.Target.Address == "" && len(s.Target.Command) == 0 && s.Target.Custom == "" &&
		(s.Target.Backends == nil || len(s.Target.Backends.Addresses) == 0) {
		s.Target.Builtin = &Builtin{}
	}
	if b := s.Target.Backends; b != nil {
		if b.Balancer == "" {
			b.Balancer = BalancerL4
		}
		if b.Policy == "" && b.Balancer == BalancerClient {
			b.Policy = "round_robin"
		}
		if b.MaxConnectionAge > 0 && b.MaxConnectionAgeGrace == 0 && !s.Has("target.backends.max_connection_age_grace") {
			b.MaxConnectionAgeGrace = Duration(5 * time.Second)
		}
	}
	if len(s.Target.Command) > 0 {
		if s.Target.Ready == nil {
			s.Target.Ready = &Ready{}
		}
		if s.Target.Ready.Timeout == 0 && !s.Has("target.ready.timeout") {
			s.Target.Ready.Timeout = DefaultReadyTimeout
		}
		if s.Target.StopTimeout == 0 && !s.Has("target.stop_timeout") {
			s.Target.StopTimeout = DefaultStopTimeout
		}
	}
	if b := s.Target.Builtin; b != nil {
		f := &b.Feed
		const p = "target.builtin.feed."
		if f.Rate == 0 && !s.Has(p+"rate") {
			f.Rate = DefaultFeedRate
		}
		if f.Payload == 0 && !s.Has(p+"payload") {
			f.Payload = DefaultFeedPayload
		}
		if f.Ring == 0 && !s.Has(p+"ring") {
			f.Ring = DefaultFeedRing
		}
		if f.Queue == 0 && !s.Has(p+"queue") {
			f.Queue = DefaultFeedQueue
		}
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		p := indexPath("groups", i) + "."
		if g.Connections == 0 && !s.Has(p+"connections") {
			g.Connections = DefaultConnections
		}
		if g.Repeat == nil {
			r := DefaultRepeat
			g.Repeat = &r
		}
		if g.Reconnect == nil {
			r := DefaultReconnect
			g.Reconnect = &r
		} else {
			// A partial reconnect keeps the defaults for what it leaves out.
			rc, rp := g.Reconnect, p+"reconnect."
			if rc.Base == 0 && !s.Has(rp+"base") {
				rc.Base = DefaultReconnect.Base
			}
			if rc.Multiplier == 0 && !s.Has(rp+"multiplier") {
				rc.Multiplier = DefaultReconnect.Multiplier
			}
			if rc.Jitter == 0 && !s.Has(rp+"jitter") {
				rc.Jitter = DefaultReconnect.Jitter
			}
			if rc.Max == 0 && !s.Has(rp+"max") {
				rc.Max = max(DefaultReconnect.Max, rc.Base)
			}
		}
	}
}

// RepeatOrDefault reports whether a client of g opens a new stream when one
// ends: Repeat, or true when unset.
func (g Group) RepeatOrDefault() bool {
	if g.Repeat == nil {
		return DefaultRepeat
	}
	return *g.Repeat
}

// Group returns the group named name.
func (s *Scenario) Group(name string) (Group, bool) {
	for _, g := range s.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}
