package generic

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/streambench/streambench/harness/scenario"
)

// textPrefix starts a bytes field's value written as text.
const textPrefix = "text:"

// pathError is a problem of one value of a template, at its path inside
// the template ("create_request.kee", "[1].version_info"), so that the
// error can stand at that key's line and column.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string {
	if e.path == "" {
		return e.err.Error()
	}
	return e.path + ": " + e.err.Error()
}

func (e *pathError) Unwrap() error { return e.err }

// binder type-checks templates against a method's types before the load
// and binds their response variables: every key a field of its message,
// every value of its field's type, every variable of a type its field
// takes, every last./accepted./max. path a field of the response type.
type binder struct {
	out protoreflect.MessageDescriptor
	// maxes are the call's max. variables' paths, resolved once; a
	// variable's expr.max indexes them (and Vars.Max).
	maxes []*seqSpec
}

// request binds t as a request of type in.
func (b *binder) request(t *Template, in protoreflect.MessageDescriptor) error {
	m, ok := t.root.(map[string]any)
	if !ok {
		return &pathError{"", fmt.Errorf("a request is a mapping of %s's fields, got %s", in.FullName(), jsonKind(t.root))}
	}
	root, err := b.message(m, in, "")
	if err != nil {
		return err
	}
	t.root = root
	if t.static != nil {
		// "text:" values became base64: the static JSON again.
		t.static, err = json.Marshal(root)
		if err != nil {
			return fmt.Errorf("template: %w", err)
		}
	}
	return nil
}

// loose binds the response variables of t without a target type (an
// expected value, or the inside of a well-known type's JSON form).
func (b *binder) loose(t *Template) error {
	var err error
	walk(t.root, func(e *expr) {
		if err == nil {
			err = b.source(e)
		}
	})
	return err
}

// wellKnown reports whether md's JSON form is not a mapping of its fields
// (google.protobuf's Timestamp, Duration, Struct, Value, Any, wrappers,
// FieldMask, ...): protojson checks those.
func wellKnown(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile() != nil && strings.HasPrefix(string(md.FullName()), "google.protobuf.")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// message checks a mapping against message type md.
func (b *binder) message(m map[string]any, md protoreflect.MessageDescriptor, path string) (any, error) {
	if wellKnown(md) {
		var err error
		walk(m, func(e *expr) {
			if err == nil {
				if serr := b.source(e); serr != nil {
					err = &pathError{path, serr}
				}
			}
		})
		return m, err
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		fd := md.Fields().ByName(protoreflect.Name(k))
		if fd == nil {
			fd = md.Fields().ByJSONName(k)
		}
		if fd == nil {
			return nil, &pathError{join(path, k), fmt.Errorf("%s has no field %s; its fields: %s", md.FullName(), k, fieldNames(md))}
		}
		c, err := b.field(v, fd, join(path, k))
		if err != nil {
			return nil, err
		}
		out[k] = c
	}
	return out, nil
}

// field checks the value of field fd: a list for a repeated field, a
// mapping for a map, else one value.
func (b *binder) field(v any, fd protoreflect.FieldDescriptor, path string) (any, error) {
	switch {
	case v == nil:
		return nil, nil
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok {
			return nil, &pathError{path, fmt.Errorf("%s is a map: give a mapping, got %s", fd.Name(), jsonKind(v))}
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			c, err := b.value(e, fd.MapValue(), join(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case fd.IsList():
		l, ok := v.([]any)
		if !ok {
			return nil, &pathError{path, fmt.Errorf("%s is a repeated field: give a list, got %s", fd.Name(), jsonKind(v))}
		}
		out := make([]any, len(l))
		for i, e := range l {
			c, err := b.value(e, fd, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return b.value(v, fd, path)
}

// value checks one value of fd's type (an element, for a list).
func (b *binder) value(v any, fd protoreflect.FieldDescriptor, path string) (any, error) {
	bad := func(format string, args ...any) (any, error) {
		return nil, &pathError{path, fmt.Errorf(format, args...)}
	}
	k := fd.Kind()
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		if fd.Message() == nil {
			return bad("%s is %s; got a mapping", fd.Name(), kindText(fd))
		}
		return b.message(x, fd.Message(), path)
	case []any:
		if fd.Message() != nil && wellKnown(fd.Message()) {
			return x, nil // a ListValue, a Value
		}
		return bad("%s is %s, not a list; got a list", fd.Name(), kindText(fd))
	case *expr:
		if err := b.expr(x, fd); err != nil {
			return nil, &pathError{path, err}
		}
		return x, nil
	case *interp:
		if k == protoreflect.BytesKind {
			if s, ok := x.parts[0].(string); ok && strings.HasPrefix(s, textPrefix) {
				in := &interp{parts: append([]any{strings.TrimPrefix(s, textPrefix)}, x.parts[1:]...)}
				if err := b.text(in); err != nil {
					return nil, &pathError{path, err}
				}
				return &textBytes{in: in}, nil
			}
			return bad("%s is bytes (base64): text with variables in it is written text:... (text:key-{{client}})", fd.Name())
		}
		switch {
		case k == protoreflect.BoolKind || fd.Message() != nil && !wellKnown(fd.Message()):
			return bad("%s is %s; text cannot be one", fd.Name(), kindText(fd))
		}
		if err := b.text(x); err != nil {
			return nil, &pathError{path, err}
		}
		return x, nil
	case string:
		return b.staticString(x, fd, path)
	case json.Number:
		switch {
		case isNumber(k) || k == protoreflect.EnumKind:
			return x, nil
		case fd.Message() != nil && wellKnown(fd.Message()):
			return x, nil
		}
		return bad("%s is %s; got the number %s%s", fd.Name(), kindText(fd), x, quoteHint(k))
	case bool:
		if k == protoreflect.BoolKind || fd.Message() != nil && wellKnown(fd.Message()) {
			return x, nil
		}
		return bad("%s is %s; got the boolean %v", fd.Name(), kindText(fd), x)
	}
	return v, nil
}

// quoteHint says how to write a number into a string field.
func quoteHint(k protoreflect.Kind) string {
	if k == protoreflect.StringKind {
		return ` (quote it: "7")`
	}
	return ""
}

// staticString checks a string with no variable for field fd; a bytes
// field's "text:..." becomes its base64.
func (b *binder) staticString(s string, fd protoreflect.FieldDescriptor, path string) (any, error) {
	bad := func(format string, args ...any) (any, error) {
		return nil, &pathError{path, fmt.Errorf(format, args...)}
	}
	switch k := fd.Kind(); {
	case k == protoreflect.StringKind:
	case k == protoreflect.BytesKind:
		if t, ok := strings.CutPrefix(s, textPrefix); ok {
			return base64.StdEncoding.EncodeToString([]byte(t)), nil
		}
		if !isBase64(s) {
			return bad("%s is bytes: %q is not base64; write text as text:%s", fd.Name(), s, s)
		}
	case k == protoreflect.BoolKind:
		return bad("%s is a bool; got the string %q (write true or false)", fd.Name(), s)
	case k == protoreflect.EnumKind:
		if fd.Enum().Values().ByName(protoreflect.Name(s)) == nil {
			if _, err := strconv.ParseInt(s, 10, 32); err != nil {
				return bad("%s: %s has no value %s; its values: %s", fd.Name(), fd.Enum().FullName(), s, enumNames(fd.Enum()))
			}
		}
	case isNumber(k):
		if _, err := strconv.ParseFloat(s, 64); err != nil && s != "NaN" && s != "Infinity" && s != "-Infinity" {
			return bad("%s is %s; got the string %q", fd.Name(), kindText(fd), s)
		}
	case fd.Message() != nil && !wellKnown(fd.Message()):
		return bad("%s is %s; got the string %q", fd.Name(), kindText(fd), s)
	}
	return s, nil
}

// text checks the variables written inside text: scalars only.
func (b *binder) text(in *interp) error {
	for _, p := range in.parts {
		e, ok := p.(*expr)
		if !ok {
			continue
		}
		if err := b.source(e); err != nil {
			return err
		}
		if e.src != nil {
			if fd := e.src[len(e.src)-1]; fd.Message() != nil {
				return fmt.Errorf("{{%s}}: %s is %s; text can hold a scalar field only", e.text(), fd.Name(), kindText(fd))
			}
		}
	}
	return nil
}

// source binds a response variable to the response type: a last. or
// accepted. path to its field (a scalar or a message, not a list or map;
// an addend only on an integer), a max. path to a sequence-like reader
// (an integer, or a string holding integers, through lists with []).
func (b *binder) source(e *expr) error {
	switch e.name {
	case "last", "accepted":
		fds, err := fieldPath(b.out, e.path)
		if err != nil {
			return fmt.Errorf("{{%s}}: %w", e.text(), err)
		}
		fd := fds[len(fds)-1]
		switch {
		case fd.IsList() || fd.IsMap():
			return fmt.Errorf("{{%s}}: %s is a list or map; a variable is one value (the highest of a list's integers is {{max.%s[]...}})", e.text(), fd.Name(), strings.Join(e.path, "."))
		case e.add != 0 && !isIntKind(fd.Kind()):
			return fmt.Errorf("{{%s}}: %s is %s; only an integer takes + or -", e.text(), fd.Name(), kindText(fd))
		}
		e.src = fds
	case "max":
		spec, err := resolveSeq(b.out, scenario.Sequence{Path: strings.Join(e.path, ".")})
		if err != nil {
			return fmt.Errorf("{{%s}}: %w", e.text(), err)
		}
		e.max = len(b.maxes)
		for i, m := range b.maxes {
			if m.path == spec.path {
				e.max = i
			}
		}
		if e.max == len(b.maxes) {
			b.maxes = append(b.maxes, spec)
		}
	}
	return nil
}

// expr checks that variable e's value fits field fd.
func (b *binder) expr(e *expr, fd protoreflect.FieldDescriptor) error {
	if err := b.source(e); err != nil {
		return err
	}
	k := fd.Kind()
	bad := func(what string) error {
		return fmt.Errorf("{{%s}} is %s; %s is %s", e.text(), what, fd.Name(), kindText(fd))
	}
	switch e.name {
	case "bytes":
		if k != protoreflect.BytesKind {
			return bad("bytes")
		}
		return nil
	case "last", "accepted":
		src := e.src[len(e.src)-1]
		if err := fits(src, fd); err != nil {
			return fmt.Errorf("{{%s}}: %w", e.text(), err)
		}
		e.quote = k == protoreflect.StringKind && isIntKind(src.Kind())
		return nil
	}
	// An integer: index, client, stream, now, rand, max.
	switch {
	case isIntKind(k) || k == protoreflect.FloatKind || k == protoreflect.DoubleKind || k == protoreflect.EnumKind:
		if e.name == "now" && (k == protoreflect.Int32Kind || k == protoreflect.Sint32Kind || k == protoreflect.Sfixed32Kind ||
			k == protoreflect.Uint32Kind || k == protoreflect.Fixed32Kind || k == protoreflect.EnumKind) {
			return fmt.Errorf("{{now}} is unix nanoseconds, too big for %s (%s): use a 64-bit field", fd.Name(), kindText(fd))
		}
	case k == protoreflect.StringKind:
		e.quote = true
	default:
		return bad("an integer")
	}
	return nil
}

// fits reports whether a response field src can be written into the
// request field dst: an integer into a number or a string (as decimal
// text), the same kind otherwise (an enum or a message of the same type).
func fits(src, dst protoreflect.FieldDescriptor) error {
	sk, dk := src.Kind(), dst.Kind()
	ok := false
	switch {
	case isIntKind(sk):
		ok = isNumber(dk) || dk == protoreflect.StringKind || dk == protoreflect.EnumKind
	case sk == protoreflect.EnumKind:
		ok = dk == protoreflect.EnumKind && src.Enum().FullName() == dst.Enum().FullName() || isIntKind(dk)
	case src.Message() != nil:
		ok = dst.Message() != nil && src.Message().FullName() == dst.Message().FullName()
	case sk == protoreflect.FloatKind || sk == protoreflect.DoubleKind:
		ok = dk == protoreflect.FloatKind || dk == protoreflect.DoubleKind
	default:
		ok = sk == dk
	}
	if !ok {
		return fmt.Errorf("the response's %s is %s; the request's %s is %s", src.Name(), kindText(src), dst.Name(), kindText(dst))
	}
	return nil
}

// text is the variable as written, without braces.
func (e *expr) text() string {
	s := e.name
	if e.name == "bytes" {
		return fmt.Sprintf("bytes %d", len(e.zeros))
	}
	if len(e.path) > 0 {
		s += "." + strings.Join(e.path, ".")
	}
	if e.add != 0 {
		s += fmt.Sprintf(" %+d", e.add)
	}
	return s
}

// isNumber reports whether k is an integer or floating-point kind.
func isNumber(k protoreflect.Kind) bool {
	return isIntKind(k) || k == protoreflect.FloatKind || k == protoreflect.DoubleKind
}

// kindText names a field's type for an error: "a string", "an int64",
// "a message streambench.v1.Update", "a list of int64".
func kindText(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "a map"
	case fd.Message() != nil:
		return "a message " + string(fd.Message().FullName())
	case fd.Kind() == protoreflect.EnumKind:
		return "an enum " + string(fd.Enum().FullName())
	}
	k := fd.Kind().String()
	if strings.ContainsAny(k[:1], "aeiou") {
		return "an " + k
	}
	return "a " + k
}

// jsonKind names a template value's JSON kind.
func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string, *interp:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a variable"
}

// enumNames lists an enum's value names.
func enumNames(ed protoreflect.EnumDescriptor) string {
	var names []string
	for i := range ed.Values().Len() {
		names = append(names, string(ed.Values().Get(i).Name()))
	}
	return strings.Join(names, ", ")
}

// isBase64 reports whether protojson reads s as bytes: standard or URL
// base64, padded or not.
func isBase64(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return true
		}
	}
	return false
}

// highest raises h to the highest value of spec's path in msg (a string
// field's values that are not integers are passed over).
func (spec *seqSpec) highest(msg protoreflect.Message, h *Highest) {
	spec.values(msg, spec.steps, true, func(v protoreflect.Value) {
		if n, ok := spec.integer(v); ok && (!h.Seen || n > h.V) {
			h.V, h.Seen = n, true
		}
	})
}
