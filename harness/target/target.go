// Package target is the catalog of target kinds: what a run's clients talk
// to. A kind is an object in one file of its own (the builtin reference
// servers, an address, a command streambench starts; targets/ holds them):
// it says how clients reach it, starts and stops what it owns and names
// itself in the report. What else it can do it says by implementing
// optional capability interfaces, found by a type assertion, the way
// toxiproxy's toxics are: the server faults' fault.Restarter,
// fault.ConnectionAger and fault.Pauser, the stream faults' fault.StreamHost,
// and this package's Prober, Gauged, Resident, Watched, Shared, Stats and
// TLSHost. A fault asks the target for the interface it needs; nothing
// else in the engine asks which kind a target is.
//
// The catalog is assembled above the engine (package streambench at the
// module root, or a user's own code) and given to the plan
// (harness.WithTargets); the engine depends on these interfaces only.
package target

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// Target is one kind's target for one run. Its constructor (Kind.New) has
// no side effects: the plan makes one to validate the scenario's faults
// against its capabilities, and every run makes its own to start.
type Target interface {
	// Label names the target's kind for validation errors, with what
	// tells it apart ("builtin target", "address target (127.0.0.1:7070)").
	Label() string
	// Name names the running target in errors and events ("the builtin
	// target", "target 127.0.0.1:7070").
	Name() string
	// Start starts what the target owns and puts the link in front of
	// it; clients reach it as the returned Reach says. A target that
	// could not be started or reached is an error (the run measures
	// nothing).
	Start(ctx context.Context, env Env) (Reach, error)
	// Stop stops what the target owns, giving streams in flight up to
	// grace. Idempotent. A Resident target is stopped before the leak
	// check; any other after it has taken the target's own evidence.
	Stop(grace time.Duration) error
	// Describe is the report's record of the target.
	Describe() Description
}

// Reach is how clients reach a started target.
type Reach struct {
	// Link is the link in front of the target; the engine owns it from
	// here and closes it after the target stops.
	Link link.Link
	// Authority is the :authority clients present: the target's own
	// address, not the link's internal dial name ("" in-process).
	Authority string
	// Addr is the host:port the target listens at, which the engine dials
	// past the link to tell why no connection became ready ("" for an
	// in-process target).
	Addr string
}

// Description is the report's record of a target.
type Description struct {
	// Target is the report's target line ("builtin",
	// "passthrough:///127.0.0.1:7070", "command: ./server --port 9").
	Target string
	// Process is what streambench knows of a process it ran (nil
	// otherwise).
	Process *reports.TargetProcess
}

// Env is what a target gets from the run to start.
type Env struct {
	// Link is the link kind the plan put in front of the target, and
	// Toxiproxy an external toxiproxy server's API address ("" for the
	// embedded one).
	Link, Toxiproxy string
	// Creds are the transport credentials clients dial with (a target's
	// readiness check dials the same way).
	Creds credentials.TransportCredentials
	// Home is the scenario file's folder ("" when it has none), for paths
	// relative to it.
	Home string
	// Artifacts is the folder a target may write files to besides the
	// report (a process's output); "" keeps nothing.
	Artifacts string
	// Event records a moment on the run's timeline.
	Event func(kind, fault, detail string)
	// Crashed is told, once, that the target ended by itself mid-run:
	// why, in a sentence that names it. The run ends with that error.
	Crashed func(why string)
	// Elapsed is the time since the run's clients started (0 before).
	Elapsed func() time.Duration
}

// Front puts the env's link in front of a target listening at addr: what
// a target that is not in-process returns as its Reach.
func (env Env) Front(addr string) (Reach, error) {
	l, err := link.Front(env.Link, addr, env.Toxiproxy)
	if err != nil {
		return Reach{}, fmt.Errorf("link: %w", err)
	}
	return Reach{Link: l, Authority: addr, Addr: addr}, nil
}

// Resident is a target that lives in streambench's own process: it is
// stopped before the leak check (whose goroutine and fd figures must see
// it gone), and Released after it.
type Resident interface {
	// Release lets go what the target kept for the leak check to see
	// (a planted bug's stranded handlers), so the process ends clean.
	Release()
}

// Prober is a target that can say which of its streams are still open
// after the clients closed theirs: the leak check's server side.
type Prober interface {
	// Probes are the leak check's probes of the target's own view (its
	// stream registry, or channelz over dial). shard0 is false for the
	// shards of a sharded run other than the first, whose target is the
	// first's to judge. Nil when there is nothing to ask (a process that
	// died).
	Probes(dial []grpc.DialOption, shard0 bool) []leak.Probe
}

// Gauged is a target whose own figures (its process's threads, fds and
// RSS, a Go target's goroutines over pprof) the leak check takes before
// load and after teardown.
type Gauged interface {
	// Gauges are the figures to take; unavailable names each source the
	// target cannot give and why ("pprof": "no target.pprof given").
	Gauges(shard0 bool) (gauges []leak.Gauge, unavailable []Unavailable)
	// Restarts is how many times the target's process was started again
	// during the run: its figures before load then belong to an earlier
	// process.
	Restarts() int
}

// Unavailable is a source of evidence a target cannot give, and why.
type Unavailable struct{ Source, Why string }

// Watched is a target streambench does not own: it learns that the
// target died from the connections, and from a direct dial of WatchAddr.
type Watched interface {
	// WatchAddr is the host:port dialed past the link to tell a dead
	// target from a link fault.
	WatchAddr() string
}

// Shared is a target every shard of a sharded run reaches (a running
// address), as opposed to one each process would run for itself.
type Shared interface {
	// SharedBy says which target the shards share, for errors.
	SharedBy() string
}

// Stats is a target with measurements of its own for the report (the
// reference servers' send times and slow-reader backlog).
type Stats interface {
	Stats() (*reports.ServerStats, error)
}

// TLSHost is a target clients may dial over TLS: the host its certificate
// is checked against by default.
type TLSHost interface {
	TLSHost() string
}

// Spec is what a kind makes a target from: the effective scenario (its
// defaults and overrides applied; read only), and for errors the note of
// an override that set the target ("" when the scenario did).
type Spec struct {
	Scenario *scenario.Scenario
	Override string
}

// Kind is one entry of the catalog.
type Kind struct {
	// Name is the kind as a scenario names it: the key of its target
	// block (target: {builtin: ...}) or target.kind.
	Name string
	// Doc says what it is, in a sentence.
	Doc string
	// InProcess: the target serves on a listener the link makes (the
	// link defaults to bufconn); otherwise the link fronts an address
	// (tcp by default).
	InProcess bool
	// New makes the target of a plan, without side effects. A setting it
	// refuses is a scenario.Errors at its field.
	New func(s Spec) (Target, error)
}

// Catalog is an immutable set of target kinds.
type Catalog struct {
	kinds []Kind
}

// New builds a catalog of kinds, in documentation order. Every kind needs
// a name and a constructor, and names must be unique.
func New(kinds ...Kind) (*Catalog, error) {
	c := &Catalog{}
	for _, k := range kinds {
		if _, dup := c.Lookup(k.Name); dup {
			return nil, fmt.Errorf("target catalog: kind %s listed twice", k.Name)
		}
		var err error
		if c, err = c.With(k); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// With returns a copy of c with k added, or replacing the kind of the same
// name (a planted bug's builtin target replaces the reference one).
func (c *Catalog) With(k Kind) (*Catalog, error) {
	switch {
	case k.Name == "":
		return nil, fmt.Errorf("target catalog: a kind has no name")
	case k.New == nil:
		return nil, fmt.Errorf("target catalog: kind %s has no constructor", k.Name)
	}
	out := &Catalog{kinds: slices.Clone(c.kinds)}
	if i := slices.IndexFunc(out.kinds, func(x Kind) bool { return x.Name == k.Name }); i >= 0 {
		out.kinds[i] = k
	} else {
		out.kinds = append(out.kinds, k)
	}
	return out, nil
}

// Lookup returns the kind called name.
func (c *Catalog) Lookup(name string) (Kind, bool) {
	for _, k := range c.kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Names lists the kinds, in catalog order.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.kinds))
	for i, k := range c.kinds {
		out[i] = k.Name
	}
	return out
}

// Kinds lists the kinds, in catalog order.
func (c *Catalog) Kinds() []Kind { return slices.Clone(c.kinds) }

// Resolve finds the kind of the effective scenario sc's target and makes
// its target. An unknown kind is an error at target.kind naming the
// catalog's kinds.
func (c *Catalog) Resolve(sc *scenario.Scenario, override string) (Kind, Target, error) {
	name := sc.Target.Kind()
	k, ok := c.Lookup(name)
	if !ok {
		path := "target"
		if sc.Target.Custom != "" {
			path = "target.kind"
		}
		return Kind{}, nil, scenario.Errors{{File: sc.File, Pos: sc.PosOf(path), Field: path,
			Msg: scenario.UnknownChoice("target kind", name, c.Names())}}
	}
	t, err := k.New(Spec{Scenario: sc, Override: override})
	if err != nil {
		return Kind{}, nil, err
	}
	return k, t, nil
}

// Label names a target kind in errors: "builtin target", "address target
// (127.0.0.1:7070)".
func Label(kind, detail string) string {
	if detail == "" {
		return kind + " target"
	}
	return kind + " target (" + detail + ")"
}

// Pprof is the leak check's gauge of a Go target's goroutines at url (its
// net/http/pprof base URL, target.pprof), or why there is none: no URL
// given, or a shard other than the first (whose target is the first's to
// judge).
func Pprof(url string, shard0 bool) ([]leak.Gauge, string) {
	switch {
	case !shard0:
		return nil, "a sharded run's target is shard 0's to judge"
	case url == "":
		return nil, "no target.pprof given (a Go target's net/http/pprof base URL)"
	}
	return []leak.Gauge{leak.PprofGauge{URL: url}}, ""
}
