package explore

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/scenario"
)

// Generation: every timeline is drawn from the kinds the plan can take
// (harness.Plan.FaultKinds, which asks the link and the target as fault
// validation does), narrowed by the Space, with each setting drawn within
// its kind's declared domain (fault.Kind.SettingsOf). The random source of
// exploration run i (from 0) is PCG(seed, i): the same seed gives the same timeline
// for run i whatever ran before it or beside it.

// grain is what generated moments and windows are rounded to, so a
// timeline reads like a hand-written one.
const grain = 100 * time.Millisecond

// generator draws timelines for one explore.
type generator struct {
	kinds    []fault.Kind
	groups   []string
	link     string
	space    Space
	duration time.Duration
	// valid checks one generated fault the way a run will (NewPlan on a
	// scenario with that fault alone).
	valid func(f scenario.Fault) error
}

// timeline draws run index's faults.
func (g *generator) timeline(rng *rand.Rand) []scenario.Fault {
	n := 1 + rng.IntN(g.space.MaxFaults)
	out := make([]scenario.Fault, 0, n)
	for range n {
		// A draw validation refuses (a combination of settings no
		// domain alone rules out, such as a toxiproxy unit) is drawn
		// again, a bounded number of times.
		for try := 0; try < 20; try++ {
			f := g.fault(rng)
			if g.valid(f) == nil {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// fault draws one fault.
func (g *generator) fault(rng *rand.Rand) scenario.Fault {
	k := g.kinds[rng.IntN(len(g.kinds))]
	d := g.duration
	at := roundTo(time.Duration(float64(d)*(0.1+0.6*rng.Float64())), grain)
	f := scenario.Fault{At: scenario.Duration(at), Kind: k.Name}
	if !k.Instant {
		longest := min(g.space.MaxWindow, d-at-grain)
		if longest < grain {
			longest = grain
		}
		f.For = scenario.Duration(roundTo(grain+time.Duration(rng.Float64()*float64(longest-grain)), grain))
	}
	if k.Layer != fault.Server {
		if rng.IntN(2) == 0 {
			f.Scope.Fraction = float64(1+rng.IntN(9)) / 10
		}
		if len(g.groups) > 1 && rng.IntN(3) == 0 {
			f.Scope.Group = g.groups[rng.IntN(len(g.groups))]
		}
	}
	drawn := map[string]float64{}
	without := map[string]bool{} // settings a drawn value excludes
	for _, s := range k.SettingsOf() {
		dom := s.Domain
		if dom.Link != "" && dom.Link != g.link || dom.Unit == fault.NameUnit {
			continue // not on this link; a name only the running target knows
		}
		if f.Params == nil {
			f.Params = map[string]scenario.Param{}
		}
		if dom.Unit == fault.Enum {
			f.Params[s.Name] = scenario.Param{Value: dom.Values[rng.IntN(len(dom.Values))]}
			if dom.Without != "" && f.Params[s.Name].Value != dom.Values[0] {
				without[dom.Without] = true
			}
			continue
		}
		v := draw(rng, dom, drawn)
		drawn[s.Name] = v
		f.Params[s.Name] = scenario.Param{Value: dom.Format(v)}
	}
	for name := range without {
		delete(f.Params, name)
	}
	return f
}

// draw picks a number within d: its typical value a quarter of the time,
// else uniformly (durations and sizes: uniformly in their logarithm, so a
// range of 1ms..1s yields as many milliseconds as hundreds of them).
func draw(rng *rand.Rand, d fault.Domain, drawn map[string]float64) float64 {
	lo, hi := d.Min, d.Max
	if d.MaxOf != "" {
		hi = lo
		if v, ok := drawn[d.MaxOf]; ok {
			hi = v
		}
	}
	if hi < lo {
		hi = lo
	}
	var v float64
	switch {
	case d.HasTypical && d.Typical >= lo && d.Typical <= hi && rng.IntN(4) == 0:
		v = d.Typical
	case (d.Unit == fault.DurationUnit || d.Unit == fault.SizeUnit) && lo > 0:
		v = math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
	default:
		v = lo + rng.Float64()*(hi-lo)
	}
	switch d.Unit {
	case fault.DurationUnit:
		// Whole milliseconds (what toxiproxy counts), but never below
		// the domain's least value.
		v = max(lo, math.Round(v/1e6)*1e6)
	case fault.SizeUnit:
		if v >= 1000 {
			v = math.Round(v/1000) * 1000 // whole KB (toxiproxy's bandwidth unit)
		}
		v = math.Max(lo, math.Round(v))
	case fault.IntUnit:
		v = math.Floor(v)
	case fault.FloatUnit:
		v = math.Round(v*100) / 100
	}
	return min(max(v, lo), max(hi, lo))
}

func roundTo(d, g time.Duration) time.Duration { return (d + g/2) / g * g }

// describe is a fault as one line, for the run log and progress.
func describe(f scenario.Fault) string {
	s := "at " + f.At.String()
	if f.For > 0 {
		s += " for " + f.For.String()
	}
	s += " " + f.Kind
	for _, name := range f.ParamNames() {
		s += " " + name + "=" + f.Params[name].Value
	}
	if f.Scope.Group != "" {
		s += " group=" + f.Scope.Group
	}
	if f.Scope.Fraction > 0 {
		s += " fraction=" + strconv.FormatFloat(f.Scope.Fraction, 'g', -1, 64)
	}
	return s
}

// kindsOf resolves the space's kinds against what the plan can take:
// every one the plan can take when none are named; an unknown name is an
// error with its position and a did-you-mean, a known one the target or
// link cannot take an error naming those it can.
func kindsOf(sc *scenario.Scenario, named []string, fromFile bool, can []string) ([]fault.Kind, error) {
	if len(named) == 0 {
		named = can
		fromFile = false
	}
	var out []fault.Kind
	var errs scenario.Errors
	for i, name := range named {
		e := &scenario.Error{Field: "--kinds"}
		if fromFile {
			path := fmt.Sprintf("explore.kinds[%d]", i)
			e = &scenario.Error{File: sc.File, Pos: sc.PosOf(path), Field: path}
		}
		k, ok := fault.Lookup(name)
		switch {
		case !ok:
			e.Msg = scenario.UnknownChoice("fault kind", name, fault.Names())
		case !slices.Contains(can, name):
			e.Msg = fmt.Sprintf("this scenario's target and link cannot take %s; they take %s", name, scenario.OneOf(can))
		default:
			if !slices.ContainsFunc(out, func(x fault.Kind) bool { return x.Name == name }) {
				out = append(out, k)
			}
			continue
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(out) == 0 {
		return nil, scenario.Errors{{File: sc.File, Field: "explore.kinds", Msg: "this scenario's target and link take no fault kinds"}}
	}
	return out, nil
}
