package scenario

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Limits Validate enforces.
const (
	MaxDuration    = Duration(24 * time.Hour)
	MaxFeedRate    = Rate(1_000_000)
	MaxPayload     = 4 * mib
	MaxClients     = 1_000_000
	MaxRing        = 10_000_000
	MaxQueue       = 1_000_000
	maxNameLen     = 128
	maxGroupNameLn = 64
)

var (
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	groupNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// Validate checks the scenario against the rules of format v1 and returns
// every problem it finds as Errors (nil when there is none), each with the
// position of the offending field when the scenario came from a file. Call
// Defaults first: Validate does not fill anything in.
func (s *Scenario) Validate() error {
	v := &validator{s: s}
	v.scenario()
	if len(v.errs) == 0 {
		return nil
	}
	SortErrors(v.errs)
	return v.errs
}

// validator collects the problems of one scenario.
type validator struct {
	s    *Scenario
	errs Errors
}

// add records a problem with the field at path.
func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.s.File, Pos: v.s.PosOf(path), Field: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) scenario() {
	s := v.s
	if s.Version != 0 && s.Version != Version {
		v.add("version", "unsupported version %d; supported versions: %d", s.Version, Version)
	}
	switch {
	case s.Name == "":
		v.add("name", "must be set; it names the report folder (out/<name>/)")
	case len(s.Name) > maxNameLen || !nameRE.MatchString(s.Name) || s.Name == "." || s.Name == "..":
		v.add("name", "%s is not a safe file name: use up to %d letters, digits, '.', '_' and '-'", quote(s.Name), maxNameLen)
	}
	switch d := s.Duration; {
	case d == 0 && !s.Has("duration"):
		v.add("duration", "must be set, e.g. duration: 30s")
	case d <= 0:
		v.add("duration", "must be > 0, got %s", d)
	case d > MaxDuration:
		v.add("duration", "must be at most %s, got %s", MaxDuration, d)
	}
	v.nonNegative("graceful_stop", s.GracefulStop)
	v.target()
	if len(s.Groups) == 0 {
		v.add("groups", "at least one group is required")
	}
	names := make(map[string]int)
	for i := range s.Groups {
		v.group(i, &s.Groups[i], names)
	}
	for i := range s.Groups {
		v.validateCovers(i)
	}
	v.chaos()
	for i, a := range s.Assert {
		if strings.TrimSpace(a.Expr) == "" && a.Key == "" {
			v.add(indexPath("assert", i), "empty assertion; %s", assertionForms)
		}
	}
}

func (v *validator) target() {
	s := v.s
	t := s.Target
	builtin, address, command := t.Builtin != nil, t.Address != "", len(t.Command) > 0
	addresses := t.Backends != nil && len(t.Backends.Addresses) > 0
	switch n := btoi(builtin) + btoi(address) + btoi(command) + btoi(addresses); {
	case n > 0 && t.Custom != "":
		v.add("target.kind", "names a target kind added in Go; the builtin, address and command kinds are chosen by their own keys, not with kind")
	case n > 1:
		v.add("target", "set exactly one of target.builtin, target.address and target.command (or target.backends.addresses), not several")
	case n == 0 && t.Custom == "":
		v.add("target", "set one of target.builtin, target.address and target.command")
	}
	if len(t.Settings) > 0 && t.Custom == "" {
		v.add("target.settings", "applies to a target kind named with target.kind only")
	}
	if address {
		v.address(t.Address)
	}
	v.backends(t)
	v.command(t)
	v.transport(t)
	if k := s.Link.Kind; k != "" && !slices.Contains(LinkKinds, k) {
		v.add("link", "%s", UnknownChoice("link", k, LinkKinds))
	}
	if b := s.Target.Builtin; b != nil {
		const p = "target.builtin."
		f := b.Feed
		if !(f.Rate > 0) || f.Rate > MaxFeedRate {
			v.add(p+"feed.rate", "must be > 0 and at most %s, got %s", MaxFeedRate, f.Rate)
		}
		v.size(p+"feed.payload", f.Payload)
		v.intRange(p+"feed.ring", f.Ring, 1, MaxRing)
		v.intRange(p+"feed.queue", f.Queue, 1, MaxQueue)
		k := b.Server.Keepalive
		v.nonNegative(p+"server.keepalive.time", k.Time)
		v.nonNegative(p+"server.keepalive.timeout", k.Timeout)
		v.nonNegative(p+"server.keepalive.min_time", k.MinTime)
		if w := b.Server.Window; w != 0 && (w < minWindow || w > 1<<31-1) {
			v.add(p+"server.window", "must be 0 (gRPC's dynamic windows) or from 64KiB to 2GiB-1, got %s", w)
		}
		v.buffers(p+"server.buffers.", b.Server.Buffers)
	}
}

// backends checks target.backends: replicas of the builtin or command
// target, or a list of addresses, and how they are balanced.
func (v *validator) backends(t Target) {
	b := t.Backends
	if b == nil || len(b.Addresses) > 0 {
		for _, a := range append(slices.Clone(t.Command), t.Env...) {
			if strings.Contains(a, epochToken) {
				v.add("target.command", "%s is the shared epoch of command replicas (target.backends.replicas); a single process has none", epochToken)
				break
			}
		}
	}
	if b == nil {
		return
	}
	const p = "target.backends."
	switch {
	case t.Custom != "":
		v.add("target.backends", "applies to the builtin and command targets and to a list of addresses, not to target.kind")
	case t.Address != "":
		v.add("target.address", "a target of several addresses lists them in target.backends.addresses")
	case len(b.Addresses) > 0 && b.Replicas != 0:
		v.add(p+"replicas", "set replicas (of the builtin or command target) or addresses, not both")
	case len(b.Addresses) == 0:
		v.intRange(p+"replicas", b.Replicas, 1, MaxReplicas)
	}
	for i, a := range b.Addresses {
		if err := CheckAddress(a, v.s.remote); err != nil {
			v.add(indexPath(p+"addresses", i), "%v", err)
		}
		if slices.Contains(b.Addresses[:i], a) {
			v.add(indexPath(p+"addresses", i), "%s is listed twice", a)
		}
	}
	if len(b.Addresses) > 0 && t.TLS == nil && !t.Insecure {
		v.add(p+"addresses", "say how to dial them: target.tls: {ca: FILE} for TLS, or target.insecure: true for plaintext")
	}
	if !slices.Contains(Balancers, b.Balancer) {
		v.add(p+"balancer", "%s", UnknownChoice("balancer", b.Balancer, Balancers))
	}
	switch {
	case b.Balancer != BalancerClient && b.Policy != "":
		v.add(p+"policy", "applies to balancer: client only (the l4 balancer sends each new connection to the next backend)")
	case b.Balancer == BalancerClient && !slices.Contains(Policies, b.Policy):
		v.add(p+"policy", "%s", UnknownChoice("policy", b.Policy, Policies))
	}
	v.nonNegative(p+"max_connection_age", b.MaxConnectionAge)
	v.nonNegative(p+"max_connection_age_grace", b.MaxConnectionAgeGrace)
	if b.MaxConnectionAge > 0 && len(b.Addresses) > 0 {
		v.add(p+"max_connection_age", "applies to backends streambench runs (replicas); a running server sets its own")
	}
	if b.MaxConnectionAge > 0 && len(t.Command) > 0 {
		v.add(p+"max_connection_age", "a command target sets its own (streambench serve --max-connection-age); see docs/backends.md")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// portToken is replaced in a command target's argv and env by the port it
// must listen on.
const portToken = "{port}"

// epochToken is replaced in command replicas' argv and env by their shared
// epoch (package targets/backends).
const epochToken = "{epoch}"

// PprofPortToken is replaced in a command target's argv, env and pprof URL
// by a second free loopback port, for the process's net/http/pprof.
const PprofPortToken = "{pprof_port}"

// command checks a command target's settings, and that the other target
// kinds set none of them.
func (v *validator) command(t Target) {
	if len(t.Command) == 0 {
		for _, f := range []struct {
			name string
			set  bool
		}{{"env", len(t.Env) > 0}, {"dir", t.Dir != ""}, {"ready", t.Ready != nil}, {"stop_timeout", t.StopTimeout != 0}} {
			if f.set {
				v.add("target."+f.name, "applies to a command target only (target.command)")
			}
		}
		return
	}
	if t.Command[0] == "" {
		v.add("target.command", "the program (the first entry) must not be empty")
	}
	hasPort := false
	for _, a := range append(append([]string(nil), t.Command...), t.Env...) {
		hasPort = hasPort || strings.Contains(a, portToken)
	}
	if !hasPort {
		v.add("target.command", "tell the process where to listen: put %s in an argument or an env entry (e.g. --addr 127.0.0.1:%s); streambench picks a free loopback port", portToken, portToken)
	}
	for i, e := range t.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			v.add(indexPath("target.env", i), "%s is not KEY=VALUE", quote(e))
		}
	}
	if r := t.Ready; r != nil {
		if r.TCP && r.Log != "" {
			v.add("target.ready", "give one of tcp and log (or neither: grpc.health.v1 SERVING)")
		}
		if r.Log != "" {
			if _, err := regexp.Compile(r.Log); err != nil {
				v.add("target.ready.log", "not a regexp: %v", err)
			}
		}
		if r.Timeout <= 0 || r.Timeout > MaxDuration {
			v.add("target.ready.timeout", "must be > 0 and at most %s, got %s", MaxDuration, r.Timeout)
		}
	}
	v.nonNegative("target.stop_timeout", t.StopTimeout)
}

// transport checks how streambench dials the target: tls or insecure
// (an address target must pick one, as ghz and grpcurl require; a command
// target is plaintext unless it sets tls; the builtin target is
// in-process and takes neither), the metadata sent with every call, and
// the pprof endpoint of the leak check.
func (v *validator) transport(t Target) {
	external := t.Address != "" || len(t.Command) > 0 || (t.Backends != nil && len(t.Backends.Addresses) > 0)
	if !external {
		for _, f := range []struct {
			name string
			set  bool
		}{{"tls", t.TLS != nil}, {"insecure", t.Insecure}, {"pprof", t.Pprof != ""}} {
			if f.set {
				v.add("target."+f.name, "applies to an address or command target only (the builtin target is in-process)")
			}
		}
	}
	switch {
	case t.TLS != nil && t.Insecure:
		v.add("target.insecure", "set tls or insecure: true, not both")
	case t.Address != "" && t.TLS == nil && !t.Insecure:
		v.add("target.address", "say how to dial %s: target.tls: {ca: FILE} for TLS, or target.insecure: true for plaintext (as ghz and grpcurl require)", t.Address)
	}
	if c := t.TLS; c != nil && (c.Cert == "") != (c.Key == "") {
		v.add("target.tls", "give both cert and key (mutual TLS) or neither")
	}
	if err := CheckMetadata(t.Metadata); err != nil {
		for _, e := range err {
			v.add("target.metadata."+e.key, "%s", e.msg)
		}
	}
	if t.Pprof != "" {
		v.pprof(t, external)
	}
}

// pprof checks the base URL of a Go target's net/http/pprof: a command
// target's may name {pprof_port}, which its process must be told too, and
// never {port}, its gRPC port (replaced in the URL as well, so the leak
// check would ask the gRPC server for pprof).
func (v *validator) pprof(t Target, external bool) {
	pprof := t.Pprof
	inArgs := false
	for _, a := range append(slices.Clone(t.Command), t.Env...) {
		inArgs = inArgs || strings.Contains(a, PprofPortToken)
	}
	if strings.Contains(pprof, portToken) {
		// Said here, not as CheckPprof's "not a base URL".
		switch {
		case len(t.Command) == 0 && external:
			v.add("target.pprof", "%s names a port streambench picks for a command target's process; an address target's pprof has a port of its own", portToken)
		case len(t.Command) == 0:
			// The builtin target: told above that pprof is not its.
		case inArgs:
			v.add("target.pprof", "%s is the port the process serves gRPC on, not pprof: use %s, the second port streambench picks", portToken, PprofPortToken)
		default:
			v.add("target.pprof", "%s is the port the process serves gRPC on, not pprof: use %s, a second port streambench picks, and tell the process it too (e.g. --pprof 127.0.0.1:%s)", portToken, PprofPortToken, PprofPortToken)
		}
		return
	}
	if strings.Contains(pprof, PprofPortToken) {
		switch {
		case len(t.Command) == 0:
			v.add("target.pprof", "%s names a port streambench picks for a command target's process; an address target's pprof has a port of its own", PprofPortToken)
		case !inArgs:
			v.add("target.pprof", "tell the process where to serve pprof: put %s in an argument or an env entry too (e.g. --pprof 127.0.0.1:%s)", PprofPortToken, PprofPortToken)
		}
		pprof = strings.ReplaceAll(pprof, PprofPortToken, "1")
	}
	if err := CheckPprof(pprof, v.s.remote); err != nil {
		v.add("target.pprof", "%v", err)
	}
}

// MetadataError is one bad entry of a metadata map.
type MetadataError struct{ key, msg string }

// Error implements error.
func (e MetadataError) Error() string { return fmt.Sprintf("metadata %s: %s", quote(e.key), e.msg) }

// CheckMetadata checks static gRPC metadata: keys are what gRPC sends as
// ASCII headers (lowercase letters, digits, '-', '_' and '.', not starting
// with "grpc-", which gRPC reserves, and not ending in "-bin", which marks
// binary values), values printable ASCII. It returns every bad entry, in
// key order.
func CheckMetadata(md map[string]string) []MetadataError {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []MetadataError
	for _, k := range keys {
		bad := func(format string, args ...any) {
			errs = append(errs, MetadataError{key: k, msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case !metadataKeyRE.MatchString(k):
			bad("%s is not a gRPC metadata key: use lowercase letters, digits, '-', '_' and '.'", quote(k))
		case strings.HasPrefix(k, "grpc-"):
			bad("keys starting with \"grpc-\" are reserved for gRPC itself")
		case strings.HasSuffix(k, "-bin"):
			bad("binary metadata (a key ending in \"-bin\") is not supported; send text values")
		}
		for _, r := range md[k] {
			if r < 0x20 || r > 0x7e {
				bad("the value must be printable ASCII; it holds %U", r)
				break
			}
		}
		for _, m := range metadataVarRE.FindAllStringSubmatch(md[k], -1) {
			if !slices.Contains(MetadataVars, m[1]) {
				bad("{{%s}} is not a metadata variable; variables: %s", m[1], strings.Join(MetadataVars, ", "))
			}
		}
	}
	return errs
}

var metadataKeyRE = regexp.MustCompile(`^[0-9a-z_.-]+$`)

// MetadataVars are what a metadata value may name, as {{name}}: the
// client's id, its group, and how many streams it opened before this one.
var MetadataVars = []string{"client", "group", "stream"}

var metadataVarRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// CheckPprof checks a pprof base URL: http on a loopback host:port
// (any host when remote), no query.
func CheckPprof(raw string, remote bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%s is not a base URL such as http://127.0.0.1:6060", quote(raw))
	}
	if err := CheckAddress(u.Host, remote); err != nil {
		return err
	}
	if _, port, _ := net.SplitHostPort(u.Host); port == "0" {
		return fmt.Errorf("port %s must be a number from 1 to 65535", quote(port))
	}
	return nil
}

// address checks that addr is host:port on a loopback host, with a port a
// server can be dialled at (not 0).
func (v *validator) address(addr string) {
	const p = "target.address"
	if err := CheckAddress(addr, v.s.remote); err != nil {
		v.add(p, "%v", err)
		return
	}
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		v.add(p, "port %s must be a number from 1 to 65535", quote(port))
	}
}

func (v *validator) group(i int, g *Group, names map[string]int) {
	p := indexPath("groups", i) + "."
	switch {
	case g.Name == "":
		// The RPC catalog says it: the name may default from the RPC.
	case len(g.Name) > maxGroupNameLn || !groupNameRE.MatchString(g.Name):
		v.add(p+"name", "%s is not a valid group name: use up to %d letters, digits, '_' and '-' (no dots: assertions use them)", quote(g.Name), maxGroupNameLn)
	default:
		if j, dup := names[g.Name]; dup {
			v.add(p+"name", "duplicate group name %s (also groups[%d])", quote(g.Name), j)
		} else {
			names[g.Name] = i
		}
	}
	clientsOK := v.intRange(p+"clients", g.Clients, 1, MaxClients)
	switch {
	case g.Connections < 1:
		v.add(p+"connections", "must be >= 1, got %d", g.Connections)
	case clientsOK && g.Connections > g.Clients:
		v.add(p+"connections", "must be at most clients (%d), got %d", g.Clients, g.Connections)
	}
	v.nonNegative(p+"interval", g.Interval)
	v.nonNegative(p+"pause", g.Pause)
	v.nonNegative(p+"stream_timeout", g.StreamTimeout)
	v.size(p+"payload", g.Payload)
}

// intRange checks lo <= n <= hi and reports whether it holds.
func (v *validator) intRange(path string, n, lo, hi int) bool {
	if n < lo || n > hi {
		if n == 0 && !v.s.Has(path) {
			v.add(path, "must be set (%d to %d)", lo, hi)
		} else {
			v.add(path, "must be %d to %d, got %d", lo, hi, n)
		}
		return false
	}
	return true
}

func (v *validator) nonNegative(path string, d Duration) {
	if d < 0 {
		v.add(path, "must be >= 0, got %s", d)
	}
}

func (v *validator) size(path string, s Size) {
	if s < 0 || s > MaxPayload {
		v.add(path, "must be 0 to %s, got %s", MaxPayload, s)
	}
}
