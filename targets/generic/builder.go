package generic

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

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
	// wire, when not nil, encodes the requests straight to the wire:
	// static is the template's static fields encoded once, and each
	// request appends its slots' fields to a copy (the wire allows
	// fields in any order). Set by useWire.
	wire   *wirePlan
	static []byte
}

// wireMsg is a request already in its wire form: the codec sends its
// bytes as they are.
type wireMsg struct{ b []byte }

// useWire has b encode its requests with the plan of its type, where it
// can: a template split into a static part and slots that are fields of
// the request itself (not of a message under it).
func (b *builder) useWire(p *wirePlan) {
	if p == nil || b.base == nil {
		return
	}
	for _, s := range b.slots {
		if len(s.path) != 1 {
			return
		}
	}
	// base holds no slot's field: split left the variables out of it.
	static, err := p.appendMessage(nil, b.base, 0)
	if err != nil {
		return // invalid UTF-8 in the static part: protobuf's path says so
	}
	b.wire, b.static = p, static
}

// buildWire is the request for v in its wire form (useWire's).
func (b *builder) buildWire(v *Vars) (*wireMsg, error) {
	out := make([]byte, len(b.static), len(b.static)+16*len(b.slots))
	copy(out, b.static)
	for _, s := range b.slots {
		val, ok, err := s.value(v)
		if err != nil {
			return nil, err
		}
		fd := s.path[0]
		if !ok || (!fd.HasPresence() && isZero(val, fd)) {
			continue // left out, or a zero proto3 leaves out itself
		}
		if out, err = b.wire.field(fd.Number()).appendValue(out, val, 0); err != nil {
			return nil, err
		}
	}
	return &wireMsg{b: out}, nil
}

// isZero reports whether val is the zero value of scalar field fd.
func isZero(val protoreflect.Value, fd protoreflect.FieldDescriptor) bool {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return !val.Bool()
	case protoreflect.EnumKind:
		return val.Enum() == 0
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return val.Int() == 0
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return val.Uint() == 0
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := val.Float()
		return f == 0 && !math.Signbit(f)
	case protoreflect.StringKind:
		return val.String() == ""
	case protoreflect.BytesKind:
		return len(val.Bytes()) == 0
	}
	return false
}

// slot is one variable's field.
type slot struct {
	path []protoreflect.FieldDescriptor
	e    *expr   // the whole value, or
	in   *interp // text with variables in it (a string field), or
	tb   *interp // text with variables in it for a bytes field (text:...)
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
		case *textBytes:
			if fd.Kind() != protoreflect.BytesKind || fd.IsList() {
				return nil, nil, false
			}
			slots = append(slots, slot{path: p, tb: x.in})
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
	case *expr, *interp, *textBytes:
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
	if e.name == "last" || e.name == "accepted" {
		// A scalar response field (bound: its type fits fd); a message
		// goes through JSON.
		return len(e.src) > 0 && e.src[len(e.src)-1].Message() == nil && fd.Kind() != protoreflect.EnumKind
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
		val, ok, err := s.value(v)
		if err != nil {
			return nil, err
		}
		msg := protoreflect.Message(b.one)
		for _, fd := range s.path[:len(s.path)-1] {
			msg = msg.Mutable(fd).Message()
		}
		if !ok {
			// Nothing to resume from: the field is left out.
			msg.Clear(s.path[len(s.path)-1])
			continue
		}
		msg.Set(s.path[len(s.path)-1], val)
	}
	return b.one, nil
}

// value is the slot's field value for v; ok is false when the variable
// has nothing to resume from (the field is left out).
func (s slot) value(v *Vars) (val protoreflect.Value, ok bool, err error) {
	fd := s.path[len(s.path)-1]
	switch {
	case s.in != nil:
		text, err := s.in.text(v)
		return protoreflect.ValueOfString(text), err == nil, err
	case s.tb != nil:
		text, err := s.tb.text(v)
		return protoreflect.ValueOfBytes([]byte(text)), err == nil, err
	case s.e.name == "bytes":
		return protoreflect.ValueOfBytes(s.e.zeros), true, nil
	case !s.e.available(v):
		return protoreflect.Value{}, false, nil
	case s.e.name == "last" || s.e.name == "accepted":
		return s.e.convert(v, fd)
	}
	return intValue(s.e.integer(v), fd), true, nil
}

// intValue is integer n as a value of field fd's kind (a number, or its
// decimal text for a string field).
func intValue(n int64, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(n)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n))
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n))
	}
	return protoreflect.ValueOfString(strconv.FormatInt(n, 10))
}

// convert is a bound last./accepted. variable's response field as a value
// of request field fd (bind checked that it fits): an integer converted
// (plus the addend), any other kind as it is. No JSON, no allocation but
// a string's decimal text.
func (e *expr) convert(v *Vars, fd protoreflect.FieldDescriptor) (protoreflect.Value, bool, error) {
	val, src, err := valueAt(e.from(v), e.src)
	if err != nil {
		return protoreflect.Value{}, false, err
	}
	if n, ok := intOf(val, src); ok {
		return intValue(n+e.add, fd), true, nil
	}
	switch {
	case src.Kind() == fd.Kind():
		return val, true, nil
	case src.Kind() == protoreflect.FloatKind && fd.Kind() == protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(val.Float()), true, nil
	case src.Kind() == protoreflect.DoubleKind && fd.Kind() == protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(val.Float())), true, nil
	case src.Kind() == protoreflect.EnumKind:
		return intValue(int64(val.Enum()), fd), true, nil
	}
	return protoreflect.Value{}, false, fmt.Errorf("{{%s}}: the response's %s (%s) does not fit %s (%s)", e.text(), src.Name(), kindText(src), fd.Name(), kindText(fd))
}
