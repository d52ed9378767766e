package link

import (
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
}

// netKinds is every network fault kind, in documentation order.
var netKinds = []NetKind{
	{Name: Sever, Instant: true, Doc: "close the matching connections abruptly in both directions (an RST where the link can send one); clients reconnect"},
	{Name: Blackhole, Settings: []string{"direction"}, Doc: "bytes stop flowing on the matching connections, which stay open; data resumes when reverted"},
	{Name: Latency, Settings: []string{"latency", "jitter", "direction", "toxicity"}, Doc: "add latency ± jitter to every chunk on the matching connections (order kept)"},
	{Name: Bandwidth, Settings: []string{"rate", "direction", "toxicity"}, Doc: "cap throughput of the matching connections at rate bytes per second"},
	{Name: Slicer, Settings: []string{"average_size", "size_variation", "delay", "direction", "toxicity"}, Doc: "slice data into chunks of average_size ± size_variation bytes, delay apart"},
	{Name: LimitData, Settings: []string{"bytes", "direction", "toxicity"}, Doc: "close each matching connection after bytes bytes"},
	{Name: SlowClose, Settings: []string{"delay", "direction", "toxicity"}, Doc: "delay the close of matching connections by delay"},
	{Name: Timeout, ToxiproxyOnly: true, Settings: []string{"timeout", "direction", "toxicity"}, Doc: "toxiproxy: stop all data and close the connection after timeout (0: never close)"},
	{Name: ResetPeer, ToxiproxyOnly: true, Settings: []string{"timeout", "direction", "toxicity"}, Doc: "toxiproxy: reset the connection (TCP RST) after timeout"},
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
