package scenario

import (
	"strings"
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
	DefaultMessages     = 10
	DefaultBase         = int64(2)
	DefaultRepeat       = true
)

// rpcShortNames is the name a group gets from its RPC when it has none.
var rpcShortNames = map[string]string{
	RPCSubscribe: "subscribe",
	RPCPow:       "pow",
	RPCSum:       "sum",
	RPCSqrt:      "sqrt",
}

// Defaults fills in what the scenario leaves out:
//
//   - version 1, graceful_stop 5s;
//   - no target: the builtin one; a builtin target's feed gets rate 100/s,
//     payload 64B, ring 4096 and queue 1024;
//   - a builtin target's link: bufconn (an address target keeps no link);
//   - each group: connections 1; for Math RPCs messages 10; for Math/Pow
//     base 2; repeat true; and, when no other group could claim it, a name
//     from its RPC ("subscribe", "pow", "sum", "sqrt").
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
	if s.Target.Builtin == nil && s.Target.Address == "" {
		s.Target.Builtin = &Builtin{}
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
		if s.Link.Kind == "" && s.Target.Address == "" {
			s.Link.Kind = LinkBufconn
		}
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		p := indexPath("groups", i) + "."
		if g.Connections == 0 && !s.Has(p+"connections") {
			g.Connections = DefaultConnections
		}
		if isMath(g.RPC) && g.Messages == 0 && !s.Has(p+"messages") {
			g.Messages = DefaultMessages
		}
		if g.RPC == RPCPow && g.Base == nil {
			b := DefaultBase
			g.Base = &b
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
	s.defaultGroupNames()
}

// defaultGroupNames names each unnamed group after its RPC when it is the
// only unnamed group of that RPC and no group has that name already.
func (s *Scenario) defaultGroupNames() {
	taken := make(map[string]bool)
	unnamed := make(map[string]int)
	for _, g := range s.Groups {
		if g.Name != "" {
			taken[g.Name] = true
		} else {
			unnamed[g.RPC]++
		}
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		name, ok := rpcShortNames[g.RPC]
		if g.Name == "" && ok && unnamed[g.RPC] == 1 && !taken[name] {
			g.Name = name
		}
	}
}

// isMath reports whether rpc is one of the Math RPCs, which count messages.
func isMath(rpc string) bool {
	return strings.HasPrefix(rpc, "Math/") && rpcShortNames[rpc] != ""
}

// RepeatOrDefault reports whether a client of g opens a new stream when one
// ends: Repeat, or true when unset.
func (g Group) RepeatOrDefault() bool {
	if g.Repeat == nil {
		return DefaultRepeat
	}
	return *g.Repeat
}

// BaseOrDefault returns Pow's base: Base, or 2 when unset.
func (g Group) BaseOrDefault() int64 {
	if g.Base == nil {
		return DefaultBase
	}
	return *g.Base
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
