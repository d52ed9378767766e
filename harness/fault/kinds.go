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
	"slices"
	"strings"

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
	// Slows: the kind only slows or stops data, so alone it ends a stream
	// only through the client's own watchdogs (a deadline, the idle
	// timeout); the report does not charge it with other failed ends.
	Slows bool
	// EndsNone: the kind ends no stream at all (backend_join only adds a
	// backend); the report charges it with no end.
	EndsNone bool
	// params returns a pointer to a new settings struct (yaml-tagged).
	params func() any
	// check validates decoded settings.
	check func(p any) error
	// allowed are the kind's settings (fields of its params struct).
	allowed []string

	// can says whether a target has the capability a server or stream
	// kind needs (an interface it implements); needs says in words what
	// that is and acts what the kind acts on, for errors.
	can   func(target any) bool
	needs string
	acts  string

	// The kind's behaviour, by layer (the capability it has):
	// disrupt starts a server kind's occurrence through env and returns
	// its revert (nil: nothing to revert).
	disrupt func(o Occurrence, env Env) (revert func() error, err error)
	// net is a network kind's fault with the decoded settings p.
	net func(p any, seed uint64) link.Fault
	// onMessage judges message n (1-based) of a stream a stream kind's
	// occurrence a applies to, before it moves; send is true for the
	// server's own messages. A verdict's abort ends the stream with it,
	// its delay or stall holds the message or the stream.
	onMessage func(w *streamState, a *activeStream, n int, send bool) verdict
	// relays: a stream kind a frame relay acts out as the interceptor
	// would, its verdicts being what the relay can do to a stream (end
	// it with a status, hold a message, hold the stream): every stream
	// kind today. A stream kind without it (one that would read or
	// change messages) runs through the grpc proxy, in a handler.
	relays bool
}

// Settings lists the kind's settings with their types and declared
// domains (SettingsOf), for documentation.
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
	for i, s := range k.SettingsOf() {
		if d := s.Domain.String(); !strings.Contains(s.Doc, d) { // direction's doc already is its domain
			out[i] = strings.TrimSuffix(out[i], ")") + "; " + d + ")"
		}
	}
	return out
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
// network kinds of link's table (kind_net.go), then the server kinds
// (kind_server.go), the stream kinds (kind_stream.go) and the backend kinds
// (kind_backend.go).
var Kinds = slices.Concat(netKinds(), serverKinds, streamKinds, backendKinds)

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
