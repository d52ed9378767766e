package link

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// NetKind describes one network fault kind: its name, what it does, the
// scenario settings it reads (names of Params fields) and which links can
// inject it. The table below is the one list of network kinds: the fault
// registry, `streambench list`, the docs test and the links' Kinds() read
// it; Fault.Validate holds each kind's rules.
type NetKind struct {
	// Name is the kind as written in scenarios (kind: latency).
	Name string
	// Doc says what it does, in a sentence.
	Doc string
	// Instant kinds act once when applied (sever): a for: is meaningless.
	Instant bool
	// Settings are the Params fields it reads, by YAML name.
	Settings []string
	// ToxiproxyOnly kinds exist only as toxiproxy toxics.
	ToxiproxyOnly bool
	// Slows: the kind only slows or stops data; it never breaks a
	// connection by itself.
	Slows bool

	// What the kind does, in each place that needs it:
	// downstream: its default direction is downstream (else both);
	downstream bool
	// fields: the Fault fields it reads (by the names Validate reports);
	fields []string
	// validate: its rules on those fields;
	validate func(f Fault, bad func(format string, args ...any))
	// describe: its settings in Fault.String;
	describe func(f Fault) string
	// fold: its effect on one direction of a wrapped connection (bufconn
	// and tcp; nil for a kind the wrapper handles itself or cannot do);
	fold func(s *dirState, f Fault)
	// toxic: its toxiproxy toxic type and attributes;
	toxic func(f Fault) (typ string, attrs map[string]any)
	// units: what toxiproxy's units cannot express.
	units func(f Fault) error
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

// wholeMS rejects a duration toxiproxy cannot count in whole milliseconds.
func wholeMS(name string, d time.Duration) error {
	if d%time.Millisecond != 0 {
		return fmt.Errorf("%s %v: toxiproxy counts whole milliseconds", name, d)
	}
	return nil
}

// netKinds is every network fault kind, in documentation order: each row
// is the whole kind.
var netKinds = []NetKind{
	{Name: Sever, Instant: true, Doc: "close the matching connections abruptly in both directions (an RST where the link can send one); clients reconnect"},
	{Name: Blackhole, Slows: true, Settings: []string{"direction"}, Doc: "bytes stop flowing on the matching connections, which stay open; data resumes when reverted",
		fold: func(s *dirState, _ Fault) { s.blackhole = true },
		// toxiproxy: a timeout toxic with timeout 0 drops data for good.
		toxic: func(Fault) (string, map[string]any) { return Timeout, map[string]any{"timeout": 0} }},
	{Name: Latency, Slows: true, Settings: []string{"latency", "jitter", "direction", "toxicity"}, Doc: "add latency ± jitter to every chunk on the matching connections (order kept)",
		fields: []string{"latency", "jitter"},
		validate: func(f Fault, bad func(string, ...any)) {
			if f.Latency <= 0 {
				bad("latency: must be set and > 0, got %v", f.Latency)
			}
			if f.Jitter < 0 || f.Jitter > f.Latency {
				bad("jitter %v: must be in [0, latency]", f.Jitter)
			}
		},
		describe: func(f Fault) string { return fmt.Sprintf("%v±%v", f.Latency, f.Jitter) },
		fold:     func(s *dirState, f Fault) { s.latency += f.Latency; s.jitter += f.Jitter },
		toxic: func(f Fault) (string, map[string]any) {
			return Latency, map[string]any{"latency": f.Latency.Milliseconds(), "jitter": f.Jitter.Milliseconds()}
		},
		units: func(f Fault) error { return errors.Join(wholeMS("latency", f.Latency), wholeMS("jitter", f.Jitter)) }},
	{Name: Bandwidth, Slows: true, Settings: []string{"rate", "direction", "toxicity"}, Doc: "cap throughput of the matching connections at rate bytes per second",
		fields: []string{"rate"},
		validate: func(f Fault, bad func(string, ...any)) {
			if f.Rate <= 0 {
				bad("rate: must be set and > 0 (bytes per second, e.g. 64KiB), got %d", f.Rate)
			}
		},
		describe: func(f Fault) string { return fmt.Sprintf("%dB/s", f.Rate) },
		fold: func(s *dirState, f Fault) {
			if s.rate == 0 || f.Rate < s.rate {
				s.rate = f.Rate // the lowest rate wins
			}
		},
		toxic: func(f Fault) (string, map[string]any) { return Bandwidth, map[string]any{"rate": f.Rate / 1000} },
		units: func(f Fault) error {
			if f.Rate < 1000 || f.Rate%1000 != 0 {
				return fmt.Errorf("rate %d B/s: toxiproxy counts whole KB/s (multiples of 1000 B/s)", f.Rate)
			}
			return nil
		}},
	{Name: Slicer, Slows: true, Settings: []string{"average_size", "size_variation", "delay", "direction", "toxicity"}, Doc: "slice data into chunks of average_size ± size_variation bytes, delay apart",
		fields: []string{"slice_average", "slice_variation", "slice_delay"},
		validate: func(f Fault, bad func(string, ...any)) {
			if f.SliceAverage <= 0 {
				bad("average_size: must be set and > 0, got %d", f.SliceAverage)
			}
			if f.SliceVariation < 0 || f.SliceVariation >= f.SliceAverage {
				bad("slice variation %d: must be in [0, average)", f.SliceVariation)
			}
			if f.SliceDelay < 0 {
				bad("slice delay %v: negative", f.SliceDelay)
			}
		},
		describe: func(f Fault) string { return fmt.Sprintf("%d±%dB/%v", f.SliceAverage, f.SliceVariation, f.SliceDelay) },
		fold:     func(s *dirState, f Fault) { s.slice = f }, // the last slicer wins
		toxic: func(f Fault) (string, map[string]any) {
			return Slicer, map[string]any{"average_size": f.SliceAverage, "size_variation": f.SliceVariation, "delay": f.SliceDelay.Microseconds()}
		},
		units: func(f Fault) error {
			if f.SliceDelay%time.Microsecond != 0 {
				return fmt.Errorf("slice delay %v: toxiproxy counts whole microseconds", f.SliceDelay)
			}
			return nil
		}},
	{Name: LimitData, Settings: []string{"bytes", "direction", "toxicity"}, Doc: "close each matching connection after bytes bytes",
		downstream: true, fields: []string{"bytes"},
		validate: func(f Fault, bad func(string, ...any)) {
			if f.Bytes <= 0 {
				bad("bytes: must be set and > 0, got %d", f.Bytes)
			}
		},
		describe: func(f Fault) string { return fmt.Sprintf("%dB", f.Bytes) },
		fold:     func(s *dirState, _ Fault) { s.limit = true },
		toxic:    func(f Fault) (string, map[string]any) { return LimitData, map[string]any{"bytes": f.Bytes} }},
	{Name: SlowClose, Slows: true, Settings: []string{"delay", "direction", "toxicity"}, Doc: "delay the close of matching connections by delay",
		fields: []string{"delay"},
		validate: func(f Fault, bad func(string, ...any)) {
			if f.Delay <= 0 {
				bad("delay: must be set and > 0, got %v", f.Delay)
			}
		},
		describe: func(f Fault) string { return f.Delay.String() },
		fold:     func(s *dirState, f Fault) { s.slowClose = max(s.slowClose, f.Delay) },
		toxic: func(f Fault) (string, map[string]any) {
			return SlowClose, map[string]any{"delay": f.Delay.Milliseconds()}
		},
		units: func(f Fault) error { return wholeMS("delay", f.Delay) }},
	{Name: Timeout, ToxiproxyOnly: true, Settings: []string{"timeout", "direction", "toxicity"}, Doc: "toxiproxy: stop all data and close the connection after timeout (0: never close)",
		fields: []string{"timeout"}, validate: nonNegativeTimeout, describe: timeoutText, toxic: timeoutToxic(Timeout),
		units: func(f Fault) error { return wholeMS("timeout", f.Timeout) }},
	{Name: ResetPeer, ToxiproxyOnly: true, Settings: []string{"timeout", "direction", "toxicity"}, Doc: "toxiproxy: reset the connection (TCP RST) after timeout",
		downstream: true, fields: []string{"timeout"}, validate: nonNegativeTimeout, describe: timeoutText, toxic: timeoutToxic(ResetPeer),
		units: func(f Fault) error { return wholeMS("timeout", f.Timeout) }},
}

func nonNegativeTimeout(f Fault, bad func(string, ...any)) {
	if f.Timeout < 0 {
		bad("timeout %v: negative", f.Timeout)
	}
}

func timeoutText(f Fault) string { return f.Timeout.String() }

func timeoutToxic(typ string) func(Fault) (string, map[string]any) {
	return func(f Fault) (string, map[string]any) {
		return typ, map[string]any{"timeout": f.Timeout.Milliseconds()}
	}
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

// Params are a network fault's settings as a scenario writes them; each
// kind reads the fields its NetKind.Settings name, the fault registry
// decodes only those, and Fault converts them.
type Params struct {
	Direction     string            `yaml:"direction" doc:"upstream | downstream | both"`
	Latency       scenario.Duration `yaml:"latency" doc:"duration"`
	Jitter        scenario.Duration `yaml:"jitter" doc:"duration"`
	Rate          scenario.Size     `yaml:"rate" doc:"bytes per second, e.g. 64KiB"`
	AverageSize   scenario.Size     `yaml:"average_size" doc:"bytes"`
	SizeVariation scenario.Size     `yaml:"size_variation" doc:"bytes"`
	Delay         scenario.Duration `yaml:"delay" doc:"duration"`
	Bytes         scenario.Size     `yaml:"bytes" doc:"bytes"`
	Timeout       scenario.Duration `yaml:"timeout" doc:"duration"`
	Toxicity      float64           `yaml:"toxicity" doc:"0..1, toxiproxy link only"`
}

// Fault is the link fault of kind with these settings and seed.
func (p Params) Fault(kind string, seed uint64) Fault {
	f := Fault{
		Kind:      kind,
		Direction: p.Direction,
		Latency:   p.Latency.D(),
		Jitter:    p.Jitter.D(),
		Rate:      int64(p.Rate),
		Bytes:     int64(p.Bytes),
		Timeout:   p.Timeout.D(),
		Toxicity:  p.Toxicity,
		Seed:      seed,
	}
	switch kind {
	case Slicer:
		f.SliceAverage, f.SliceVariation, f.SliceDelay = int(p.AverageSize), int(p.SizeVariation), p.Delay.D()
	case SlowClose:
		f.Delay = time.Duration(p.Delay)
	}
	return f
}
