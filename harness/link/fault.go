package link

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"slices"
	"strings"
)

// Network fault kinds.
const (
	// Sever closes the matching live connections abruptly, both directions
	// at once (an RST on tcp and toxiproxy). Instant: revert does nothing.
	Sever = "sever"
	// Blackhole stops bytes while the connection stays open. On bufconn
	// and tcp the bytes are held and flow again on revert; on toxiproxy
	// (a timeout toxic with timeout 0) they are dropped and revert closes
	// the connections.
	Blackhole = "blackhole"
	// Latency delays every chunk by Latency ± Jitter, pipelined; order is
	// kept (jitter never reorders).
	Latency = "latency"
	// Bandwidth caps throughput at Rate bytes per second per direction.
	Bandwidth = "bandwidth"
	// Slicer cuts data into slices of SliceAverage ± SliceVariation bytes
	// with SliceDelay between them.
	Slicer = "slicer"
	// LimitData closes the connection once Bytes bytes went through in the
	// direction since the fault started.
	LimitData = "limit_data"
	// SlowClose delays the close of the connection by Delay.
	SlowClose = "slow_close"
	// Timeout (toxiproxy only) stops data and closes the connection after
	// Timeout (0: never).
	Timeout = "timeout"
	// ResetPeer (toxiproxy only) resets (RST) each connection on the first
	// data after Timeout.
	ResetPeer = "reset_peer"
	// HalfOpen (wrapped links only) ends the matching connections on one
	// side only and holds the other open and silent until reverted: with
	// Hold "server" (the default) the client sees its connection die and
	// redials while the server's side stays open, nothing forwarded, no FIN
	// and no RST; with "client" the server's side closes while the
	// client's stays open and silent. Revert closes the held side.
	HalfOpen = "half_open"
)

// The sides half_open holds.
const (
	HoldServer = "server"
	HoldClient = "client"
)

// Directions. Upstream is client to server.
const (
	Upstream   = "upstream"
	Downstream = "downstream"
	Both       = "both"
)

// Directions lists the valid Fault.Direction values ("" means the kind's
// default, see Fault).
var Directions = []string{Upstream, Downstream, Both}

// Fault is one network fault, as plain data: its kind, the settings every
// kind shares (direction, toxicity, seed) and the kind's own Settings.
type Fault struct {
	// Kind is one of the kind constants (Sever, Blackhole, ...).
	Kind string
	// Direction is Upstream (client to server), Downstream or Both. ""
	// means Both, except for LimitData and ResetPeer where it means
	// Downstream. Sever is always Both.
	Direction string
	// Settings are the kind's own: a LatencySettings for Latency, a
	// BandwidthSettings for Bandwidth, and so on (see NetKind). nil means
	// the zero settings, which is all Sever and Blackhole have.
	Settings Settings
	// Toxicity in (0, 1] is the fraction of matching connection labels the
	// fault hits; 0 means 1. The pick is a deterministic function of Seed
	// and the label, so the same seed hits the same labels (unlike
	// toxiproxy's own toxicity, which is an unseeded draw per connection;
	// the link passes toxicity 1 to toxiproxy).
	Toxicity float64
	// Seed drives the toxicity pick and the jitter of wrapped connections.
	// Give each fault of a timeline its own seed, derived from the
	// scenario's.
	Seed uint64
}

// settings returns f's settings: f.Settings, or its kind's zero settings
// when nil (nil for an unknown kind).
func (f Fault) settings() Settings {
	if f.Settings != nil {
		return f.Settings
	}
	if k, ok := kindOf(f.Kind); ok {
		return k.zero
	}
	return nil
}

// String describes f briefly, for errors and logs.
func (f Fault) String() string {
	var b strings.Builder
	b.WriteString(f.Kind)
	if f.Direction != "" {
		b.WriteString(" " + f.Direction)
	}
	if s, ok := f.settings().(fmt.Stringer); ok {
		b.WriteString(" " + s.String())
	}
	if f.Toxicity != 0 {
		fmt.Fprintf(&b, " toxicity %g", f.Toxicity)
	}
	return b.String()
}

// dirs returns which directions f acts on: [upstream, downstream].
func (f Fault) dirs() [2]bool {
	switch f.Direction {
	case Upstream:
		return [2]bool{true, false}
	case Downstream:
		return [2]bool{false, true}
	case Both:
		return [2]bool{true, true}
	}
	if k, ok := kindOf(f.Kind); ok && k.downstream {
		return [2]bool{false, true}
	}
	return [2]bool{true, true}
}

// Validate checks f's fields regardless of the link: the kind, the shared
// settings, and the kind's own by its rules. CheckFor also checks that a
// link can do it.
func (f Fault) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	k, known := kindOf(f.Kind)
	if !known {
		bad("kind %q: not one of %s", f.Kind, strings.Join(kindNames(func(NetKind) bool { return true }), ", "))
	}
	if f.Direction != "" && !slices.Contains(Directions, f.Direction) {
		bad("direction %q: not one of %s", f.Direction, strings.Join(Directions, ", "))
	}
	if k.noDirection && (f.Direction == Upstream || f.Direction == Downstream) {
		bad("direction %q: a %s cuts both directions", f.Direction, f.Kind)
	}
	if f.Toxicity < 0 || f.Toxicity > 1 || math.IsNaN(f.Toxicity) {
		bad("toxicity %v: not in [0, 1]", f.Toxicity)
	}
	if known {
		if s := f.settings(); reflect.TypeOf(s) != reflect.TypeOf(k.zero) {
			bad("settings %T: not those of %s (%T)", s, f.Kind, k.zero)
		} else {
			s.check(bad)
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// hits reports whether f hits label l: l matches and the seeded toxicity
// pick selects it.
func (f Fault) hits(match func(Label) bool, l Label) bool {
	if match != nil && !match(l) {
		return false
	}
	if f.Toxicity == 0 || f.Toxicity >= 1 {
		return true
	}
	return unit(f.Seed, l) < f.Toxicity
}

// unit maps (seed, label) to a uniform float in [0, 1).
func unit(seed uint64, l Label) float64 {
	return float64(mix(seed, l)>>11) / (1 << 53)
}

// mix hashes (seed, label) into 64 well-mixed bits.
func mix(seed uint64, l Label) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	fmt.Fprintf(h, "%s\x00%d", l.Group, l.Conn)
	x := h.Sum64()
	// splitmix64 finaliser: fnv alone mixes the low bits poorly.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// UnsupportedError says a link cannot do a fault kind, and which it can.
type UnsupportedError struct {
	// Link is the link kind, Kind the fault kind it cannot do.
	Link, Kind string
	// Kinds are the fault kinds it can do, sorted.
	Kinds []string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("link %s cannot do %s; network kinds it can do: %s", e.Link, e.Kind, strings.Join(e.Kinds, ", "))
}

// CheckFor reports whether a link of kind linkKind can inject f as given:
// the kind is one it supports (else an *UnsupportedError), the settings are
// valid, and on toxiproxy they are in the units toxiproxy counts (whole
// milliseconds, KB/s). It is the one rule of which link does which fault:
// each link's Apply, the fault registry and KindsOf follow it. It needs no
// live link, so a scenario validator can reject such a fault before the
// run.
func CheckFor(linkKind string, f Fault) error {
	kinds := KindsOf(linkKind)
	if kinds == nil {
		return fmt.Errorf("link %q: not one of %s", linkKind, strings.Join(LinkKinds, ", "))
	}
	k, known := kindOf(f.Kind)
	if known && !supports(linkKind, k) {
		return &UnsupportedError{Link: linkKind, Kind: f.Kind, Kinds: kinds}
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%s link: fault %s: %w", linkKind, f.Kind, err)
	}
	if s, ok := f.settings().(counted); ok && linkKind == KindToxiproxy {
		return s.units()
	}
	return nil
}

// supports reports whether a link of kind linkKind (a known one) does
// fault kind k: toxiproxy all but the wrapped-only ones, bufconn and tcp
// all but the toxiproxy-only ones.
func supports(linkKind string, k NetKind) bool {
	if linkKind == KindToxiproxy {
		return !k.WrappedOnly
	}
	return !k.ToxiproxyOnly
}

// supportsName is supports for a fault kind by name (false if unknown).
func supportsName(linkKind, kind string) bool {
	k, ok := kindOf(kind)
	return ok && supports(linkKind, k)
}
