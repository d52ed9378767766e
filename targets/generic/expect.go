package generic

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
)

// expectation is a call's Expect, resolved against the response type.
type expectation struct {
	count, atLeast int
	status         codes.Code
	fields         []fieldCheck
	seq            *seqSpec
	ts             []protoreflect.FieldDescriptor
	// data is the field that makes a response data (data_field); nil:
	// every response is, unless the sequence reads lists and finds none.
	data []protoreflect.FieldDescriptor
}

// fieldError is a problem of one field of the call (relative to the
// group: "call.expect.sequence"), for the error's position.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// seqField is the field a sequence problem is reported at: its path in
// the mapping form, the sequence itself in the short form.
func seqField(s scenario.Sequence) string {
	if s.Mode != "" {
		return "call.expect.sequence.path"
	}
	return "call.expect.sequence"
}

// fieldCheck is one FieldCheck, resolved.
type fieldCheck struct {
	path   string
	fds    []protoreflect.FieldDescriptor
	equals *Template
	size   *int
	sizes  []int
}

// codeByName maps gRPC code names ("OK", "NotFound") to codes.
var codeByName = func() map[string]codes.Code {
	m := map[string]codes.Code{}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		m[c.String()] = c
	}
	return m
}()

// parseExpect checks what can be checked without the response type.
func parseExpect(e scenario.Expect) (*expectation, error) {
	x := &expectation{count: e.Count, atLeast: e.AtLeast}
	switch {
	case e.Count < 0 || e.AtLeast < 0:
		return nil, fmt.Errorf("count and at_least must not be negative")
	case e.Count > 0 && e.AtLeast > 0:
		return nil, fmt.Errorf("give count (exactly) or at_least, not both")
	}
	if e.Status != "" {
		c, ok := codeByName[e.Status]
		if !ok {
			names := make([]string, 0, len(codeByName))
			for c := codes.OK; c <= codes.Unauthenticated; c++ {
				names = append(names, c.String())
			}
			return nil, fmt.Errorf("status %q: valid choices: %s", e.Status, strings.Join(names, ", "))
		}
		x.status = c
	}
	for i, f := range e.Fields {
		if f.Path == "" {
			return nil, fmt.Errorf("fields[%d]: path must be set", i)
		}
		fc := fieldCheck{path: f.Path, size: f.Size, sizes: f.Sizes}
		n := 0
		if f.Equals != nil {
			t, err := ParseTemplate(f.Equals.JSON)
			if err != nil {
				return nil, fmt.Errorf("fields[%d].equals: %w", i, err)
			}
			fc.equals, n = t, n+1
		}
		if f.Size != nil {
			n++
		}
		if len(f.Sizes) > 0 {
			n++
		}
		if n != 1 {
			return nil, fmt.Errorf("fields[%d] (%s): give one of equals, size and sizes", i, f.Path)
		}
		x.fields = append(x.fields, fc)
	}
	if s := e.Sequence; s != (scenario.Sequence{}) {
		switch {
		case s.Path == "":
			return nil, &fieldError{"call.expect.sequence", fmt.Errorf("sequence: path must be set")}
		case s.Mode != "" && s.Mode != scenario.SeqDense && s.Mode != scenario.SeqIncreasing:
			return nil, &fieldError{"call.expect.sequence.mode", fmt.Errorf("%s", scenario.UnknownChoice("sequence mode", s.Mode, scenario.SeqModes))}
		}
	}
	if strings.Contains(e.DataField, "[]") {
		return nil, &fieldError{"call.expect.data_field", fmt.Errorf("data_field %s: a plain path of fields (events), without []: a response is data when that field is set", e.DataField)}
	}
	return x, nil
}

// resolve binds the field paths to the response type out.
func (x *expectation) resolve(e scenario.Expect, out protoreflect.MessageDescriptor) error {
	path := func(what, p string) ([]protoreflect.FieldDescriptor, error) {
		fds, err := fieldPath(out, strings.Split(p, "."))
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, p, err)
		}
		return fds, nil
	}
	for i := range x.fields {
		f := &x.fields[i]
		fds, err := path("field", f.path)
		if err != nil {
			return err
		}
		last := fds[len(fds)-1]
		if f.size != nil || len(f.sizes) > 0 {
			if !hasSize(last) {
				return fmt.Errorf("field %s: a %s has no size (size applies to bytes, strings, messages, lists and maps)", f.path, last.Kind())
			}
		}
		if f.equals != nil && (last.IsList() || last.IsMap()) {
			return fmt.Errorf("field %s: equals does not apply to a list or map; check its size", f.path)
		}
		f.fds = fds
	}
	var err error
	if e.Sequence.Path != "" {
		if x.seq, err = resolveSeq(out, e.Sequence); err != nil {
			return &fieldError{seqField(e.Sequence), fmt.Errorf("sequence %s: %w", e.Sequence.Path, err)}
		}
	}
	if e.DataField != "" {
		if x.data, err = path("data_field", e.DataField); err != nil {
			return &fieldError{"call.expect.data_field", err}
		}
	}
	if e.Timestamp != "" {
		if x.ts, err = path("timestamp", e.Timestamp); err != nil {
			return err
		}
		if _, ok := intOf(emptyValue(x.ts[len(x.ts)-1]), x.ts[len(x.ts)-1]); !ok {
			return fmt.Errorf("timestamp %s: must be an integer field (unix nanoseconds)", e.Timestamp)
		}
	}
	return nil
}

// hasSize reports whether sizeOf applies to field fd: bytes, strings,
// messages, lists and maps. (Asking sizeOf with an empty value panicked
// for lists and messages, which have none.)
func hasSize(fd protoreflect.FieldDescriptor) bool {
	switch {
	case fd.IsList() || fd.IsMap():
		return true
	}
	switch fd.Kind() {
	case protoreflect.BytesKind, protoreflect.StringKind, protoreflect.MessageKind, protoreflect.GroupKind:
		return true
	}
	return false
}

// emptyValue is a scalar field's zero value (for kind checks).
func emptyValue(fd protoreflect.FieldDescriptor) protoreflect.Value {
	if fd.IsList() || fd.IsMap() || fd.Message() != nil {
		return protoreflect.Value{}
	}
	return fd.Default()
}

// violation is one broken expectation of one message.
type violation struct {
	kind   record.Kind
	detail string
}

// check judges response i of a stream.
func (x *expectation) check(msg protoreflect.Message, i int, vars *Vars) []violation {
	var out []violation
	for _, f := range x.fields {
		v, fd, err := valueAt(msg, f.fds)
		if err != nil {
			out = append(out, violation{record.WrongValue, err.Error()})
			continue
		}
		switch {
		case f.size != nil:
			if n, _ := sizeOf(v, fd); n != *f.size {
				out = append(out, violation{record.WrongValue, fmt.Sprintf("response %d: %s has size %d, want %d", i, f.path, n, *f.size)})
			}
		case len(f.sizes) > 0:
			if i < len(f.sizes) {
				if n, _ := sizeOf(v, fd); n != f.sizes[i] {
					out = append(out, violation{record.WrongValue, fmt.Sprintf("response %d: %s has size %d, want %d", i, f.path, n, f.sizes[i])})
				}
			}
		case f.equals != nil:
			want, err := f.equals.Render(vars)
			if err != nil {
				out = append(out, violation{record.WrongValue, fmt.Sprintf("response %d: %s: %v", i, f.path, err)})
				continue
			}
			if ok, got := equalJSON(v, fd, want); !ok {
				out = append(out, violation{record.WrongValue, fmt.Sprintf("response %d: %s", i, mismatch(f.path, got, string(want)))})
			}
		}
	}
	return out
}

// equalJSON compares a field's value with the expected JSON; enum fields
// accept their value's name.
func equalJSON(v protoreflect.Value, fd protoreflect.FieldDescriptor, want []byte) (bool, string) {
	got, err := fieldJSON(v, fd)
	if err != nil {
		return false, err.Error()
	}
	var w, g any
	if json.Unmarshal(want, &w) != nil || json.Unmarshal(got, &g) != nil {
		return false, string(got)
	}
	if name, ok := w.(string); ok && fd.Kind() == protoreflect.EnumKind {
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil && string(ev.Name()) == name {
			return true, name
		}
	}
	if s, ok := w.(string); ok && fd.Kind() == protoreflect.Int64Kind {
		// protojson writes 64-bit integers as strings; either is fine.
		return s == string(got), string(got)
	}
	return reflect.DeepEqual(w, g), string(got)
}

// want is the responses a stream must carry, as text.
func (x *expectation) want() string {
	switch {
	case x.count > 0:
		return fmt.Sprintf("%d", x.count)
	case x.atLeast > 0:
		return fmt.Sprintf("at least %d", x.atLeast)
	}
	return "any number of"
}

// mismatch says that the field at path is got, want want (both JSON).
// When their JSON types differ, it names them, so that a string holding a
// number and that number do not read as equal ("version_info is the
// string "1", want the number 1").
func mismatch(path, got, want string) string {
	g, w := jsonType(got), jsonType(want)
	if g == w || g == "" || w == "" {
		return fmt.Sprintf("%s is %s, want %s", path, got, want)
	}
	msg := fmt.Sprintf("%s is the %s %s, want the %s %s", path, g, got, w, want)
	if g == "string" && w == "number" {
		msg += ` (a template that is one variable alone, "{{index + 1}}", gives a number; a string field holding integers can be a sequence: expect.sequence {path: ` + path + `, mode: increasing})`
	}
	return msg
}

// jsonType names the type of a JSON text: string, number, boolean, null,
// object or list ("" when it is not JSON).
func jsonType(text string) string {
	var v any
	if json.Unmarshal([]byte(text), &v) != nil {
		return ""
	}
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "list"
	}
	return ""
}
