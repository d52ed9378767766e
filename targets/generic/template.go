package generic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Template is a request (or expected value) written as JSON whose string
// values may hold variables:
//
//	{{index}}    the message's index in its stream (0, 1, ...)
//	{{client}}   the client's index in its group
//	{{stream}}   how many streams the client opened before this one
//	{{now}}      the current time, unix nanoseconds
//	{{rand}}     a number in [0, 2^31) drawn from the scenario's seed
//	{{last.F}}   field F (a dotted path) of the last response the client
//	             received, on any stream: to resume after a reconnect
//	{{bytes N}}  N zero bytes, base64-encoded (a bytes field of N bytes)
//
// An integer may be added or subtracted: {{last.seq + 1}}, {{index - 1}}.
// A string that is one variable alone becomes the variable's value (a
// number, or the field's JSON); inside longer text it is written in.
type Template struct {
	root   any // the JSON value, with *expr and *interp leaves
	static []byte
}

// expr is one variable reference.
type expr struct {
	name string   // index, client, stream, now, rand, last, bytes
	path []string // last.path
	add  int64
	// bytes is the base64 text of {{bytes N}}, made once; zeros the N
	// bytes themselves (shared, never written).
	bytes []byte
	zeros []byte
}

// interp is a string with variables inside it.
type interp struct {
	parts []any // string or *expr
}

var varRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// maxTemplate bounds a template's JSON text.
const maxTemplate = 1 << 20

// ParseTemplate reads a JSON template.
func ParseTemplate(jsonText string) (*Template, error) {
	if len(jsonText) > maxTemplate {
		return nil, fmt.Errorf("template of %d bytes; at most %d", len(jsonText), maxTemplate)
	}
	dec := json.NewDecoder(strings.NewReader(jsonText))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	t := &Template{}
	var err error
	dynamic := false
	if t.root, err = compileValue(v, &dynamic); err != nil {
		return nil, err
	}
	if !dynamic {
		t.static, _ = json.Marshal(v)
	}
	return t, nil
}

// Static reports whether the template has no variables.
func (t *Template) Static() bool { return t.static != nil }

func compileValue(v any, dynamic *bool) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := compileValue(e, dynamic)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := compileValue(e, dynamic)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = c
		}
		return out, nil
	case string:
		locs := varRE.FindAllStringSubmatchIndex(x, -1)
		if len(locs) == 0 {
			if strings.Contains(x, "{{") || strings.Contains(x, "}}") {
				return nil, fmt.Errorf("%q: an unclosed or nested {{ }}", x)
			}
			return x, nil
		}
		*dynamic = true
		if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(x) {
			return parseExpr(x[locs[0][2]:locs[0][3]])
		}
		in := &interp{}
		last := 0
		for _, l := range locs {
			if l[0] > last {
				in.parts = append(in.parts, x[last:l[0]])
			}
			e, err := parseExpr(x[l[2]:l[3]])
			if err != nil {
				return nil, err
			}
			in.parts = append(in.parts, e)
			last = l[1]
		}
		if last < len(x) {
			in.parts = append(in.parts, x[last:])
		}
		for _, p := range in.parts {
			if s, ok := p.(string); ok && (strings.Contains(s, "{{") || strings.Contains(s, "}}")) {
				return nil, fmt.Errorf("%q: an unclosed or nested {{ }}", x)
			}
		}
		return in, nil
	}
	return v, nil
}

var exprRE = regexp.MustCompile(`^([a-z]+)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(?:([+-])\s*([0-9]{1,18}))?$`)

// variables are the names a template may use.
var variables = []string{"index", "client", "stream", "now", "rand", "last"}

// maxBytes bounds {{bytes N}}: gRPC's default message limit.
const maxBytes = 4 << 20

var bytesRE = regexp.MustCompile(`^bytes\s+([0-9]{1,9})$`)

func parseExpr(s string) (*expr, error) {
	if m := bytesRE.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n > maxBytes {
			return nil, fmt.Errorf("{{%s}}: at most %d bytes", s, maxBytes)
		}
		zeros := make([]byte, n)
		b, _ := json.Marshal(base64.StdEncoding.EncodeToString(zeros))
		return &expr{name: "bytes", bytes: b, zeros: zeros}, nil
	}
	m := exprRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return nil, fmt.Errorf("{{%s}}: not a variable (%s, last.FIELD), optionally + or - an integer, or bytes N", s, strings.Join(variables, ", "))
	}
	e := &expr{name: m[1]}
	switch {
	case e.name == "last":
		if m[2] == "" {
			return nil, fmt.Errorf("{{%s}}: last needs a field: last.seq", s)
		}
		e.path = strings.Split(m[2][1:], ".")
	case !contains(variables, e.name):
		return nil, fmt.Errorf("{{%s}}: unknown variable %q; variables: %s", s, e.name, strings.Join(variables, ", "))
	case m[2] != "":
		return nil, fmt.Errorf("{{%s}}: %s has no fields", s, e.name)
	}
	if m[4] != "" {
		n, _ := strconv.ParseInt(m[4], 10, 64)
		if m[3] == "-" {
			n = -n
		}
		e.add = n
	}
	return e, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Vars are the values of a template's variables for one message.
type Vars struct {
	Index, Client, Stream int
	Now                   func() time.Time
	Rand                  *rand.Rand
	// Last is the last response received (nil before the first).
	Last protoreflect.Message
}

// Uses reports whether the template uses variable name ("index",
// "last.seq").
func (t *Template) Uses(name string) bool {
	used := false
	walk(t.root, func(e *expr) {
		n := e.name
		if len(e.path) > 0 {
			n += "." + strings.Join(e.path, ".")
		}
		used = used || n == name
	})
	return used
}

// usesLast reports whether the template uses a field of the last response.
func (t *Template) usesLast() bool {
	used := false
	walk(t.root, func(e *expr) { used = used || e.name == "last" })
	return used
}

// CheckFields reports an error when a last.F variable names a field that
// the response type m does not have.
func (t *Template) CheckFields(m protoreflect.MessageDescriptor) error {
	var err error
	walk(t.root, func(e *expr) {
		if e.name == "last" && err == nil {
			if _, ferr := fieldPath(m, e.path); ferr != nil {
				err = fmt.Errorf("{{last.%s}}: %w", strings.Join(e.path, "."), ferr)
			}
		}
	})
	return err
}

func walk(v any, fn func(*expr)) {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	case *expr:
		fn(x)
	case *interp:
		for _, p := range x.parts {
			if e, ok := p.(*expr); ok {
				fn(e)
			}
		}
	}
}

// Render returns the template's JSON with the variables of v.
func (t *Template) Render(v *Vars) ([]byte, error) {
	if t.static != nil {
		return t.static, nil
	}
	var b bytes.Buffer
	if err := render(&b, t.root, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func render(b *bytes.Buffer, node any, v *Vars) error {
	switch x := node.(type) {
	case map[string]any:
		b.WriteByte('{')
		first := true
		for k, e := range x {
			if !first {
				b.WriteByte(',')
			}
			first = false
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			if err := render(b, e, v); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := render(b, e, v); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case *expr:
		raw, err := x.value(v)
		if err != nil {
			return err
		}
		b.Write(raw)
	case *interp:
		var s strings.Builder
		for _, p := range x.parts {
			switch p := p.(type) {
			case string:
				s.WriteString(p)
			case *expr:
				raw, err := p.value(v)
				if err != nil {
					return err
				}
				var str string
				if json.Unmarshal(raw, &str) == nil {
					s.WriteString(str)
				} else {
					s.Write(raw)
				}
			}
		}
		sb, _ := json.Marshal(s.String())
		b.Write(sb)
	default:
		raw, err := json.Marshal(x)
		if err != nil {
			return err
		}
		b.Write(raw)
	}
	return nil
}

// value is the variable's JSON.
func (e *expr) value(v *Vars) ([]byte, error) {
	switch e.name {
	case "last":
		return e.lastValue(v)
	case "bytes":
		return e.bytes, nil
	}
	n, _ := e.int(v)
	return strconv.AppendInt(nil, n, 10), nil
}

// int is the value of a variable that is a number of the run's (index,
// client, stream, now, rand) with its addend; false for any other.
func (e *expr) int(v *Vars) (int64, bool) {
	var n int64
	switch e.name {
	case "index":
		n = int64(v.Index)
	case "client":
		n = int64(v.Client)
	case "stream":
		n = int64(v.Stream)
	case "now":
		n = v.Now().UnixNano()
	case "rand":
		n = int64(v.Rand.Int32())
	default:
		return e.add, false
	}
	return n + e.add, true
}

// lastValue is the last response's field as JSON; before any response an
// integer field reads 0 (plus the addend), any other its zero value.
func (e *expr) lastValue(v *Vars) ([]byte, error) {
	if v.Last == nil {
		return strconv.AppendInt(nil, e.add, 10), nil
	}
	val, fd, err := getField(v.Last, e.path)
	if err != nil {
		return nil, err
	}
	if n, ok := intOf(val, fd); ok {
		return strconv.AppendInt(nil, n+e.add, 10), nil
	}
	if e.add != 0 {
		return nil, fmt.Errorf("{{last.%s %+d}}: the field is not an integer", strings.Join(e.path, "."), e.add)
	}
	return fieldJSON(val, fd)
}

// fieldJSON renders one field value as protojson would.
func fieldJSON(val protoreflect.Value, fd protoreflect.FieldDescriptor) ([]byte, error) {
	switch {
	case fd.IsList() || fd.IsMap():
		return nil, fmt.Errorf("field %s: lists and maps cannot be used as a value", fd.Name())
	case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
		return protojson.Marshal(val.Message().Interface())
	case fd.Kind() == protoreflect.BytesKind:
		return json.Marshal(base64.StdEncoding.EncodeToString(val.Bytes()))
	case fd.Kind() == protoreflect.EnumKind:
		return strconv.AppendInt(nil, int64(val.Enum()), 10), nil
	}
	return json.Marshal(val.Interface())
}
