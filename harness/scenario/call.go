package scenario

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Call drives any gRPC method with dynamic messages (no generated stubs):
// the method, where its descriptors come from, the requests to send and
// what every response must satisfy. Naming follows ghz where the idea is
// the same. A group with a call drives the catalog's generic RPC.
type Call struct {
	// Method is the fully-qualified method: "package.Service/Method".
	Method string `yaml:"method"`
	// Proto lists .proto files (relative to the scenario file) compiled in
	// process, with ImportPaths; Protoset is a compiled descriptor set.
	// With neither, the method is resolved from the target's server
	// reflection (v1, then v1alpha).
	Proto       []string `yaml:"proto"`
	ImportPaths []string `yaml:"import_paths"`
	Protoset    string   `yaml:"protoset"`
	// Data is the request template: one mapping (every message alike, for
	// streams `messages` of them) or a list (one entry per message, in
	// order). String values may hold {{...}} variables (docs/scenarios.md).
	Data *Data `yaml:"data"`
	// Lockstep makes a bidirectional stream send each request only once
	// the previous one is answered (ping-pong). Otherwise it pipelines,
	// as ghz does, unless a request uses the last response ({{last.F}}).
	Lockstep bool `yaml:"lockstep"`
	// Expect is what every response and the stream's end must satisfy.
	Expect Expect `yaml:"expect"`
}

// Expect is what a generic call's responses must satisfy, checked on every
// message so the same oracles as the reference drivers apply.
type Expect struct {
	// Count is how many responses a stream must carry exactly; AtLeast
	// how many at least (0: any). A clean end with fewer is a premature
	// EOF.
	Count   int `yaml:"count"`
	AtLeast int `yaml:"at_least"`
	// Status is the code the stream must end with (default OK).
	Status string `yaml:"status"`
	// Fields are checks on response fields.
	Fields []FieldCheck `yaml:"fields"`
	// Sequence is a field numbering the responses' data: gaps, duplicates
	// and reordering are counted as for Subscribe (no_loss,
	// no_duplicates). Written as a path (dense: +1 on every response) or
	// {path, mode}; a path may read every element of a repeated field
	// (events[].kv.mod_revision).
	Sequence Sequence `yaml:"sequence"`
	// DataField, when set, is the field that makes a response data: a
	// response where it is unset (an empty list, an absent message, a
	// zero scalar without presence) is a control response — neither data
	// nor a gap, not a message received, not back to live.
	DataField string `yaml:"data_field"`
	// Timestamp is a field holding the server's send time (unix nanos);
	// latency is measured from it. Without it, from the matching request
	// (bidi), else from the previous message.
	Timestamp string `yaml:"timestamp"`
	// Covers, when set, makes this group the watchers of another group's
	// writes: every write acknowledged to that group must reach each of
	// this group's watchers that covers it, exactly once and in order
	// (the covers assertion judges it).
	Covers *Covers `yaml:"covers"`
}

// Sequence modes.
const (
	// SeqDense: every value is the previous one plus one; a skipped value
	// is lost (a gap).
	SeqDense = "dense"
	// SeqIncreasing: every value is above the previous one; values may be
	// skipped (a global revision), never repeated or going back.
	SeqIncreasing = "increasing"
)

// SeqModes are the valid sequence modes.
var SeqModes = []string{SeqDense, SeqIncreasing}

// Sequence is a call's sequence field: a dotted path of field names,
// where name[] reads every element of a repeated field in order, and how
// its values must move. Its short form is the path alone (dense).
type Sequence struct {
	Path string `yaml:"path"`
	// Mode is dense (default) or increasing.
	Mode string `yaml:"mode"`
	// Resend lets a new stream of a client that resumes begin with the
	// value the client last received: a state-of-the-world server (xDS)
	// sends the state the client already has on every new stream. A
	// lower value is still going back, and a repeat within a stream is
	// still a duplicate.
	Resend bool `yaml:"resend"`
}

// IsZero reports whether no sequence is set.
func (s Sequence) IsZero() bool { return s == Sequence{} }

// seqForm is Sequence's mapping form (without its decodeNode).
type seqForm Sequence

// decodeNode reads a sequence: a path, or {path, mode}.
func (s *Sequence) decodeNode(d *decoder, n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.ScalarNode:
		p, null, err := d.scalar(n, path, "a field path or {path, mode}")
		if err != nil {
			return err
		}
		if !null && n.ShortTag() != strTag {
			return d.errorf(n, path, "expected a field path or {path, mode}, got %s", describe(n))
		}
		*s = Sequence{Path: p}
		return nil
	case yaml.MappingNode:
		var f seqForm
		if err := d.mapping(n, path, reflect.ValueOf(&f).Elem()); err != nil {
			return err
		}
		if f.Mode != "" && !slices.Contains(SeqModes, f.Mode) {
			return &Error{File: d.file, Pos: d.pos[joinPath(path, "mode")], Field: joinPath(path, "mode"), Msg: UnknownChoice("sequence mode", f.Mode, SeqModes)}
		}
		if f.Path == "" {
			return d.errorf(n, path, "path must be set: the field holding the sequence (events[].kv.mod_revision)")
		}
		*s = Sequence(f)
		return nil
	}
	return d.errorf(n, path, "expected a field path or {path, mode}, got %s", describe(n))
}

// node renders a sequence: its short form when the mode is left out.
func (s Sequence) node(e encoder, path string) (*yaml.Node, error) {
	if s.Mode == "" {
		return scalarNode(strTag, s.Path), nil
	}
	return e.fields(reflect.ValueOf(seqForm(s)), path)
}

// FieldCheck is one check on a response field (a dotted path).
type FieldCheck struct {
	Path string `yaml:"path"`
	// Equals is the value it must have (a template may be used).
	Equals *Data `yaml:"equals"`
	// Size is the length its value must have (bytes or string length, or
	// the number of elements of a list); Sizes one size per response, in
	// order.
	Size  *int  `yaml:"size"`
	Sizes []int `yaml:"sizes"`
}

// Data is a value written in YAML — a mapping, a list or a scalar — kept
// as JSON text (where it stands is the scenario's PosOf its path).
type Data struct {
	JSON string
}

// decodeNode converts n (refusing anchors, aliases and tags) to JSON.
func (x *Data) decodeNode(d *decoder, n *yaml.Node, path string) error {
	v, err := d.plainValue(n, path)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return d.errorf(n, path, "cannot be written as JSON: %v", err)
	}
	x.JSON = string(b)
	return nil
}

// plainValue converts n to maps, slices and scalars, as JSON sees them.
func (d *decoder) plainValue(n *yaml.Node, path string) (any, error) {
	if err := d.plain(n, path); err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, d.errorf(k, path, "a key must be a plain string")
			}
			if _, dup := m[k.Value]; dup {
				return nil, d.errorf(k, joinPath(path, k.Value), "duplicate key %s", quote(k.Value))
			}
			// Where each key stands, so that a check of the value
			// against the method's types (a field it does not have)
			// can say so at its line and column.
			d.pos[joinPath(path, k.Value)] = posOf(k)
			val, err := d.plainValue(v, joinPath(path, k.Value))
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			d.pos[indexPath(path, i)] = posOf(c)
			val, err := d.plainValue(c, indexPath(path, i))
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	switch n.ShortTag() {
	case nullTag:
		return nil, nil
	case boolTag:
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", nil
	case intTag:
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(n.Value, 0, 64); err == nil {
			return u, nil
		}
		return nil, d.errorf(n, path, "integer %s is out of range (%d to %d)", n.Value, int64(math.MinInt64), uint64(math.MaxUint64))
	case floatTag:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, d.errorf(n, path, "number %s cannot be written as JSON", n.Value)
		}
		return f, nil
	}
	return n.Value, nil
}

// node renders x back as YAML (JSON is YAML).
func (x Data) node() (*yaml.Node, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(x.JSON), &n); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if len(n.Content) == 0 {
		return scalarNode(nullTag, ""), nil
	}
	clearStyle(n.Content[0])
	return n.Content[0], nil
}

// clearStyle drops JSON's flow style so the YAML reads as YAML.
func clearStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle
	if n.Kind == yaml.ScalarNode && n.ShortTag() == strTag {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		clearStyle(c)
	}
}
