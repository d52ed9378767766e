package fault

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/scenario"
)

// Spec is one compiled entry of a scenario's fault timeline.
type Spec struct {
	// Index is the entry's position in the scenario's faults list.
	Index int
	// Kind is the registered kind.
	Kind Kind
	// At, For, Every, Until are the entry's timing.
	At, For, Every, Until time.Duration
	// Scope is whom it hits.
	Scope scenario.Scope
	// Params is the kind's decoded settings: a network kind's
	// link.NetKind.Params, *ServerParams or *StreamParams.
	Params any
}

// Name is "faults[i] kind".
func (s *Spec) Name() string { return fmt.Sprintf("faults[%d] %s", s.Index, s.Kind.Name) }

// Caps are the fault layers a run's target can take, decided by the plan.
type Caps struct {
	// Link is the link kind clients reach the target over.
	Link string
	// Target is the run's target: a server or stream kind is compiled only
	// when it has the capability interface the kind needs (Restarter,
	// ConnectionAger, Pauser, StreamHost).
	Target any
	// TargetName names the target kind in errors ("address target
	// (127.0.0.1:9)").
	TargetName string
}

// Compile checks and decodes every fault of sc against what its target can
// take (a kind it cannot is an error saying why, with the valid choices).
// Errors are scenario.Errors with positions; the faults that did compile
// are returned with them.
func Compile(sc *scenario.Scenario, caps Caps) ([]*Spec, error) {
	var out []*Spec
	var errs scenario.Errors
	add := func(path, format string, args ...any) {
		errs = append(errs, &scenario.Error{File: sc.File, Pos: sc.PosOf(path), Field: path, Msg: fmt.Sprintf(format, args...)})
	}
	for i, f := range sc.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		k, ok := Lookup(f.Kind)
		if !ok {
			add(p+".kind", "%s", scenario.UnknownChoice("fault kind", f.Kind, Names()))
			continue
		}
		params, err := k.decode(sc.File, p, f.Params)
		if err != nil {
			if es, ok := scenario.AsErrors(err); ok {
				errs = append(errs, es...)
			} else {
				add(p, "%v", err)
			}
			continue
		}
		if err := k.check(params); err != nil {
			add(p, "%s: %v", k.Name, err)
			continue
		}
		switch k.Layer {
		case Network:
			// Whether the link can do it, in toxiproxy's units on
			// toxiproxy, is link's rule.
			f := k.net(params, 1)
			if err := link.CheckFor(caps.Link, f); err != nil {
				if _, ok := errors.AsType[*link.UnsupportedError](err); ok {
					add(p+".kind", "%v", err)
				} else {
					add(p, "%v", err)
				}
				continue
			}
			if f.Toxicity != 0 && caps.Link != link.KindToxiproxy {
				add(p, "toxicity applies only to a toxiproxy link (this link is %s)", caps.Link)
				continue
			}
		case Server:
			if !k.can(caps.Target) {
				add(p+".kind", "%s acts on %s; the %s is not %s, and takes %s", k.Name, k.acts, caps.TargetName, k.needs, serverChoices(ServerKinds(caps.Target)))
				continue
			}
		case Stream:
			if !k.can(caps.Target) {
				add(p+".kind", "%s acts at the target's gRPC layer; the %s is not %s (the builtin target is, and an address or command target through streambench's gRPC proxy, without target.tls: the proxy cannot present the server's certificate)", k.Name, caps.TargetName, k.needs)
				continue
			}
		}
		if k.Layer == Server && (f.Scope != scenario.Scope{}) {
			add(p+".scope", "%s acts on the whole server; it takes no scope", k.Name)
			continue
		}
		if k.Instant && f.For != 0 {
			add(p+".for", "%s is instant; it takes no for:", k.Name)
			continue
		}
		if !k.Instant && f.Every > 0 && f.For == 0 {
			add(p+".for", "a repeating %s needs for: (shorter than every), or each occurrence would last to the end of the run", k.Name)
			continue
		}
		out = append(out, &Spec{
			Index: i, Kind: k, At: f.At.D(), For: f.For.D(), Every: f.Every.D(), Until: f.Until.D(),
			Scope: f.Scope, Params: params,
		})
	}
	if len(errs) > 0 {
		// The faults that compiled come back too, so a caller can check
		// them further and report every problem at once.
		return out, errs
	}
	return out, nil
}

func serverChoices(kinds []string) string {
	if len(kinds) == 0 {
		return "no server faults (a builtin or command target does)"
	}
	return "server faults " + strings.Join(kinds, ", ")
}

// Net is the link fault of a network spec's repetition rep, seeded from
// the run's seed so each occurrence draws its own picks and jitter.
func (s *Spec) Net(seed int64, rep int) link.Fault {
	return s.Kind.net(s.Params, uint64(seed)^uint64(s.Index+1)<<32^uint64(rep+1))
}

// Occurrence is one application of a Spec: a repeating fault has one per
// period.
type Occurrence struct {
	Spec *Spec
	// Rep counts repetitions from 0.
	Rep int
	// Start and End are offsets from the run's start (End == Start for an
	// instant fault; End == run end for a fault without for:).
	Start, End time.Duration
}

// Name is the spec's name, plus "#n" for repetitions after the first.
func (o Occurrence) Name() string {
	if o.Spec.Every > 0 {
		return fmt.Sprintf("%s #%d", o.Spec.Name(), o.Rep+1)
	}
	return o.Spec.Name()
}

// Expand lays out every occurrence of specs within a run of the given
// duration, sorted by start (then by fault index). It is a pure function:
// the same scenario always yields the same timeline.
func Expand(specs []*Spec, duration time.Duration) []Occurrence {
	var out []Occurrence
	for _, s := range specs {
		until := duration
		if s.Until > 0 && s.Until < until {
			until = s.Until + 1 // Until is the last allowed start, inclusive
		}
		for rep, at := 0, s.At; at < until && at < duration; rep, at = rep+1, at+s.Every {
			end := at + s.For
			switch {
			case s.Kind.Instant:
				end = at
			case s.For == 0:
				end = duration
			}
			out = append(out, Occurrence{Spec: s, Rep: rep, Start: at, End: min(end, duration)})
			if s.Every <= 0 {
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return out[i].Spec.Index < out[j].Spec.Index
	})
	return out
}

// Member is one candidate a fault's scope can pick: a client (stream
// faults) or a connection (network faults), with its group.
type Member struct {
	Group string
	ID    int
}

// Pick returns the members o hits: those of the scope's group (all when
// none is named), and of those a fraction chosen with seed — the same
// members for the same seed, fault and repetition. Members must be listed
// in a stable order.
func (o Occurrence) Pick(members []Member, seed int64) []Member {
	var pool []Member
	for _, m := range members {
		if o.Spec.Scope.Group == "" || m.Group == o.Spec.Scope.Group {
			pool = append(pool, m)
		}
	}
	f := o.Spec.Scope.Fraction
	if f <= 0 || f >= 1 || len(pool) == 0 {
		return pool
	}
	n := int(math.Ceil(f * float64(len(pool))))
	rnd := rand.New(rand.NewPCG(uint64(seed), uint64(o.Spec.Index)<<32|uint64(o.Rep)))
	shuffled := append([]Member(nil), pool...)
	rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	picked := shuffled[:n]
	sort.SliceStable(picked, func(i, j int) bool {
		if picked[i].Group != picked[j].Group {
			return picked[i].Group < picked[j].Group
		}
		return picked[i].ID < picked[j].ID
	})
	return picked
}

// ScopeText describes what the occurrence hit, for reports.
func (o Occurrence) ScopeText(picked, of int) string {
	s := o.Spec.Scope
	var parts []string
	if s.Group != "" {
		parts = append(parts, "group "+s.Group)
	}
	if s.Fraction > 0 && s.Fraction < 1 {
		parts = append(parts, fmt.Sprintf("%g%%: %d of %d", s.Fraction*100, picked, of))
	}
	if len(parts) == 0 {
		switch o.Spec.Kind.Layer {
		case Server:
			return "server"
		}
		return "all"
	}
	return strings.Join(parts, ", ")
}
