package scenario

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits Validate enforces.
const (
	MaxDuration    = Duration(24 * time.Hour)
	MaxFeedRate    = Rate(1_000_000)
	MaxPayload     = 4 * mib
	MaxClients     = 1_000_000
	MaxMessages    = 10_000_000
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
	sortErrors(v.errs)
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
	v.chaos()
	for i, a := range s.Assert {
		if strings.TrimSpace(a.Expr) == "" && a.Key == "" {
			v.add(indexPath("assert", i), "empty assertion; %s", assertionForms)
		}
	}
}

func (v *validator) target() {
	s := v.s
	builtin, address := s.Target.Builtin != nil, s.Target.Address != ""
	switch {
	case builtin && address:
		v.add("target", "set exactly one of target.builtin and target.address, not both")
	case !builtin && !address:
		v.add("target", "set one of target.builtin and target.address")
	}
	if address {
		v.address(s.Target.Address)
	}
	if k := s.Link.Kind; k != "" && !slices.Contains(LinkKinds, k) {
		v.add("link", "%s", unknownChoice("link", k, LinkKinds))
	} else if address && k == LinkBufconn {
		v.add("link", "bufconn does not apply to an address target, which is reached over TCP; remove link or write link: tcp")
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

// address checks that addr is host:port on a loopback host.
func (v *validator) address(addr string) {
	const p = "target.address"
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(p, "%s is not host:port (e.g. 127.0.0.1:50051)", quote(addr))
		return
	}
	if !isLoopback(host) {
		v.add(p, "host %s is not a loopback address; streambench only talks to 127.0.0.0/8, ::1 or localhost", quote(host))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.add(p, "port %s must be a number from 1 to 65535", quote(port))
	}
}

// isLoopback reports whether host is localhost or a loopback IP.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) group(i int, g *Group, names map[string]int) {
	p := indexPath("groups", i) + "."
	switch {
	case g.Name == "":
		// Without a valid rpc the rpc error says it all: fixing it may
		// give the group its default name.
		if short, ok := rpcShortNames[g.RPC]; ok {
			v.add(p+"name", "must be set (it defaults to %q only when one unnamed group drives %s and no group has that name)", short, g.RPC)
		}
	case len(g.Name) > maxGroupNameLn || !groupNameRE.MatchString(g.Name):
		v.add(p+"name", "%s is not a valid group name: use up to %d letters, digits, '_' and '-' (no dots: assertions use them)", quote(g.Name), maxGroupNameLn)
	default:
		if j, dup := names[g.Name]; dup {
			v.add(p+"name", "duplicate group name %s (also groups[%d])", quote(g.Name), j)
		} else {
			names[g.Name] = i
		}
	}
	switch {
	case g.RPC == "":
		v.add(p+"rpc", "must be set; valid choices: %s", oneOf(RPCs))
	case !slices.Contains(RPCs, g.RPC):
		v.add(p+"rpc", "%s", unknownChoice("rpc", g.RPC, RPCs))
	}
	clientsOK := v.intRange(p+"clients", g.Clients, 1, MaxClients)
	switch {
	case g.Connections < 1:
		v.add(p+"connections", "must be >= 1, got %d", g.Connections)
	case clientsOK && g.Connections > g.Clients:
		v.add(p+"connections", "must be at most clients (%d), got %d", g.Clients, g.Connections)
	}
	if isMath(g.RPC) && v.intRange(p+"messages", g.Messages, 1, MaxMessages) && g.RPC == RPCPow {
		if b := g.BaseOrDefault(); powOverflows(b, g.Messages-1) {
			field := p + "messages"
			if g.Base != nil && v.s.Has(p+"base") {
				field = p + "base"
			}
			v.add(field, "Pow's last result base^(messages-1) = %d^%d overflows int64; with base %d, messages may be at most %d",
				b, g.Messages-1, b, maxPowMessages(b))
		}
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

// absU is |b| as an unsigned number (exact for math.MinInt64).
func absU(b int64) uint64 {
	if b < 0 {
		return uint64(-(b + 1)) + 1
	}
	return uint64(b)
}

// powOverflows reports whether |b|^e exceeds math.MaxInt64.
func powOverflows(b int64, e int) bool {
	a := absU(b)
	if a <= 1 {
		return false
	}
	r := uint64(1)
	for range e {
		if r > math.MaxInt64/a {
			return true
		}
		r *= a
	}
	return false
}

// maxPowMessages is the largest message count whose last Pow result,
// |b|^(messages-1), fits an int64 (|b| >= 2).
func maxPowMessages(b int64) int {
	a := absU(b)
	e := 0
	for r := uint64(1); r <= math.MaxInt64/a; r *= a {
		e++
	}
	return e + 1
}
