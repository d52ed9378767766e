package link

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"
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
)

// Directions. Upstream is client to server.
const (
	Upstream   = "upstream"
	Downstream = "downstream"
	Both       = "both"
)

var (
	// wrappedKinds are the kinds bufconn and tcp links implement.
	wrappedKinds = kindNames(func(k NetKind) bool { return !k.ToxiproxyOnly })
	// toxiproxyKinds are the kinds toxiproxy links implement: all.
	toxiproxyKinds = kindNames(func(NetKind) bool { return true })
	// Directions lists the valid Fault.Direction values ("" means the
	// kind's default, see Fault).
	Directions = []string{Upstream, Downstream, Both}
)

// Fault is one network fault, as plain data. Only the fields of its Kind
// matter; the others must be zero.
type Fault struct {
	// Kind is one of the kind constants (Sever, Blackhole, ...).
	Kind string
	// Direction is Upstream (client to server), Downstream or Both. ""
	// means Both, except for LimitData and ResetPeer where it means
	// Downstream. Sever is always Both.
	Direction string
	// Latency and Jitter (Latency kind): each chunk is delayed by Latency
	// plus a uniform draw in [-Jitter, Jitter). Jitter <= Latency.
	Latency, Jitter time.Duration
	// Rate is the Bandwidth cap in bytes per second.
	Rate int64
	// SliceAverage, SliceVariation (bytes) and SliceDelay shape Slicer.
	SliceAverage, SliceVariation int
	SliceDelay                   time.Duration
	// Bytes is the LimitData limit.
	Bytes int64
	// Delay is the SlowClose delay.
	Delay time.Duration
	// Timeout is the Timeout and ResetPeer delay.
	Timeout time.Duration
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

// String describes f briefly, for errors and logs.
func (f Fault) String() string {
	var b strings.Builder
	b.WriteString(f.Kind)
	if f.Direction != "" {
		b.WriteString(" " + f.Direction)
	}
	if k, ok := kindOf(f.Kind); ok && k.describe != nil {
		b.WriteString(" " + k.describe(f))
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

// Validate checks f's fields regardless of the link. Link.Apply also
// checks that the link supports the kind.
func (f Fault) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !slices.Contains(toxiproxyKinds, f.Kind) {
		bad("kind %q: not one of %s", f.Kind, strings.Join(toxiproxyKinds, ", "))
	}
	if f.Direction != "" && !slices.Contains(Directions, f.Direction) {
		bad("direction %q: not one of %s", f.Direction, strings.Join(Directions, ", "))
	}
	if f.Kind == Sever && (f.Direction == Upstream || f.Direction == Downstream) {
		bad("direction %q: a sever cuts both directions", f.Direction)
	}
	if f.Toxicity < 0 || f.Toxicity > 1 || math.IsNaN(f.Toxicity) {
		bad("toxicity %v: not in [0, 1]", f.Toxicity)
	}
	// Each kind's own fields must be valid, every other field zero.
	used := map[string]bool{}
	if k, ok := kindOf(f.Kind); ok {
		for _, name := range k.fields {
			used[name] = true
		}
		if k.validate != nil {
			k.validate(f, bad)
		}
	}
	for name, set := range map[string]bool{
		"latency": f.Latency != 0, "jitter": f.Jitter != 0, "rate": f.Rate != 0,
		"slice_average": f.SliceAverage != 0, "slice_variation": f.SliceVariation != 0,
		"slice_delay": f.SliceDelay != 0, "bytes": f.Bytes != 0, "delay": f.Delay != 0,
		"timeout": f.Timeout != 0,
	} {
		if set && !used[name] {
			bad("%s: not a parameter of %s", name, f.Kind)
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// check validates f for a link of kind link supporting kinds.
func (f Fault) check(link string, kinds []string) error {
	if slices.Contains(toxiproxyKinds, f.Kind) && !slices.Contains(kinds, f.Kind) {
		return fmt.Errorf("%s link: fault kind %q not supported; valid kinds: %s", link, f.Kind, strings.Join(kinds, ", "))
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%s link: fault %s: %w", link, f.Kind, err)
	}
	return nil
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

// CheckFor reports whether a link of kind linkKind can inject f as given:
// the kind is one it supports, the settings are valid, and on toxiproxy
// they are in the units toxiproxy counts (whole milliseconds, KB/s). It
// needs no live link, so a scenario validator can reject such a fault
// before the run.
func CheckFor(linkKind string, f Fault) error {
	if linkKind == "" {
		linkKind = KindBufconn
	}
	kinds := KindsOf(linkKind)
	if kinds == nil {
		return fmt.Errorf("link %q: not one of %s", linkKind, strings.Join(LinkKinds, ", "))
	}
	if err := f.check(linkKind, kinds); err != nil {
		return err
	}
	if linkKind == KindToxiproxy {
		return checkToxiproxyUnits(f)
	}
	return nil
}
