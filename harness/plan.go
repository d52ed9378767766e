package harness

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
)

// Target kinds: what a plan's clients talk to. A target kind is decided
// here, once, and everything downstream asks the plan.
const (
	// TargetBuiltin is the in-process reference servers, reached over a
	// link streambench owns.
	TargetBuiltin = "builtin"
	// TargetAddress is a running server at a loopback host:port, dialled
	// directly over TCP.
	TargetAddress = "address"
)

// Overrides are what a caller changes in a scenario for one run: the CLI's
// --duration, --seed, --client-scale and --target, and the self-checks'
// compressed clock. A nil or empty field keeps the scenario's value. They
// are set with the Option constructors (WithDuration, ...).
type Overrides struct {
	// Duration replaces the scenario's duration (> 0).
	Duration *time.Duration
	// GracefulStop replaces the scenario's graceful stop (>= 0).
	GracefulStop *time.Duration
	// Seed replaces the scenario's seed (0 picks one).
	Seed *int64
	// ClientScale multiplies every group's clients and connections (> 0;
	// at least 1 each).
	ClientScale *float64
	// Compress multiplies the duration, graceful stop, group start
	// offsets, stage durations and every fault's timing (0 < f <= 1).
	// Thresholds are left alone.
	Compress *float64
	// Target points the run at a server at this loopback host:port instead
	// of the scenario's target.
	Target string
}

// Plan is a scenario resolved for one run: the scenario with its defaults
// and every override applied, validated on those effective values, with
// its assertions, faults and leak settings compiled. NewPlan builds it;
// nothing changes it afterwards, and the engine, the CLI's banner and the
// report read the plan and nothing else.
type Plan struct {
	sc     *scenario.Scenario
	ov     Overrides
	seed   int64
	target string
	link   string
	checks []assert.Assertion
	specs  []*fault.Spec
	leaks  leak.Options
	rpcs   *rpc.Catalog
}

// NewPlan resolves sc for one run with the given overrides and RPC catalog
// (WithRPCs; the reference RPCs by default). Other Option values are
// ignored here; give them to RunPlan. sc is not
// changed. Every problem — of the scenario, of an override, or of the
// scenario under an override (a fault past an overridden duration) — is
// returned at once as scenario.Errors with file:line:column positions.
func NewPlan(sc *scenario.Scenario, opts ...Option) (*Plan, error) {
	if sc == nil {
		return nil, scenario.Errors{{Msg: "no scenario"}}
	}
	cfg := configOf(opts)
	ov, rpcs := cfg.ov, cfg.rpcs
	if rpcs == nil {
		rpcs = RPCs()
	}
	errs := ov.check()
	eff := sc.Clone()
	eff.Defaults()
	rpcs.Defaults(eff)
	if len(errs) == 0 {
		ov.apply(eff)
	}
	if err := eff.Validate(); err != nil {
		es, _ := scenario.AsErrors(err)
		errs = append(errs, es...)
	}
	errs = append(errs, rpcs.Validate(eff)...)
	p := &Plan{sc: eff, ov: ov, seed: eff.Seed, rpcs: rpcs}
	p.target, p.link = targetOf(eff)
	var err error
	if p.specs, err = fault.Compile(eff, p.faultCaps()); err != nil {
		es, _ := scenario.AsErrors(err)
		errs = append(errs, es...)
	} else {
		errs = append(errs, checkNetFaults(eff, p.link, p.specs)...)
	}
	if p.checks, err = assert.Compile(eff); err != nil {
		es, _ := scenario.AsErrors(err)
		errs = append(errs, es...)
	}
	if p.leaks, err = leakOptions(eff); err != nil {
		errs = append(errs, &scenario.Error{File: eff.File, Pos: leaksPos(eff), Field: "assert", Msg: err.Error()})
	}
	if len(errs) > 0 {
		return nil, sorted(errs)
	}
	if p.seed == 0 {
		p.seed = rand.Int64N(1<<53) + 1
	}
	return p, nil
}

// check rejects override values that cannot mean anything.
func (ov Overrides) check() scenario.Errors {
	var errs scenario.Errors
	bad := func(field, format string, args ...any) {
		errs = append(errs, &scenario.Error{Field: field + " override", Msg: fmt.Sprintf(format, args...)})
	}
	if d := ov.Duration; d != nil && (*d <= 0 || *d > scenario.MaxDuration.D()) {
		bad("duration", "must be > 0 and at most %s, got %v", scenario.MaxDuration, *d)
	}
	if g := ov.GracefulStop; g != nil && *g < 0 {
		bad("graceful stop", "must be >= 0, got %v", *g)
	}
	if f := ov.ClientScale; f != nil && !(*f > 0 && *f <= maxClientScale) {
		bad("client scale", "must be > 0 and at most %d, got %v", maxClientScale, *f)
	}
	if f := ov.Compress; f != nil && !(*f > 0 && *f <= 1) {
		bad("compress", "must be > 0 and at most 1, got %v", *f)
	}
	if ov.Target != "" {
		if err := scenario.CheckLoopback(ov.Target); err != nil {
			bad("target", "%v", err)
		}
	}
	return errs
}

// maxClientScale bounds the client-scale override.
const maxClientScale = 1000

// apply writes the overrides into the effective scenario eff, noting each
// so that an error caused by one says so.
func (ov Overrides) apply(eff *scenario.Scenario) {
	if f := ov.Compress; f != nil && *f != 1 {
		compress(eff, *f)
		eff.Override("duration", "the compress override ×"+strconv.FormatFloat(*f, 'g', -1, 64))
	}
	if d := ov.Duration; d != nil {
		eff.Duration = scenario.Duration(*d)
		eff.Override("duration", "the duration override")
	}
	if g := ov.GracefulStop; g != nil {
		eff.GracefulStop = scenario.Duration(*g)
	}
	if s := ov.Seed; s != nil {
		eff.Seed = *s
	}
	if f := ov.ClientScale; f != nil && *f != 1 {
		for i := range eff.Groups {
			g := &eff.Groups[i]
			g.Clients = max(1, int(math.Round(float64(g.Clients)**f)))
			g.Connections = min(g.Clients, max(1, int(math.Round(float64(g.Connections)**f))))
		}
	}
	if ov.Target != "" {
		eff.Target = scenario.Target{Address: ov.Target}
		eff.Link = scenario.Link{}
		eff.Override("target", "the target override")
	}
}

// compress multiplies every time of eff's timeline by f.
func compress(eff *scenario.Scenario, f float64) {
	d := func(x scenario.Duration) scenario.Duration { return scenario.Duration(float64(x) * f) }
	eff.Duration, eff.GracefulStop = d(eff.Duration), d(eff.GracefulStop)
	for i := range eff.Groups {
		g := &eff.Groups[i]
		g.Start = d(g.Start)
		for j := range g.Stages {
			g.Stages[j].Duration = d(g.Stages[j].Duration)
		}
		if g.Arrival != nil {
			for j := range g.Arrival.Stages {
				g.Arrival.Stages[j].Duration = d(g.Arrival.Stages[j].Duration)
			}
		}
	}
	for i := range eff.Faults {
		fl := &eff.Faults[i]
		fl.At, fl.For, fl.Every, fl.Until = d(fl.At), d(fl.For), d(fl.Every), d(fl.Until)
		if p, ok := fl.Params["grace"]; ok {
			if g, err := time.ParseDuration(p.Value); err == nil {
				fl.Params = maps.Clone(fl.Params)
				fl.Params["grace"] = scenario.Param{Value: time.Duration(float64(g) * f).String(), Pos: p.Pos}
			}
		}
	}
}

// targetOf decides the target kind and link of an effective scenario.
func targetOf(sc *scenario.Scenario) (target, linkKind string) {
	if sc.Target.Address != "" && sc.Target.Builtin == nil {
		return TargetAddress, link.KindTCP
	}
	if sc.Link.Kind == "" {
		return TargetBuiltin, link.KindBufconn
	}
	return TargetBuiltin, sc.Link.Kind
}

// faultCaps says which fault layers the plan's target can take.
func (p *Plan) faultCaps() fault.Caps {
	if p.target != TargetBuiltin {
		why := "this scenario's target is an address (" + p.sc.Target.Address + p.sc.OverrideNote("target") + "), which streambench dials directly: faults need the builtin target and a link streambench owns"
		return fault.Caps{Link: p.link, Refused: why}
	}
	return fault.Caps{Link: p.link, Net: link.KindsOf(p.link), Server: true, Stream: true}
}

// checkNetFaults checks each network fault against its link (units
// toxiproxy counts, settings the link accepts), so a fault the link would
// refuse is a scenario error, not a failure mid-run.
func checkNetFaults(sc *scenario.Scenario, linkKind string, specs []*fault.Spec) scenario.Errors {
	var errs scenario.Errors
	for _, s := range specs {
		if s.Kind.Layer != fault.Network {
			continue
		}
		if err := link.CheckFor(linkKind, s.Net(1, 0)); err != nil {
			path := fmt.Sprintf("faults[%d]", s.Index)
			errs = append(errs, &scenario.Error{File: sc.File, Pos: sc.PosOf(path), Field: path, Msg: err.Error()})
		}
	}
	return errs
}

// leaksPos is where the scenario's leaks assertion stands.
func leaksPos(sc *scenario.Scenario) scenario.Pos {
	for _, a := range sc.Assert {
		if a.Key == "leaks" {
			return a.Pos
		}
	}
	return sc.PosOf("assert")
}

func sorted(es scenario.Errors) scenario.Errors {
	scenario.SortErrors(es)
	return es
}

// Name is the scenario's name.
func (p *Plan) Name() string { return p.sc.Name }

// Scenario returns a copy of the effective scenario: defaults and
// overrides applied.
func (p *Plan) Scenario() *scenario.Scenario { return p.sc.Clone() }

// Duration is how long clients run.
func (p *Plan) Duration() time.Duration { return p.sc.Duration.D() }

// GracefulStop is how long streams in flight get after the duration.
func (p *Plan) GracefulStop() time.Duration { return p.sc.GracefulStop.D() }

// Seed is the run's seed (picked when the scenario and overrides left it 0).
func (p *Plan) Seed() int64 { return p.seed }

// Target is the target kind (TargetBuiltin or TargetAddress).
func (p *Plan) Target() string { return p.target }

// Address is an address target's host:port ("" for the builtin target).
func (p *Plan) Address() string {
	if p.target == TargetAddress {
		return p.sc.Target.Address
	}
	return ""
}

// Link is the link kind clients reach the target over.
func (p *Plan) Link() string { return p.link }

// Overrides are the overrides the plan was made with.
func (p *Plan) Overrides() Overrides { return p.ov }

// Clients is how many clients the groups run in all.
func (p *Plan) Clients() int {
	n := 0
	for _, g := range p.sc.Groups {
		n += g.Clients
	}
	return n
}

// Describe is a one-line description for banners: "smoke (4 groups, 1200
// clients)".
func (p *Plan) Describe() string {
	return fmt.Sprintf("%s (%d groups, %d clients)", p.sc.Name, len(p.sc.Groups), p.Clients())
}
