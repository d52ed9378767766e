package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
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
	// offsets, stage durations, every fault's timing and the backends' max
	// connection age (0 < f <= 1).
	// Thresholds are left alone.
	Compress *float64
	// Target points the run at a server at this loopback host:port instead
	// of the scenario's target (its metadata is kept). It needs Insecure
	// or TLS, as an address target in a scenario does.
	Target string
	// Insecure dials Target in plaintext (run --insecure).
	Insecure bool
	// TLS dials Target over TLS (run --cacert, --cert, --key, --cname);
	// relative paths are relative to the working directory.
	TLS *scenario.TLS
	// Shard makes the run one shard of a sharded run (see Shard).
	Shard *Shard
	// Metadata is added to the target's metadata, replacing a key the
	// scenario sets too (run -H 'key: value').
	Metadata map[string]string
	// AllowRemote lets the target be a host other than loopback: for runs
	// inside a user's own cluster (a sharded run's Kubernetes Job), never
	// the default.
	AllowRemote bool
}

// Shard is one part of a run spread over several processes or machines.
// Shard Index of Count runs the clients j of every group with
// j mod Count == Index (the same split for the same scenario, whatever the
// seed: every client belongs to exactly one shard) on the connections they
// use, keeping their global identities (client ids, connection labels), so
// seeded fault picks hit the same clients as in one process. Open-loop
// arrival rates and closed-loop stage targets are split in the same
// proportion. Faults that act on the server and the target's leak check
// are shard 0's. `streambench merge` joins the shards' reports.
type Shard struct {
	Index, Count int
}

// String is "i/n".
func (s Shard) String() string { return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count) }

// ParseShard reads "i/n" (0 <= i < n).
func ParseShard(text string) (Shard, error) {
	a, b, ok := strings.Cut(text, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("%q is not i/n (e.g. 0/4: the first of four shards)", text)
	}
	s := Shard{Index: i, Count: n}
	return s, s.check()
}

// maxShards bounds a sharded run's shard count.
const maxShards = 10_000

func (s Shard) check() error {
	if s.Count < 1 || s.Count > maxShards || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %d/%d: want 0 <= i < n <= %d", s.Index, s.Count, maxShards)
	}
	return nil
}

// share is one group's part of the run: the global indices of the clients
// this process runs and of the connections they use, out of the group's
// total (all of them in an unsharded run).
type share struct {
	clients      []int
	conns        []int
	total        int // the group's clients in the whole run
	totalConns   int // and connections
	firstID      int32
	localConnFor map[int]int // global connection index -> position in conns
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
	kind   target.Kind
	target target.Target // the plan's own, never started: its capabilities
	link   string
	checks []assert.Assertion
	specs  []*fault.Spec
	leaks  leak.Options
	rpcs   *rpc.Catalog
	shares []share
	tr     transport
	// unchecked is what only the target can tell (rpc.Catalog.Verify).
	unchecked []string
}

// Unchecked says what validation could not check without the target, one
// entry per group concerned (a generic call resolved over server
// reflection: its method, templates and expectations); run checks it once
// the target is up.
func (p *Plan) Unchecked() []string { return slices.Clone(p.unchecked) }

// NewPlan resolves sc for one run with the given overrides, RPC catalog
// (WithRPCs) and target kinds (WithTargets, WithTargetKind); package
// streambench at the module's root gives the reference catalogs. sc is not
// changed. Every problem — of the scenario, of an override, or of the
// scenario under an override (a fault past an overridden duration) — is
// returned at once as scenario.Errors with file:line:column positions.
func NewPlan(sc *scenario.Scenario, opts ...PlanOption) (*Plan, error) {
	if sc == nil {
		return nil, scenario.Errors{{Msg: "no scenario"}}
	}
	cfg := planConfigOf(opts)
	ov, rpcs, targets := cfg.ov, cfg.rpcs, cfg.targets
	if rpcs == nil || (targets == nil && len(cfg.kinds) == 0) {
		return nil, errNoCatalog
	}
	if targets == nil {
		targets, _ = target.New()
	}
	for _, k := range cfg.kinds {
		var err error
		if targets, err = targets.With(k); err != nil {
			return nil, err
		}
	}
	errs := ov.check()
	eff := sc.Clone()
	if ov.AllowRemote {
		eff.AllowRemote()
	}
	eff.Defaults()
	rpcs.Defaults(eff)
	if len(errs) == 0 {
		ov.apply(eff)
	}
	if err := eff.Validate(); err != nil {
		es, _ := scenario.AsErrors(err)
		errs = append(errs, es...)
	}
	validated := map[string]bool{}
	for _, e := range errs {
		validated[e.Field] = true
	}
	errs = also(errs, rpcs.Validate(eff), validated)
	// What a group's RPC can check from the scenario's own files (a
	// generic call's .proto or protoset) is checked now, as validate
	// does, not once the target is up; a group with a problem already
	// is left to it.
	verified, unchecked := rpcs.Verify(eff, func(i int) bool {
		return cfg.noVerify || slices.ContainsFunc(errs, func(e *scenario.Error) bool {
			return strings.HasPrefix(e.Field, fmt.Sprintf("groups[%d].", i)) || e.Field == fmt.Sprintf("groups[%d]", i)
		})
	})
	errs = also(errs, verified, validated)
	p := &Plan{sc: eff, ov: ov, seed: eff.Seed, rpcs: rpcs, unchecked: unchecked}
	var err error
	if !validated["target"] && !validated["target.kind"] {
		p.kind, p.target, err = targets.Resolve(eff, eff.OverrideNote("target"))
		if es, ok := scenario.AsErrors(err); ok {
			errs = also(errs, es, validated)
		} else if err != nil {
			return nil, err
		}
	}
	if eff.Link.Kind == "" {
		eff.Link.Kind = link.DefaultFor(p.kind.InProcess)
	}
	p.link = eff.Link.Kind
	if p.target != nil && !p.kind.InProcess && p.link == link.KindBufconn {
		errs = also(errs, scenario.Errors{{File: eff.File, Pos: eff.PosOf("link"), Field: "link",
			Msg: fmt.Sprintf("bufconn is in-memory and reaches only a target in streambench's own process, such as the builtin target; reach the %s over tcp (the default) or toxiproxy", p.target.Label())}}, validated)
	}
	if len(errs) == 0 {
		host := ""
		if h, ok := p.target.(target.TLSHost); ok {
			host = h.TLSHost()
		}
		tr, es := transportOf(eff, host, p.tlsBase(sc))
		p.tr = tr
		errs = also(errs, es, validated)
	}
	if p.target != nil {
		p.specs, err = fault.Compile(eff, p.faultCaps())
		if es, ok := scenario.AsErrors(err); ok {
			errs = also(errs, es, validated)
		} else if err != nil {
			return nil, err
		}
	}
	if p.checks, err = assert.Compile(eff); err != nil {
		es, _ := scenario.AsErrors(err)
		errs = also(errs, es, validated)
	}
	p.leaks = leakOptions(p.checks)
	if len(errs) == 0 {
		// Shares divide valid groups only.
		errs = p.shard(eff)
	}
	if len(errs) > 0 {
		return nil, sorted(errs)
	}
	if p.seed == 0 {
		p.seed = rand.Int64N(1<<53) + 1
	}
	return p, nil
}

// errNoCatalog is NewPlan's error without the catalogs to draw on.
var errNoCatalog = errors.New("harness: a plan needs an RPC catalog and target kinds (harness.WithRPCs, harness.WithTargets): package streambench (github.com/streambench/streambench) gives the reference ones — streambench.NewPlan, streambench.Run, streambench.Load")

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
		if err := scenario.CheckAddress(ov.Target, ov.AllowRemote); err != nil {
			bad("target", "%v", err)
		}
	}
	switch {
	case ov.Target == "" && (ov.Insecure || ov.TLS != nil):
		bad("target", "insecure and tls apply to a target override only (run --target ADDR)")
	case ov.Target != "" && ov.Insecure && ov.TLS != nil:
		bad("target", "dial %s in plaintext (--insecure) or over TLS (--cacert ...), not both", ov.Target)
	case ov.Target != "" && !ov.Insecure && ov.TLS == nil:
		bad("target", "say how to dial %s: plaintext (run --insecure; harness.WithInsecure) or TLS (run --cacert FILE, with --cert and --key for mutual TLS; harness.WithTLS), as ghz and grpcurl require", ov.Target)
	case ov.TLS != nil && (ov.TLS.Cert == "") != (ov.TLS.Key == ""):
		bad("target", "give both a client certificate and its key (--cert and --key) or neither")
	}
	if ov.Shard != nil {
		if err := ov.Shard.check(); err != nil {
			bad("shard", "%v", err)
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
		eff.Target = scenario.Target{Address: ov.Target, Insecure: ov.Insecure, TLS: ov.TLS, Metadata: eff.Target.Metadata}
		eff.Link = scenario.Link{}
		eff.Override("target", "the target override")
	}
	if len(ov.Metadata) > 0 {
		if eff.Target.Metadata == nil {
			eff.Target.Metadata = map[string]string{}
		}
		maps.Copy(eff.Target.Metadata, ov.Metadata)
		eff.Override("target.metadata", "the metadata override")
	}
}

// compress multiplies every time of eff's timeline by f.
func compress(eff *scenario.Scenario, f float64) {
	d := func(x scenario.Duration) scenario.Duration { return scenario.Duration(float64(x) * f) }
	eff.Duration, eff.GracefulStop = d(eff.Duration), d(eff.GracefulStop)
	if b := eff.Target.Backends; b != nil {
		b.MaxConnectionAge, b.MaxConnectionAgeGrace = d(b.MaxConnectionAge), d(b.MaxConnectionAgeGrace)
	}
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

// tlsBase is the directory relative TLS files are read from: the
// scenario file's, unless the target came from an override (paths given
// on the command line are the working directory's).
func (p *Plan) tlsBase(sc *scenario.Scenario) string {
	if p.ov.Target != "" || sc.File == "" {
		return ""
	}
	return filepath.Dir(sc.File)
}

// TLS reports whether clients dial the target over TLS.
func (p *Plan) TLS() bool { return p.tr.tls != nil }

// faultCaps is what the plan's faults may act on: every network kind of
// its link (which sits in front of any target), and the target itself,
// whose capabilities decide the server and stream kinds.
func (p *Plan) faultCaps() fault.Caps {
	return fault.Caps{Link: p.link, Target: p.target, TargetName: p.target.Label()}
}

// FaultKinds lists the fault kinds this plan's link and target can take,
// asked as fault.Compile asks when it validates a timeline: the link's
// network kinds (link.KindsOf) and the server and stream kinds whose
// capability the target has (fault.TargetKinds), in registry order.
func (p *Plan) FaultKinds() []string {
	net := link.KindsOf(p.link)
	var out []string
	for _, k := range fault.Kinds {
		if k.Layer == fault.Network && slices.Contains(net, k.Name) {
			out = append(out, k.Name)
		}
	}
	return append(out, fault.TargetKinds(p.target)...)
}

// streamFaults reports whether the plan has a stream fault: only those
// need the clients to say who they are in each stream's metadata.
func (p *Plan) streamFaults() bool {
	for _, s := range p.specs {
		if s.Kind.Layer == fault.Stream {
			return true
		}
	}
	return false
}

// shard computes every group's share and, for a shard, scales what the
// groups' load models ask for to it and drops the server faults of shards
// other than 0. The effective scenario keeps the whole run's clients and
// connections; the shares say which of them this process runs.
func (p *Plan) shard(eff *scenario.Scenario) scenario.Errors {
	sh := p.ov.Shard
	var errs scenario.Errors
	if _, shared := p.target.(target.Shared); sh != nil && sh.Count > 1 && !shared {
		errs = append(errs, &scenario.Error{File: eff.File, Pos: eff.PosOf("target"), Field: "target",
			Msg: fmt.Sprintf("a sharded run needs a target every shard reaches, such as an address (--target), not a %s each process would run for itself", p.target.Label())})
	}
	var firstID int32
	for gi := range eff.Groups {
		g := &eff.Groups[gi]
		s := share{total: g.Clients, totalConns: g.Connections, firstID: firstID, localConnFor: map[int]int{}}
		firstID += int32(g.Clients)
		for j := range g.Clients {
			if sh != nil && j%sh.Count != sh.Index {
				continue
			}
			s.clients = append(s.clients, j)
			c := j % g.Connections
			if _, ok := s.localConnFor[c]; !ok {
				s.localConnFor[c] = len(s.conns)
				s.conns = append(s.conns, c)
			}
		}
		if sh != nil && sh.Count > 1 {
			frac := float64(len(s.clients)) / float64(g.Clients)
			for i := range g.Stages {
				g.Stages[i].Target = int(math.Round(float64(g.Stages[i].Target) * frac))
			}
			if a := g.Arrival; a != nil {
				a.Rate = scenario.Rate(float64(a.Rate) * frac)
				for i := range a.Stages {
					a.Stages[i].Target = scenario.Rate(float64(a.Stages[i].Target) * frac)
				}
			}
		}
		p.shares = append(p.shares, s)
	}
	if sh != nil && sh.Index > 0 {
		kept := p.specs[:0:0]
		for _, s := range p.specs {
			if s.Kind.Layer != fault.Server {
				kept = append(kept, s)
			}
		}
		p.specs = kept
	}
	return errs
}

// SetID identifies the run a shard belongs to: a hash of the scenario
// source, the seed, the shard count, the duration and the client scale.
// Every shard of one run computes the same.
func (p *Plan) SetID() string {
	h := sha256.New()
	n := 1
	if p.ov.Shard != nil {
		n = p.ov.Shard.Count
	}
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%v\x00%v\x00%s", p.sc.Source, p.seed, n, p.Duration(), deref(p.ov.ClientScale), p.sc.Target.Address)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Shard is the shard this plan runs (nil for a whole run).
func (p *Plan) Shard() *Shard {
	if p.ov.Shard == nil {
		return nil
	}
	s := *p.ov.Shard
	return &s
}

// also appends to errs the errors of a later check, except those about a
// field the scenario's own validation refused already (a fault without a
// kind is not refused again by the fault compiler).
func also(errs, later scenario.Errors, validated map[string]bool) scenario.Errors {
	for _, e := range later {
		if e.Field == "" || !validated[e.Field] {
			errs = append(errs, e)
		}
	}
	return errs
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

// Target is the target kind's name ("builtin", "address", "command", or
// a kind of the user's).
func (p *Plan) Target() string { return p.kind.Name }

// InProcess says the plan's target serves inside this process on a
// listener the link makes (target.Kind.InProcess): runs of it can go side
// by side.
func (p *Plan) InProcess() bool { return p.kind.InProcess }

// Link is the link kind clients reach the target over.
func (p *Plan) Link() string { return p.link }

// Overrides are the overrides the plan was made with.
func (p *Plan) Overrides() Overrides { return p.ov }

// Clients is how many clients this process runs in all (a shard's share).
func (p *Plan) Clients() int {
	n := 0
	for _, s := range p.shares {
		n += len(s.clients)
	}
	return n
}

// Describe is a one-line description for banners: "smoke (4 groups, 1200
// clients)", with the shard when there is one.
func (p *Plan) Describe() string {
	d := fmt.Sprintf("%s (%d groups, %d clients)", p.sc.Name, len(p.sc.Groups), p.Clients())
	if sh := p.ov.Shard; sh != nil {
		d += ", shard " + sh.String()
	}
	return d
}
