// Package rpc is the catalog of RPCs a client group can drive. Each RPC is
// an Entry: the factory of its client driver, what that driver supports
// (message counts, slow reading, the idle watchdog, open-loop arrival,
// resuming), the defaults it gives a group, and the checks of the group
// settings only it reads. The plan asks the catalog; nothing switches on an
// RPC's name. The reference RPCs' entries live next to their drivers
// (targets/longlived, targets/math) and are listed once, in
// streambench.go (package streambench, the module root).
package rpc

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/scenario"
)

// DefaultMessages is the messages per stream of an RPC that counts them
// (Entry.Caps.Messages) when its group sets none.
const DefaultMessages = 10

// MaxMessages bounds a group's messages per stream.
const MaxMessages = 10_000_000

// Caps are what an RPC's driver supports beyond opening streams.
type Caps struct {
	// Messages: a stream carries a fixed number of messages
	// (groups[].messages, default DefaultMessages).
	Messages bool
	// Read: the driver reads a server stream slowly on request
	// (groups[].read).
	Read bool
	// Idle: the driver runs the per-stream idle watchdog (groups[].idle).
	Idle bool
	// Arrival: streams are finite, so an open-loop arrival schedule
	// applies (groups[].arrival).
	Arrival bool
	// Resume: a client resumes a stream where the last one stopped (a
	// subscriber asks for the next seq it needs).
	Resume bool
}

// Entry is one RPC of the catalog.
type Entry struct {
	// Name is the RPC as groups write it (rpc: Math/Pow).
	Name string
	// Short is the name a group driving it gets when it has none ("pow").
	Short string
	// Doc says what a stream of it does, in a sentence.
	Doc string
	// Caps are what its driver supports.
	Caps Caps
	// Settings are the group fields only this RPC reads ("base"); any
	// other RPC's group setting one is an error.
	Settings []string
	// Defaults, when set, fills in the RPC's own settings of g; has
	// reports whether the file set a field (a path relative to the group,
	// e.g. "base").
	Defaults func(g *scenario.Group, has func(field string) bool)
	// Check, when set, validates the RPC's own settings of g (after
	// Defaults); it returns the offending field (relative to the group)
	// and the problem, or "" when there is none.
	Check func(g scenario.Group, has func(field string) bool) (field, problem string)
	// Configure, when set, copies the RPC's own settings of g into a
	// client's driver parameters.
	Configure func(g scenario.Group, p *driver.Params)
	// ImpliedBy, when set, is a group setting that selects this entry when
	// the group names no rpc (a group with a call drives the generic RPC).
	ImpliedBy string
	// Setup, when set, prepares a group once before its clients start,
	// with a connection to the target (the generic RPC resolves its method
	// there, over server reflection if need be); the result reaches every
	// client's driver as Params.Setup. dir is the scenario file's folder,
	// for paths relative to it; bad builds the error of a problem that is
	// the scenario's (an unknown method), at the group's field (relative
	// to the group, e.g. "call.method").
	Setup func(ctx context.Context, g scenario.Group, dir string, bad func(field, msg string) error, cc grpc.ClientConnInterface) (any, error)
	// Verify, when set, checks before the run, without the target, what
	// Setup would check wherever the scenario's own files hold it (a
	// generic call's .proto files or protoset: its templates and
	// expectations against the method's types), so that validate decides
	// what run decides. dir and bad are as for Setup. unchecked says what
	// only the target can tell (a method resolved over server reflection),
	// "" when nothing is left.
	Verify func(ctx context.Context, g scenario.Group, dir string, bad func(field, msg string) error) (unchecked string, err error)
	// Factory builds one client's driver.
	Factory driver.Factory
}

// RunErrors is what a group's setup (Entry.Setup's result) implements when
// its drivers can meet problems that make the run's figures meaningless —
// a request that could not be built — so that the run lists them among its
// errors, in the summary, rather than only in stream ends' samples.
type RunErrors interface {
	// RunErrors returns the problems met during the run (none: nil).
	RunErrors() []error
}

// Catalog is an immutable set of RPC entries.
type Catalog struct {
	entries []Entry
}

// New builds a catalog of entries, in documentation order. Every entry
// needs a name and a factory, and names must be unique.
func New(entries ...Entry) (*Catalog, error) {
	seen := map[string]bool{}
	for _, e := range entries {
		switch {
		case e.Name == "":
			return nil, fmt.Errorf("rpc catalog: an entry has no name")
		case e.Factory == nil:
			return nil, fmt.Errorf("rpc catalog: %s has no driver factory", e.Name)
		case seen[e.Name]:
			return nil, fmt.Errorf("rpc catalog: %s listed twice", e.Name)
		}
		seen[e.Name] = true
	}
	return &Catalog{entries: slices.Clone(entries)}, nil
}

// Lookup returns the entry called name.
func (c *Catalog) Lookup(name string) (Entry, bool) {
	for _, e := range c.entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Entries returns every entry, in documentation order.
func (c *Catalog) Entries() []Entry { return slices.Clone(c.entries) }

// Names lists every entry's name, in documentation order.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.entries))
	for i, e := range c.entries {
		out[i] = e.Name
	}
	return out
}

// Defaults fills in what sc's groups leave out that depends on their RPC:
// the messages per stream of an RPC that counts them, the RPC's own
// settings, and a group's name when it is the only unnamed group of its
// RPC and no group has that name already. A field the file sets is never
// replaced. Defaults is idempotent.
func (c *Catalog) Defaults(sc *scenario.Scenario) {
	taken := map[string]bool{}
	unnamed := map[string]int{}
	for _, g := range sc.Groups {
		if g.Name != "" {
			taken[g.Name] = true
		} else {
			unnamed[g.RPC]++
		}
	}
	for i := range sc.Groups {
		g := &sc.Groups[i]
		if g.RPC == "" {
			for _, e := range c.entries {
				if e.ImpliedBy != "" && fieldSet(*g, e.ImpliedBy) {
					g.RPC = e.Name
				}
			}
		}
		e, ok := c.Lookup(g.RPC)
		if !ok {
			continue
		}
		has := groupHas(sc, i)
		if e.Caps.Messages && g.Messages == 0 && !has("messages") {
			g.Messages = DefaultMessages
		}
		if e.Defaults != nil {
			e.Defaults(g, has)
		}
		if g.Name == "" && e.Short != "" && unnamed[g.RPC] == 1 && !taken[e.Short] {
			g.Name = e.Short
		}
	}
}

// Validate checks what sc's groups set against their RPC's entry: the RPC
// exists, the group uses only what its driver supports, and the RPC's own
// settings are valid. Errors carry positions.
func (c *Catalog) Validate(sc *scenario.Scenario) scenario.Errors {
	var errs scenario.Errors
	for i, g := range sc.Groups {
		p := fmt.Sprintf("groups[%d].", i)
		add := func(field, format string, args ...any) {
			errs = append(errs, &scenario.Error{File: sc.File, Pos: sc.PosOf(p + field), Field: p + field, Msg: fmt.Sprintf(format, args...)})
		}
		e, ok := c.Lookup(g.RPC)
		switch {
		case g.RPC == "":
			add("rpc", "must be set; valid choices: %s%s", scenario.OneOf(c.Names()), c.implied())
			continue
		case !ok:
			add("rpc", "%s", scenario.UnknownChoice("rpc", g.RPC, c.Names()))
			continue
		}
		has := groupHas(sc, i)
		if g.Name == "" && e.Short != "" {
			add("name", "must be set (it defaults to %q only when one unnamed group drives %s and no group has that name)", e.Short, g.RPC)
		}
		if e.Caps.Messages {
			if g.Messages < 1 || g.Messages > MaxMessages {
				add("messages", "must be 1 to %d, got %d", MaxMessages, g.Messages)
			}
		} else if g.Messages != 0 {
			add("messages", "%s streams carry no message count (messages applies to %s)", g.RPC, scenario.OneOf(c.with(func(c Caps) bool { return c.Messages })))
		}
		if (g.Read != scenario.Read{}) && !e.Caps.Read {
			add("read", "slow reading is implemented for %s only, not %s", scenario.OneOf(c.with(func(c Caps) bool { return c.Read })), g.RPC)
		}
		if g.Idle > 0 && !e.Caps.Idle {
			add("idle", "the idle watchdog is implemented for %s only; bound a %s stream with stream_timeout", scenario.OneOf(c.with(func(c Caps) bool { return c.Idle })), g.RPC)
		}
		if g.Arrival != nil && !e.Caps.Arrival {
			add("arrival", "open-loop arrival applies to RPCs with finite streams (%s); %s is one long-lived stream per client", scenario.OneOf(c.with(func(c Caps) bool { return c.Arrival })), g.RPC)
		}
		for _, s := range c.settings() {
			if (has(s) || fieldSet(g, s)) && !slices.Contains(e.Settings, s) {
				add(s, "%s applies to %s only, not %s", s, scenario.OneOf(c.owners(s)), g.RPC)
			}
		}
		if e.Check != nil && !slices.ContainsFunc(errs, func(x *scenario.Error) bool { return strings.HasPrefix(x.Field, p+"messages") }) {
			if field, problem := e.Check(g, has); problem != "" {
				add(field, "%s", problem)
			}
		}
	}
	return errs
}

// verifyWait bounds one group's Verify (compiling its .proto files).
const verifyWait = 30 * time.Second

// Verify runs each group's Entry.Verify, but for the groups skip names
// (those Validate already found a problem in): the problems it finds are
// scenario errors at the group's field; unchecked says, group by group,
// what only the target can tell ("groups[1] (watch): ...").
func (c *Catalog) Verify(sc *scenario.Scenario, skip func(group int) bool) (errs scenario.Errors, unchecked []string) {
	dir := ""
	if sc.File != "" {
		dir = filepath.Dir(sc.File)
	}
	for i, g := range sc.Groups {
		e, ok := c.Lookup(g.RPC)
		if !ok || e.Verify == nil || skip(i) {
			continue
		}
		p := fmt.Sprintf("groups[%d].", i)
		bad := func(field, msg string) error {
			return scenario.Errors{{File: sc.File, Pos: sc.PosOf(p + field), Field: p + field, Msg: msg}}
		}
		ctx, cancel := context.WithTimeout(context.Background(), verifyWait)
		note, err := e.Verify(ctx, g, dir, bad)
		cancel()
		if es, ok := scenario.AsErrors(err); ok {
			errs = append(errs, es...)
		} else if err != nil {
			errs = append(errs, &scenario.Error{File: sc.File, Pos: sc.PosOf(p + "rpc"), Field: p + "rpc", Msg: err.Error()})
		}
		if note != "" {
			unchecked = append(unchecked, fmt.Sprintf("groups[%d] (%s): %s", i, g.Name, note))
		}
	}
	return errs, unchecked
}

// implied says which settings select an entry without rpc.
func (c *Catalog) implied() string {
	var out string
	for _, e := range c.entries {
		if e.ImpliedBy != "" {
			out += fmt.Sprintf(" (or set %s: for %s)", e.ImpliedBy, e.Name)
		}
	}
	return out
}

// with lists the entries whose caps satisfy ok.
func (c *Catalog) with(ok func(Caps) bool) []string {
	var out []string
	for _, e := range c.entries {
		if ok(e.Caps) {
			out = append(out, e.Name)
		}
	}
	return out
}

// settings lists every RPC-specific group setting of the catalog.
func (c *Catalog) settings() []string {
	var out []string
	for _, e := range c.entries {
		for _, s := range e.Settings {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// owners lists the entries that read setting s.
func (c *Catalog) owners(s string) []string {
	var out []string
	for _, e := range c.entries {
		if slices.Contains(e.Settings, s) {
			out = append(out, e.Name)
		}
	}
	return out
}

// fieldSet reports whether g's field with YAML name name is non-zero (a
// group built in code has no positions to tell what it set).
func fieldSet(g scenario.Group, name string) bool {
	v := reflect.ValueOf(g)
	for i := range v.NumField() {
		if tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); tag == name {
			return !v.Field(i).IsZero()
		}
	}
	return false
}

// groupHas reports whether the file set field of group i.
func groupHas(sc *scenario.Scenario, i int) func(string) bool {
	p := fmt.Sprintf("groups[%d].", i)
	return func(field string) bool { return sc.Has(p + field) }
}
