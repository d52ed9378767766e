package scenario

import (
	"maps"
	"slices"
)

// Clone returns a deep copy of s: changing the copy (defaults, overrides,
// scaling) never changes s.
func (s *Scenario) Clone() *Scenario {
	out := *s
	out.pos = maps.Clone(s.pos)
	out.overrides = maps.Clone(s.overrides)
	if s.Target.Builtin != nil {
		b := *s.Target.Builtin
		out.Target.Builtin = &b
	}
	if s.Target.Backends != nil {
		b := *s.Target.Backends
		b.Addresses = slices.Clone(b.Addresses)
		out.Target.Backends = &b
	}
	if s.Target.TLS != nil {
		t := *s.Target.TLS
		out.Target.TLS = &t
	}
	out.Target.Metadata = maps.Clone(s.Target.Metadata)
	out.Target.Settings = maps.Clone(s.Target.Settings)
	out.Target.Command = slices.Clone(s.Target.Command)
	out.Target.Env = slices.Clone(s.Target.Env)
	if s.Target.Ready != nil {
		r := *s.Target.Ready
		out.Target.Ready = &r
	}
	if s.Link.Toxiproxy != nil {
		t := *s.Link.Toxiproxy
		out.Link.Toxiproxy = &t
	}
	out.Groups = slices.Clone(s.Groups)
	for i := range out.Groups {
		g := &out.Groups[i]
		if g.Base != nil {
			b := *g.Base
			g.Base = &b
		}
		if g.Repeat != nil {
			r := *g.Repeat
			g.Repeat = &r
		}
		if g.Reconnect != nil {
			r := *g.Reconnect
			g.Reconnect = &r
		}
		g.Stages = slices.Clone(g.Stages)
		if g.Arrival != nil {
			a := *g.Arrival
			a.Stages = slices.Clone(a.Stages)
			if a.Queue != nil {
				q := *a.Queue
				a.Queue = &q
			}
			g.Arrival = &a
		}
	}
	out.Faults = slices.Clone(s.Faults)
	for i := range out.Faults {
		out.Faults[i].Params = maps.Clone(out.Faults[i].Params)
	}
	if s.Explore != nil {
		e := *s.Explore
		e.Kinds = slices.Clone(e.Kinds)
		out.Explore = &e
	}
	out.Assert = slices.Clone(s.Assert)
	for i := range out.Assert {
		out.Assert[i].Args = maps.Clone(out.Assert[i].Args)
	}
	return &out
}

// Override records that the value at path ("duration") was set by an
// override rather than the file, and how (e.g. "--duration 3s"); errors
// that depend on that value say so.
func (s *Scenario) Override(path, how string) {
	if s.overrides == nil {
		s.overrides = map[string]string{}
	}
	s.overrides[path] = how
}

// OverrideNote is ", set by HOW" for a value an override set (see
// Override), else "".
func (s *Scenario) OverrideNote(path string) string {
	if how, ok := s.overrides[path]; ok {
		return ", set by " + how
	}
	return ""
}
