package link

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// NetKind describes one network fault kind: its name, what it does, the
// scenario settings it reads and which links can inject it. The table below
// is the one list of network kinds: the fault registry, `streambench list`,
// the docs test and the links' Kinds() read it. A kind's own settings are a
// struct of its own (LatencySettings, ...) whose methods hold its rules and
// its effect on each link, the way each toxiproxy toxic is a struct with
// its own fields: adding a kind is a row and its settings type.
type NetKind struct {
	// Name is the kind as written in scenarios (kind: latency).
	Name string
	// Doc says what it does, in a sentence.
	Doc string
	// Instant kinds act once when applied (sever): a for: is meaningless.
	Instant bool
	// Settings are the settings a scenario may write for it, by YAML name:
	// its own, then direction and toxicity (Params holds them).
	Settings []string
	// ToxiproxyOnly kinds exist only as toxiproxy toxics.
	ToxiproxyOnly bool
	// WrappedOnly kinds exist only on links that wrap each connection
	// (bufconn, tcp): toxiproxy cannot do them.
	WrappedOnly bool
	// Slows: the kind only slows or stops data; it never breaks a
	// connection by itself.
	Slows bool

	// downstream: its default direction is downstream (else both).
	downstream bool
	// noDirection, noToxicity: it takes no direction (sever cuts both)
	// or no toxicity.
	noDirection, noToxicity bool
	// zero is its settings type's zero value; Fault.Settings must hold a
	// value of that type (or nil for the zero value).
	zero Settings
}

// Settings are one network kind's own settings: a struct of the kind's whose
// yaml-tagged fields (with a doc tag for `streambench list`) are the
// settings a scenario writes for it. Its methods are the kind's: its rules
// (check), its text in Fault.String (String, when it has values), its
// effect on a wrapped connection (fold) and its toxiproxy toxic (toxic,
// units). Only this package defines them.
type Settings interface {
	// check reports each invalid value through bad.
	check(bad func(format string, args ...any))
}

// What a kind's settings may do besides check, found by type assertion:
type (
	// wrapped kinds run on bufconn and tcp links: fold adds the kind's
	// effect to one direction's state of a wrapped connection.
	wrapped interface{ fold(s *dirState) }
	// toxic kinds run on toxiproxy as one toxic per direction.
	toxic interface {
		toxic() (typ string, attrs map[string]any)
	}
	// counted kinds have values toxiproxy's units cannot express.
	counted interface{ units() error }
)

// The settings of each kind.
type (
	// SeverSettings: sever takes no settings.
	SeverSettings struct{}
	// BlackholeSettings: blackhole takes no settings of its own.
	BlackholeSettings struct{}
	// LatencySettings: each chunk is delayed by Latency plus a uniform draw
	// in [-Jitter, Jitter). Jitter <= Latency.
	LatencySettings struct {
		Latency scenario.Duration `yaml:"latency" doc:"duration" domain:"1ms..1s ~100ms"`
		Jitter  scenario.Duration `yaml:"jitter" doc:"duration" domain:"0s..latency"`
	}
	// BandwidthSettings: Rate is the cap in bytes per second.
	BandwidthSettings struct {
		Rate scenario.Size `yaml:"rate" doc:"bytes per second, e.g. 64KiB" domain:"1000..1000000 ~64000"`
	}
	// SlicerSettings: slices of AverageSize ± SizeVariation bytes, Delay
	// apart.
	SlicerSettings struct {
		AverageSize   scenario.Size     `yaml:"average_size" doc:"bytes" domain:"16..16384 ~1024"`
		SizeVariation scenario.Size     `yaml:"size_variation" doc:"bytes" domain:"0..average_size"`
		Delay         scenario.Duration `yaml:"delay" doc:"duration" domain:"0s..10ms ~1ms"`
	}
	// LimitDataSettings: Bytes is the limit.
	LimitDataSettings struct {
		Bytes scenario.Size `yaml:"bytes" doc:"bytes" domain:"1024..1048576 ~65536"`
	}
	// SlowCloseSettings: Delay is how long a close is delayed.
	SlowCloseSettings struct {
		Delay scenario.Duration `yaml:"delay" doc:"duration" domain:"10ms..2s ~200ms"`
	}
	// TimeoutSettings: data stops, and the connection closes after Timeout
	// (0: never).
	TimeoutSettings struct {
		Timeout scenario.Duration `yaml:"timeout" doc:"duration" domain:"0s..5s ~1s"`
	}
	// ResetPeerSettings: the connection is reset after Timeout.
	ResetPeerSettings struct {
		Timeout scenario.Duration `yaml:"timeout" doc:"duration" domain:"0s..2s ~100ms"`
	}
	// HalfOpenSettings: Hold is the side held open and silent, "server"
	// (the default: the client's side dies) or "client".
	HalfOpenSettings struct {
		Hold string `yaml:"hold" doc:"server | client: the side held open and silent (default server)" domain:"server|client"`
	}
)

// netKinds is every network fault kind, in documentation order: each row
// and its settings type (below) are the whole kind.
var netKinds = table(
	NetKind{Name: Sever, Instant: true, noDirection: true, noToxicity: true, zero: SeverSettings{},
		Doc: "close the matching connections abruptly in both directions (an RST where the link can send one); clients reconnect"},
	NetKind{Name: Blackhole, Slows: true, noToxicity: true, zero: BlackholeSettings{},
		Doc: "bytes stop flowing on the matching connections, which stay open; data resumes when reverted"},
	NetKind{Name: Latency, Slows: true, zero: LatencySettings{},
		Doc: "add latency ± jitter to every chunk on the matching connections (order kept)"},
	NetKind{Name: Bandwidth, Slows: true, zero: BandwidthSettings{},
		Doc: "cap throughput of the matching connections at rate bytes per second"},
	NetKind{Name: Slicer, Slows: true, zero: SlicerSettings{},
		Doc: "slice data into chunks of average_size ± size_variation bytes, delay apart"},
	NetKind{Name: LimitData, downstream: true, zero: LimitDataSettings{},
		Doc: "close each matching connection after bytes bytes"},
	NetKind{Name: SlowClose, Slows: true, zero: SlowCloseSettings{},
		Doc: "delay the close of matching connections by delay"},
	NetKind{Name: Timeout, ToxiproxyOnly: true, zero: TimeoutSettings{},
		Doc: "toxiproxy: stop all data and close the connection after timeout (0: never close)"},
	NetKind{Name: ResetPeer, ToxiproxyOnly: true, downstream: true, zero: ResetPeerSettings{},
		Doc: "toxiproxy: reset the connection (TCP RST) after timeout"},
	NetKind{Name: HalfOpen, WrappedOnly: true, noDirection: true, noToxicity: true, zero: HalfOpenSettings{},
		Doc: "end the matching connections on one side only: hold server (default) closes the client's side at once (it redials) while the server's stays open and silent, no FIN or RST, until the window ends (default: the end of the run); hold client closes the server's side while the client's hangs silent"},
)

func (SeverSettings) check(func(string, ...any)) {}

func (BlackholeSettings) check(func(string, ...any)) {}
func (BlackholeSettings) fold(s *dirState)           { s.blackhole = true }

// toxic: a timeout toxic with timeout 0 drops data for good.
func (BlackholeSettings) toxic() (string, map[string]any) {
	return Timeout, map[string]any{"timeout": 0}
}

func (l LatencySettings) check(bad func(string, ...any)) {
	if l.Latency <= 0 {
		bad("latency: must be set and > 0, got %v", l.Latency)
	}
	if l.Jitter < 0 || l.Jitter > l.Latency {
		bad("jitter %v: must be in [0, latency]", l.Jitter)
	}
}

// String describes the settings, for Fault.String.
func (l LatencySettings) String() string { return fmt.Sprintf("%v±%v", l.Latency, l.Jitter) }
func (l LatencySettings) fold(s *dirState) {
	s.latency += l.Latency.D()
	s.jitter += l.Jitter.D()
}
func (l LatencySettings) toxic() (string, map[string]any) {
	return Latency, map[string]any{"latency": l.Latency.D().Milliseconds(), "jitter": l.Jitter.D().Milliseconds()}
}
func (l LatencySettings) units() error {
	return errors.Join(wholeMS("latency", l.Latency), wholeMS("jitter", l.Jitter))
}

func (b BandwidthSettings) check(bad func(string, ...any)) {
	if b.Rate <= 0 {
		bad("rate: must be set and > 0 (bytes per second, e.g. 64KiB), got %d", int64(b.Rate))
	}
}

// String describes the settings, for Fault.String.
func (b BandwidthSettings) String() string { return fmt.Sprintf("%dB/s", int64(b.Rate)) }
func (b BandwidthSettings) fold(s *dirState) {
	if s.rate == 0 || int64(b.Rate) < s.rate {
		s.rate = int64(b.Rate) // the lowest rate wins
	}
}
func (b BandwidthSettings) toxic() (string, map[string]any) {
	return Bandwidth, map[string]any{"rate": int64(b.Rate) / 1000}
}
func (b BandwidthSettings) units() error {
	if b.Rate < 1000 || b.Rate%1000 != 0 {
		return fmt.Errorf("rate %d B/s: toxiproxy counts whole KB/s (multiples of 1000 B/s)", int64(b.Rate))
	}
	return nil
}

func (c SlicerSettings) check(bad func(string, ...any)) {
	if c.AverageSize <= 0 {
		bad("average_size: must be set and > 0, got %d", int64(c.AverageSize))
	}
	if c.SizeVariation < 0 || c.SizeVariation >= c.AverageSize {
		bad("slice variation %d: must be in [0, average)", int64(c.SizeVariation))
	}
	if c.Delay < 0 {
		bad("slice delay %v: negative", c.Delay)
	}
}

// String describes the settings, for Fault.String.
func (c SlicerSettings) String() string {
	return fmt.Sprintf("%d±%dB/%v", int64(c.AverageSize), int64(c.SizeVariation), c.Delay)
}
func (c SlicerSettings) fold(s *dirState) { s.slice = c } // the last slicer wins
func (c SlicerSettings) toxic() (string, map[string]any) {
	return Slicer, map[string]any{"average_size": int(c.AverageSize), "size_variation": int(c.SizeVariation), "delay": c.Delay.D().Microseconds()}
}
func (c SlicerSettings) units() error {
	if c.Delay.D()%time.Microsecond != 0 {
		return fmt.Errorf("slice delay %v: toxiproxy counts whole microseconds", c.Delay)
	}
	return nil
}

func (l LimitDataSettings) check(bad func(string, ...any)) {
	if l.Bytes <= 0 {
		bad("bytes: must be set and > 0, got %d", int64(l.Bytes))
	}
}

// String describes the settings, for Fault.String.
func (l LimitDataSettings) String() string   { return fmt.Sprintf("%dB", int64(l.Bytes)) }
func (l LimitDataSettings) fold(s *dirState) { s.limit = true }
func (l LimitDataSettings) toxic() (string, map[string]any) {
	return LimitData, map[string]any{"bytes": int64(l.Bytes)}
}

func (c SlowCloseSettings) check(bad func(string, ...any)) {
	if c.Delay <= 0 {
		bad("delay: must be set and > 0, got %v", c.Delay)
	}
}

// String describes the settings, for Fault.String.
func (c SlowCloseSettings) String() string   { return c.Delay.String() }
func (c SlowCloseSettings) fold(s *dirState) { s.slowClose = max(s.slowClose, c.Delay.D()) }
func (c SlowCloseSettings) toxic() (string, map[string]any) {
	return SlowClose, map[string]any{"delay": c.Delay.D().Milliseconds()}
}
func (c SlowCloseSettings) units() error { return wholeMS("delay", c.Delay) }

func (t TimeoutSettings) check(bad func(string, ...any)) { nonNegative("timeout", t.Timeout, bad) }

// String describes the settings, for Fault.String.
func (t TimeoutSettings) String() string { return t.Timeout.String() }
func (t TimeoutSettings) toxic() (string, map[string]any) {
	return Timeout, map[string]any{"timeout": t.Timeout.D().Milliseconds()}
}
func (t TimeoutSettings) units() error { return wholeMS("timeout", t.Timeout) }

func (r ResetPeerSettings) check(bad func(string, ...any)) { nonNegative("timeout", r.Timeout, bad) }

// String describes the settings, for Fault.String.
func (r ResetPeerSettings) String() string { return r.Timeout.String() }
func (r ResetPeerSettings) toxic() (string, map[string]any) {
	return ResetPeer, map[string]any{"timeout": r.Timeout.D().Milliseconds()}
}
func (r ResetPeerSettings) units() error { return wholeMS("timeout", r.Timeout) }

func (h HalfOpenSettings) check(bad func(string, ...any)) {
	if h.Hold != "" && h.Hold != HoldServer && h.Hold != HoldClient {
		bad("hold: %s", scenario.UnknownChoice("side", h.Hold, []string{HoldServer, HoldClient}))
	}
}

// String describes the settings, for Fault.String.
func (h HalfOpenSettings) String() string { return "hold " + h.side() }

// side is the side held: Hold, or the server's by default.
func (h HalfOpenSettings) side() string {
	if h.Hold == "" {
		return HoldServer
	}
	return h.Hold
}

// wholeMS rejects a duration toxiproxy cannot count in whole milliseconds.
func wholeMS(name string, d scenario.Duration) error {
	if d.D()%time.Millisecond != 0 {
		return fmt.Errorf("%s %v: toxiproxy counts whole milliseconds", name, d)
	}
	return nil
}

// nonNegative rejects a negative duration.
func nonNegative(name string, d scenario.Duration, bad func(string, ...any)) {
	if d < 0 {
		bad("%s %v: negative", name, d)
	}
}

// The settings every kind but sever takes besides its own (blackhole takes
// no toxicity).
var (
	directionField = reflect.StructField{Name: "Direction", Type: reflect.TypeFor[string](),
		Tag: `yaml:"direction" doc:"upstream | downstream | both" domain:"upstream|downstream|both"`}
	toxicityField = reflect.StructField{Name: "Toxicity", Type: reflect.TypeFor[float64](),
		Tag: `yaml:"toxicity" doc:"0..1, toxiproxy link only" domain:"0..1 toxiproxy"`}
)

// table completes each row's Settings from its fields: the kind's own,
// then direction and toxicity (the order errors list them in).
func table(rows ...NetKind) []NetKind {
	for i := range rows {
		var own, shared []string
		for _, f := range rows[i].fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if f.Name == directionField.Name || f.Name == toxicityField.Name {
				shared = append(shared, name)
			} else {
				own = append(own, name)
			}
		}
		rows[i].Settings = append(own, shared...)
	}
	return rows
}

// fields are the struct fields of the settings a scenario writes for k, in
// order: direction, the kind's own, toxicity.
func (k NetKind) fields() []reflect.StructField {
	var out []reflect.StructField
	if !k.noDirection {
		out = append(out, directionField)
	}
	t := reflect.TypeOf(k.zero)
	for i := range t.NumField() {
		out = append(out, t.Field(i))
	}
	if !k.noToxicity {
		out = append(out, toxicityField)
	}
	return out
}

// Params returns a pointer to a new struct of the settings a scenario
// writes for k (Settings, in that order, with yaml and doc tags), for the
// fault registry to decode into; Fault reads it back.
func (k NetKind) Params() any {
	return reflect.New(reflect.StructOf(k.fields())).Interface()
}

// Fault is the fault of kind k with the settings params (from Params,
// decoded) and seed.
func (k NetKind) Fault(params any, seed uint64) Fault {
	v := reflect.ValueOf(params).Elem()
	f := Fault{Kind: k.Name, Seed: seed}
	if d := v.FieldByName(directionField.Name); d.IsValid() {
		f.Direction = d.String()
	}
	if t := v.FieldByName(toxicityField.Name); t.IsValid() {
		f.Toxicity = t.Float()
	}
	s := reflect.New(reflect.TypeOf(k.zero)).Elem()
	for i := range s.NumField() {
		s.Field(i).Set(v.FieldByName(s.Type().Field(i).Name))
	}
	f.Settings = s.Interface().(Settings)
	return f
}

// kindOf returns the row of kind name.
func kindOf(name string) (NetKind, bool) {
	for _, k := range netKinds {
		if k.Name == name {
			return k, true
		}
	}
	return NetKind{}, false
}

// NetKinds returns every network fault kind, in documentation order.
func NetKinds() []NetKind {
	out := slices.Clone(netKinds)
	for i := range out {
		out[i].Settings = slices.Clone(out[i].Settings)
	}
	return out
}

// kindNames lists the kinds for which keep is true, sorted.
func kindNames(keep func(NetKind) bool) []string {
	var out []string
	for _, k := range netKinds {
		if keep(k) {
			out = append(out, k.Name)
		}
	}
	slices.Sort(out)
	return out
}
