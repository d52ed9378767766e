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

	"github.com/streambench/streambench/harness/link"
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

// netKind is the registry entry of a network kind: link owns the kind's
// description, settings and rules; its settings decode into link.Params.
func netKind(k link.NetKind) Kind {
	return Kind{Name: k.Name, Layer: Network, Doc: k.Doc, Instant: k.Instant, allowed: k.Settings,
		params: func() any { return &link.Params{} },
		check: func(p any) error {
			// The kind's rules are link's (Fault.Validate); seed and
			// toxicity pick do not matter to them.
			return p.(*link.Params).Fault(k.Name, 1).Validate()
		}}
}

// decode reads a fault's settings strictly. A kind decodes into a struct
// holding only the fields of its params it reads (built with
// reflect.StructOf), so an unknown-setting error lists that kind's settings
// alone; the result is copied into its params struct.
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Kinds is the registry of every fault kind, in documentation order: the
// network kinds of link's table, then the server and stream kinds.
var Kinds = append(netKinds(), []Kind{
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
}...)

func netKinds() []Kind {
	var out []Kind
	for _, k := range link.NetKinds() {
		out = append(out, netKind(k))
	}
	return out
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
