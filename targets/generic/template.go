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
//	{{index}}       the message's index in its stream (0, 1, ...)
//	{{client}}      the client's index in its group
//	{{stream}}      how many streams the client opened before this one
//	{{now}}         the current time, unix nanoseconds
//	{{rand}}        a number in [0, 2^31) drawn from the scenario's seed
//	{{last.F}}      field F (a dotted path) of the last response the
//	                client received, on any stream: to resume after a
//	                reconnect, or to echo a nonce
//	{{accepted.F}}  field F of the last response the client accepted: a
//	                data response that broke no expectation (an xDS ACK's
//	                version_info)
//	{{max.F}}       the highest integer the client has seen at F over all
//	                its responses, where F may read every element of a
//	                list (events[].kv.mod_revision): a watch's resume
//	{{bytes N}}     N zero bytes, base64-encoded (a bytes field of N bytes)
//
// An integer may be added or subtracted: {{last.seq + 1}}, {{index - 1}}.
// A string that is one variable alone becomes the variable's value (a
// number, or the field's JSON); inside longer text it is written in. A
// string for a bytes field that starts with "text:" is that text's bytes
// ("text:key-{{client}}"), not base64.
//
// Before the client has a response to take it from, a last., accepted. or
// max. variable that is a field's whole value leaves the field out of the
// request (the addend is not applied): nothing to resume from, so the
// server sees the field's zero value. Elsewhere (in text, in a list) it
// reads as an empty response would: 0 plus the addend, "" for a string.
type Template struct {
	root   any // the JSON value, with *expr, *interp and *textBytes leaves
	static []byte
}

// expr is one variable reference.
type expr struct {
	name string   // index, client, stream, now, rand, last, accepted, max, bytes
	path []string // last./accepted./max. path
	add  int64
	// bytes is the base64 text of {{bytes N}}, made once; zeros the N
	// bytes themselves (shared, never written).
	bytes []byte
	zeros []byte
	// Bound to the method's types before the load (bind):
	// src is a last./accepted. variable's response field; max the index
	// of a max. variable's highest value in Vars.Max; quote writes a
	// number as a JSON string (the target field is a string).
	src   []protoreflect.FieldDescriptor
	max   int
	quote bool
}

// textBytes is a bytes field's value written as text ("text:..."): its
// UTF-8 bytes, with variables written in.
type textBytes struct {
	in *interp
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

var exprRE = regexp.MustCompile(`^([a-z]+)((?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\])?)*)\s*(?:([+-])\s*([0-9]{1,18}))?$`)

// variables are the names a template may use.
var variables = []string{"index", "client", "stream", "now", "rand", "last", "accepted", "max"}

// resumeVars are the variables read from the client's responses.
var resumeVars = []string{"last", "accepted", "max"}

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
		return nil, fmt.Errorf("{{%s}}: not a variable (index, client, stream, now, rand, last.FIELD, accepted.FIELD, max.FIELD), optionally + or - an integer, or bytes N", s)
	}
	e := &expr{name: m[1]}
	switch {
	case contains(resumeVars, e.name):
		if m[2] == "" {
			return nil, fmt.Errorf("{{%s}}: %s needs a field: %s.seq", s, e.name, e.name)
		}
		e.path = strings.Split(m[2][1:], ".")
		if e.name != "max" && strings.Contains(m[2], "[]") {
			return nil, fmt.Errorf("{{%s}}: [] (every element of a list) applies to max. only: {{max.%s}}", s, m[2][1:])
		}
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
	// Last is the last response received (nil before the first);
	// Accepted the last data response that broke no expectation (nil
	// before one).
	Last, Accepted protoreflect.Message
	// Max is the highest value seen of each max. variable of the call
	// (by its index): over every response of the client, all streams.
	Max []Highest
}

// Highest is the highest value seen at a max. variable's path.
type Highest struct {
	V    int64
	Seen bool // a value was seen; V means nothing before
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

// usesResponses reports whether the template reads the client's responses
// (last., accepted., max.).
func (t *Template) usesResponses() bool {
	used := false
	walk(t.root, func(e *expr) { used = used || contains(resumeVars, e.name) })
	return used
}

// CheckFields reports an error when a last.F or accepted.F variable names
// a field that the response type m does not have.
func (t *Template) CheckFields(m protoreflect.MessageDescriptor) error {
	var err error
	walk(t.root, func(e *expr) {
		if (e.name == "last" || e.name == "accepted") && err == nil {
			if _, ferr := fieldPath(m, e.path); ferr != nil {
				err = fmt.Errorf("{{%s.%s}}: %w", e.name, strings.Join(e.path, "."), ferr)
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
	case *textBytes:
		walk(x.in, fn)
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
			if ex, ok := e.(*expr); ok && !ex.available(v) {
				continue // nothing to resume from: the field is left out
			}
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
		if x.quote && len(raw) > 0 && raw[0] != '"' {
			b.WriteByte('"')
			b.Write(raw)
			b.WriteByte('"')
		} else {
			b.Write(raw)
		}
	case *interp:
		s, err := x.text(v)
		if err != nil {
			return err
		}
		sb, _ := json.Marshal(s)
		b.Write(sb)
	case *textBytes:
		s, err := x.in.text(v)
		if err != nil {
			return err
		}
		sb, _ := json.Marshal(base64.StdEncoding.EncodeToString([]byte(s)))
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

// text is the interpolated string for v.
func (in *interp) text(v *Vars) (string, error) {
	var s strings.Builder
	for _, p := range in.parts {
		switch p := p.(type) {
		case string:
			s.WriteString(p)
		case *expr:
			raw, err := p.value(v)
			if err != nil {
				return "", err
			}
			var str string
			if json.Unmarshal(raw, &str) == nil {
				s.WriteString(str)
			} else {
				s.Write(raw)
			}
		}
	}
	return s.String(), nil
}

// value is the variable's JSON.
func (e *expr) value(v *Vars) ([]byte, error) {
	switch e.name {
	case "last", "accepted":
		return e.fieldValue(v)
	case "bytes":
		return e.bytes, nil
	}
	return strconv.AppendInt(nil, e.integer(v), 10), nil
}

// integer is the value of an integer variable (index, client, stream,
// now, rand, max), the addend added: no JSON, no allocation.
func (e *expr) integer(v *Vars) int64 {
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
	case "max":
		if e.max < len(v.Max) && v.Max[e.max].Seen {
			n = v.Max[e.max].V
		}
	}
	return n + e.add
}

// from is the response a last. or accepted. variable reads (nil: none
// yet).
func (e *expr) from(v *Vars) protoreflect.Message {
	if e.name == "accepted" {
		return v.Accepted
	}
	return v.Last
}

// available reports whether the variable has a value to resume from: a
// last./accepted. variable once there is such a response, max. once a
// value was seen; the others always.
func (e *expr) available(v *Vars) bool {
	switch e.name {
	case "last", "accepted":
		return e.from(v) != nil
	case "max":
		return e.max < len(v.Max) && v.Max[e.max].Seen
	}
	return true
}

// fieldValue is the response field of a last. or accepted. variable as
// JSON; before there is a response, the field's zero value (an integer
// reads 0 plus the addend, as in an empty response).
func (e *expr) fieldValue(v *Vars) ([]byte, error) {
	msg := e.from(v)
	if msg == nil {
		if len(e.src) == 0 || isIntKind(e.src[len(e.src)-1].Kind()) {
			return strconv.AppendInt(nil, e.add, 10), nil
		}
		fd := e.src[len(e.src)-1]
		if fd.Message() != nil || fd.IsList() || fd.IsMap() {
			return []byte("{}"), nil
		}
		return fieldJSON(emptyValue(fd), fd)
	}
	var val protoreflect.Value
	var fd protoreflect.FieldDescriptor
	var err error
	if e.src != nil {
		val, fd, err = valueAt(msg, e.src)
	} else {
		val, fd, err = getField(msg, e.path)
	}
	if err != nil {
		return nil, err
	}
	if n, ok := intOf(val, fd); ok {
		return strconv.AppendInt(nil, n+e.add, 10), nil
	}
	if e.add != 0 {
		return nil, fmt.Errorf("{{%s.%s %+d}}: the field is not an integer", e.name, strings.Join(e.path, "."), e.add)
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
