// Package fault holds streambench's fault kinds and the seeded timeline that
// applies and reverts them.
//
// A fault acts at one of three layers:
//   - network: on the connections between clients and target (wrapped
//     net.Conns on bufconn/tcp links, toxics on a toxiproxy link);
//   - server: on the builtin target's process (restarts, connection age);
//   - stream: at the gRPC layer, on individual streams (no TCP proxy can do
//     this, since all streams of a ClientConn share one connection).
//
// The registry is explicit (Kinds); each kind decodes its own settings
// strictly through scenario.DecodeParams.
package fault

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/streambench/streambench/harness/scenario"
)

// Layer says where a fault acts.
type Layer int

// Layers.
const (
	Network Layer = iota
	Server
	Stream
)

func (l Layer) String() string {
	return [...]string{"network", "server", "stream"}[l]
}

// Kind is one registered fault kind.
type Kind struct {
	// Name is the kind as written in scenarios.
	Name string
	// Layer is where it acts.
	Layer Layer
	// Doc says what it does, in a sentence.
	Doc string
	// Instant kinds act once at their start (sever); `for:` is meaningless.
	Instant bool
	// params returns a pointer to a new settings struct (yaml-tagged).
	params func() any
	// check validates decoded settings.
	check func(p any) error
	// allowed are the kind's settings (fields of its params struct).
	allowed []string
}

// Settings lists the kind's settings with their types, for documentation.
func (k Kind) Settings() []string {
	t := reflect.TypeOf(k.params()).Elem()
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if contains(k.allowed, name) {
			out = append(out, fmt.Sprintf("%s (%s)", name, f.Tag.Get("doc")))
		}
	}
	return out
}

// Directions a network fault may take.
const (
	Upstream   = "upstream"   // client -> server
	Downstream = "downstream" // server -> client
	Both       = "both"
)

// NetParams are the settings of every network kind (each kind reads the
// ones it needs; the rest stay zero and are rejected by its check).
type NetParams struct {
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

// ServerParams are the settings of server kinds.
type ServerParams struct {
	Grace scenario.Duration `yaml:"grace" doc:"duration; how long in-flight streams may drain"`
	Age   scenario.Duration `yaml:"age" doc:"duration; max_connection_age only"`
}

// StreamParams are the settings of stream kinds.
type StreamParams struct {
	Status      string            `yaml:"status" doc:"gRPC code name, e.g. Unavailable"`
	After       int               `yaml:"after" doc:"messages into the stream"`
	Probability float64           `yaml:"probability" doc:"0..1 of streams (stream_delay: of messages); default 1"`
	Delay       scenario.Duration `yaml:"delay" doc:"duration"`
	Jitter      scenario.Duration `yaml:"jitter" doc:"duration"`
	Stall       scenario.Duration `yaml:"stall" doc:"duration"`
}

func netKind(name, doc string, instant bool, allowed ...string) Kind {
	return Kind{Name: name, Layer: Network, Doc: doc, Instant: instant, allowed: allowed,
		params: func() any { return &NetParams{} },
		check: func(p any) error {
			np := p.(*NetParams)
			return checkNet(name, np, allowed)
		}}
}

// decode reads a fault's settings strictly. A network kind decodes into a
// struct holding only the NetParams fields it reads (built with
// reflect.StructOf), so an unknown-setting error lists that kind's settings
// alone; the result is copied into a *NetParams.
func (k Kind) decode(file, path string, params map[string]scenario.Param) (any, error) {
	out := k.params()
	full := reflect.ValueOf(out).Elem()
	var fields []reflect.StructField
	var index []int
	for i := range full.NumField() {
		f := full.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if contains(k.allowed, name) {
			fields = append(fields, f)
			index = append(index, i)
		}
	}
	sub := reflect.New(reflect.StructOf(fields))
	if err := scenario.DecodeParams(file, path, params, sub.Interface()); err != nil {
		if len(k.allowed) == 0 {
			return nil, rewordNone(err, k.Name)
		}
		return nil, reword(err, k)
	}
	for j, i := range index {
		name, _, _ := strings.Cut(full.Type().Field(i).Tag.Get("yaml"), ",")
		if _, set := params[name]; set { // keep the kind's defaults otherwise
			full.Field(i).Set(sub.Elem().Field(j))
		}
	}
	return out, nil
}

// reword makes an unknown-setting error name this kind's settings.
func reword(err error, k Kind) error {
	if es, ok := scenario.AsErrors(err); ok {
		for _, e := range es {
			if i := strings.Index(e.Msg, "; settings of this kind:"); i >= 0 {
				e.Msg = e.Msg[:i] + "; settings of " + k.Name + ": " + strings.Join(k.allowed, ", ")
			}
		}
	}
	return err
}

func rewordNone(err error, kind string) error {
	if es, ok := scenario.AsErrors(err); ok {
		for _, e := range es {
			if i := strings.Index(e.Msg, "; settings of this kind:"); i >= 0 {
				e.Msg = e.Msg[:i] + "; " + kind + " takes no settings besides at, for, every, until, kind and scope"
			}
		}
	}
	return err
}

// checkNet rejects settings a network kind does not read and checks ranges.
func checkNet(kind string, p *NetParams, allowed []string) error {
	v := reflect.ValueOf(p).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if !v.Field(i).IsZero() && !contains(allowed, name) {
			return fmt.Errorf("%s takes no %s (settings: %s)", kind, name, strings.Join(allowed, ", "))
		}
	}
	switch p.Direction {
	case "", Upstream, Downstream, Both:
	default:
		return fmt.Errorf("direction %q: valid choices: %s, %s, %s", p.Direction, Upstream, Downstream, Both)
	}
	if p.Toxicity < 0 || p.Toxicity > 1 {
		return fmt.Errorf("toxicity must be between 0 and 1, got %v", p.Toxicity)
	}
	for _, d := range []scenario.Duration{p.Latency, p.Jitter, p.Delay, p.Timeout} {
		if d < 0 {
			return fmt.Errorf("durations must not be negative, got %s", d)
		}
	}
	if p.Rate < 0 || p.AverageSize < 0 || p.SizeVariation < 0 || p.Bytes < 0 {
		return fmt.Errorf("sizes must not be negative")
	}
	switch kind {
	case "latency":
		if p.Latency <= 0 {
			return fmt.Errorf("latency: must be set and > 0")
		}
		if p.Jitter > p.Latency {
			return fmt.Errorf("jitter (%s) must not exceed latency (%s)", p.Jitter, p.Latency)
		}
	case "bandwidth":
		if p.Rate <= 0 {
			return fmt.Errorf("rate: must be set and > 0 (bytes per second, e.g. 64KiB)")
		}
	case "slicer":
		if p.AverageSize <= 0 {
			return fmt.Errorf("average_size: must be set and > 0")
		}
		if p.SizeVariation >= p.AverageSize {
			return fmt.Errorf("size_variation (%s) must be smaller than average_size (%s)", p.SizeVariation, p.AverageSize)
		}
	case "limit_data":
		if p.Bytes <= 0 {
			return fmt.Errorf("bytes: must be set and > 0")
		}
	case "slow_close":
		if p.Delay <= 0 {
			return fmt.Errorf("delay: must be set and > 0")
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Kinds is the registry of every fault kind, in documentation order.
var Kinds = []Kind{
	netKind("sever", "close the matching connections abruptly in both directions (an RST where the link can send one); clients reconnect", true),
	netKind("blackhole", "bytes stop flowing on the matching connections, which stay open; data resumes when reverted", false, "direction"),
	netKind("latency", "add latency ± jitter to every chunk on the matching connections (order kept)", false, "latency", "jitter", "direction", "toxicity"),
	netKind("bandwidth", "cap throughput of the matching connections at rate bytes per second", false, "rate", "direction", "toxicity"),
	netKind("slicer", "slice data into chunks of average_size ± size_variation bytes, delay apart", false, "average_size", "size_variation", "delay", "direction", "toxicity"),
	netKind("limit_data", "close each matching connection after bytes bytes", false, "bytes", "direction", "toxicity"),
	netKind("slow_close", "delay the close of matching connections by delay", false, "delay", "direction", "toxicity"),
	netKind("timeout", "toxiproxy: stop all data and close the connection after timeout (0: never close)", false, "timeout", "direction", "toxicity"),
	netKind("reset_peer", "toxiproxy: reset the connection (TCP RST) after timeout", false, "timeout", "direction", "toxicity"),
	{Name: "server_restart", Layer: Server, Doc: "hard-stop the server (every stream ends at once), serve again on the same address after `for:`", allowed: []string{},
		params: func() any { return &ServerParams{} }, check: checkServer("server_restart", false, false)},
	{Name: "graceful_restart", Layer: Server, Doc: "GracefulStop (GOAWAY; in-flight streams drain for up to grace, default 5s, then a hard stop), serve again after `for:`", allowed: []string{"grace"},
		params: func() any { return &ServerParams{} }, check: checkServer("graceful_restart", true, false)},
	{Name: "max_connection_age", Layer: Server, Doc: "while active, the server sends GOAWAY to connections older than age (grace to drain); entering and leaving the window is a graceful restart", allowed: []string{"age", "grace"},
		params: func() any { return &ServerParams{} }, check: checkServer("max_connection_age", true, true)},
	{Name: "stream_abort", Layer: Stream, Doc: "end a probability of streams with status after `after` messages", allowed: []string{"status", "after", "probability"},
		params: func() any { return &StreamParams{Probability: 1} }, check: checkStream("stream_abort")},
	{Name: "stream_delay", Layer: Stream, Doc: "delay a probability of the server's messages by delay ± jitter", allowed: []string{"delay", "jitter", "probability"},
		params: func() any { return &StreamParams{Probability: 1} }, check: checkStream("stream_delay")},
	{Name: "stream_stall", Layer: Stream, Doc: "stall a probability of streams for stall after `after` messages, then resume", allowed: []string{"stall", "after", "probability"},
		params: func() any { return &StreamParams{Probability: 1} }, check: checkStream("stream_stall")},
}

func checkServer(kind string, grace, age bool) func(any) error {
	return func(p any) error {
		sp := p.(*ServerParams)
		if sp.Grace != 0 && !grace {
			return fmt.Errorf("%s takes no grace (it is a hard stop; see graceful_restart)", kind)
		}
		if sp.Age != 0 && !age {
			return fmt.Errorf("%s takes no age", kind)
		}
		if age && sp.Age <= 0 {
			return fmt.Errorf("age: must be set and > 0")
		}
		if sp.Grace < 0 {
			return fmt.Errorf("grace must not be negative")
		}
		return nil
	}
}

func checkStream(kind string) func(any) error {
	return func(p any) error {
		sp := p.(*StreamParams)
		if sp.Probability < 0 || sp.Probability > 1 {
			return fmt.Errorf("probability must be between 0 and 1, got %v", sp.Probability)
		}
		if sp.After < 0 || sp.Delay < 0 || sp.Jitter < 0 || sp.Stall < 0 {
			return fmt.Errorf("after, delay, jitter and stall must not be negative")
		}
		switch kind {
		case "stream_abort":
			if _, err := ParseCode(sp.Status); err != nil {
				return err
			}
			if sp.Delay != 0 || sp.Jitter != 0 || sp.Stall != 0 {
				return fmt.Errorf("stream_abort takes status, after and probability")
			}
		case "stream_delay":
			if sp.Delay <= 0 {
				return fmt.Errorf("delay: must be set and > 0")
			}
			if sp.Status != "" || sp.After != 0 || sp.Stall != 0 {
				return fmt.Errorf("stream_delay takes delay, jitter and probability")
			}
		case "stream_stall":
			if sp.Stall <= 0 {
				return fmt.Errorf("stall: must be set and > 0")
			}
			if sp.Status != "" || sp.Delay != 0 || sp.Jitter != 0 {
				return fmt.Errorf("stream_stall takes stall, after and probability")
			}
		}
		return nil
	}
}

// codeNames maps gRPC code names to codes (OK excluded: a fault ends a
// stream with an error).
var codeNames = func() map[string]codes.Code {
	m := map[string]codes.Code{}
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		m[c.String()] = c
	}
	return m
}()

// ParseCode reads a gRPC status code name other than OK.
func ParseCode(name string) (codes.Code, error) {
	if c, ok := codeNames[name]; ok {
		return c, nil
	}
	names := make([]string, 0, len(codeNames))
	for n := range codeNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("status %q: valid choices: %s", name, strings.Join(names, ", "))
}

// Lookup returns the kind called name.
func Lookup(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Names lists every kind's name.
func Names() []string {
	out := make([]string, len(Kinds))
	for i, k := range Kinds {
		out[i] = k.Name
	}
	return out
}
