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
	seq            []protoreflect.FieldDescriptor
	ts             []protoreflect.FieldDescriptor
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
			if _, ok := sizeOf(emptyValue(last), last); !ok && !last.IsList() && !last.IsMap() {
				return fmt.Errorf("field %s: a %s has no size (size applies to bytes, strings, messages, lists and maps)", f.path, last.Kind())
			}
		}
		if f.equals != nil && (last.IsList() || last.IsMap()) {
			return fmt.Errorf("field %s: equals does not apply to a list or map; check its size", f.path)
		}
		f.fds = fds
	}
	var err error
	if e.Sequence != "" {
		if x.seq, err = path("sequence", e.Sequence); err != nil {
			return err
		}
		if _, ok := intOf(emptyValue(x.seq[len(x.seq)-1]), x.seq[len(x.seq)-1]); !ok {
			return fmt.Errorf("sequence %s: must be an integer field", e.Sequence)
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
				out = append(out, violation{record.WrongValue, fmt.Sprintf("response %d: %s is %s, want %s", i, f.path, got, want)})
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
