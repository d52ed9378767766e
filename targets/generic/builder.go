package generic

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// builder makes the requests of one template. Where it can it builds the
// template's static part once, as a message, and sets only the variables'
// fields for each message through protoreflect — no JSON per message; a
// template it cannot split so (a variable inside a list, a field it does
// not know) is rendered to JSON and decoded each time.
type builder struct {
	t     *Template
	md    protoreflect.MessageDescriptor
	base  *dynamicpb.Message // the static part; nil: JSON every time
	slots []slot
	// one is the message the driver reuses (SendMsg marshals at once).
	one *dynamicpb.Message
}

// slot is one variable's field.
type slot struct {
	path []protoreflect.FieldDescriptor
	e    *expr   // the whole value, or
	in   *interp // text with variables in it (a string field)
}

// newBuilder splits t against the request type md.
func newBuilder(t *Template, md protoreflect.MessageDescriptor) (*builder, error) {
	b := &builder{t: t, md: md}
	root, ok := t.root.(map[string]any)
	if !ok {
		return b, nil
	}
	static, slots, ok := split(root, md, nil)
	if !ok {
		return b, nil
	}
	raw, err := json.Marshal(static)
	if err != nil {
		return b, nil
	}
	base := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal(raw, base); err != nil {
		return nil, fmt.Errorf("does not fit %s: %w", md.FullName(), err)
	}
	b.base, b.slots = base, slots
	return b, nil
}

// split separates a template mapping into its static JSON and the slots of
// its variables; ok is false when it cannot (then JSON it is).
func split(m map[string]any, md protoreflect.MessageDescriptor, path []protoreflect.FieldDescriptor) (map[string]any, []slot, bool) {
	static := map[string]any{}
	var slots []slot
	for k, v := range m {
		fd := md.Fields().ByName(protoreflect.Name(k))
		if fd == nil {
			fd = md.Fields().ByJSONName(k)
		}
		if fd == nil {
			return nil, nil, false
		}
		p := append(append([]protoreflect.FieldDescriptor(nil), path...), fd)
		switch x := v.(type) {
		case *expr:
			if fd.IsList() || fd.IsMap() || fd.Message() != nil || !settable(fd, x) {
				return nil, nil, false
			}
			slots = append(slots, slot{path: p, e: x})
		case *interp:
			if fd.Kind() != protoreflect.StringKind || fd.IsList() {
				return nil, nil, false
			}
			slots = append(slots, slot{path: p, in: x})
		case map[string]any:
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return nil, nil, false
			}
			sub, ss, ok := split(x, fd.Message(), p)
			if !ok {
				return nil, nil, false
			}
			static[k], slots = sub, append(slots, ss...)
		default:
			if !static2(v) {
				return nil, nil, false
			}
			static[k] = v
		}
	}
	return static, slots, true
}

// static2 reports whether v holds no variable.
func static2(v any) bool {
	switch x := v.(type) {
	case *expr, *interp:
		return false
	case map[string]any:
		for _, e := range x {
			if !static2(e) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !static2(e) {
				return false
			}
		}
	}
	return true
}

// settable reports whether expression e's value can be set in field fd
// directly: integers in numeric fields, {{bytes N}} in a bytes field.
func settable(fd protoreflect.FieldDescriptor, e *expr) bool {
	if e.name == "bytes" {
		return fd.Kind() == protoreflect.BytesKind
	}
	if e.name == "last" {
		return false // its value's type is the response field's
	}
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind,
		protoreflect.FloatKind, protoreflect.DoubleKind, protoreflect.StringKind:
		return true
	}
	return false
}

// build returns the request for v: the reused message with the variables'
// fields set, or a message decoded from the rendered JSON.
func (b *builder) build(v *Vars, un protojson.UnmarshalOptions) (*dynamicpb.Message, error) {
	if b.base == nil {
		raw, err := b.t.Render(v)
		if err != nil {
			return nil, err
		}
		m := dynamicpb.NewMessage(b.md)
		if err := un.Unmarshal(raw, m); err != nil {
			return nil, fmt.Errorf("does not fit %s: %w", b.md.FullName(), err)
		}
		return m, nil
	}
	if b.one == nil {
		b.one = proto.Clone(b.base).(*dynamicpb.Message)
	}
	for _, s := range b.slots {
		val, err := s.value(v)
		if err != nil {
			return nil, err
		}
		msg := protoreflect.Message(b.one)
		for _, fd := range s.path[:len(s.path)-1] {
			msg = msg.Mutable(fd).Message()
		}
		msg.Set(s.path[len(s.path)-1], val)
	}
	return b.one, nil
}

// value is the slot's field value for v.
func (s slot) value(v *Vars) (protoreflect.Value, error) {
	fd := s.path[len(s.path)-1]
	if s.in != nil {
		var out strings.Builder
		for _, p := range s.in.parts {
			switch p := p.(type) {
			case string:
				out.WriteString(p)
			case *expr:
				raw, err := p.value(v)
				if err != nil {
					return protoreflect.Value{}, err
				}
				var str string
				if json.Unmarshal(raw, &str) == nil {
					out.WriteString(str)
				} else {
					out.Write(raw)
				}
			}
		}
		return protoreflect.ValueOfString(out.String()), nil
	}
	if s.e.name == "bytes" {
		return protoreflect.ValueOfBytes(s.e.zeros), nil
	}
	n, ok := s.e.int(v)
	if !ok {
		raw, err := s.e.value(v)
		if err != nil {
			return protoreflect.Value{}, err
		}
		if n, err = strconv.ParseInt(string(raw), 10, 64); err != nil {
			return protoreflect.Value{}, fmt.Errorf("%s: %w", fd.Name(), err)
		}
	}
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n)), nil
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n)), nil
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n)), nil
	}
	return protoreflect.ValueOfString(strconv.FormatInt(n, 10)), nil
}
