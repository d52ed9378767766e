package generic

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
)

// seqStep is one field of a sequence path; each reads every element of a
// repeated field (name[] in the path), in order.
type seqStep struct {
	fd   protoreflect.FieldDescriptor
	each bool
}

// seqSpec is a call's sequence, resolved once per group against the
// response type: reading it from a message walks descriptors only.
type seqSpec struct {
	path  string
	steps []seqStep
	// increasing: values must only go up (gaps allowed); otherwise each
	// is the previous plus one (dense).
	increasing bool
	// str: a string field holding integers ("1", "2": an xDS version).
	str bool
	// lists: the path goes through a repeated field, so a response may
	// carry no value at all (an empty list: a control response).
	lists bool
	// kind is an integer field's kind.
	kind protoreflect.Kind
	// resend: a resumed stream's first value may be the last one again
	// (a state-of-the-world server resends what the client has).
	resend bool
}

// resolveSeq binds a sequence path to the response type out: a dotted
// path of field names where name[] reads every element of a repeated
// field; the last field is an integer, or a string holding integers.
func resolveSeq(out protoreflect.MessageDescriptor, s scenario.Sequence) (*seqSpec, error) {
	if s.Mode != "" && s.Mode != scenario.SeqDense && s.Mode != scenario.SeqIncreasing {
		return nil, fmt.Errorf("%s", scenario.UnknownChoice("sequence mode", s.Mode, scenario.SeqModes))
	}
	spec := &seqSpec{path: s.Path, increasing: s.Mode == scenario.SeqIncreasing, resend: s.Resend}
	names := strings.Split(s.Path, ".")
	m := out
	for i, name := range names {
		each := strings.HasSuffix(name, "[]")
		name = strings.TrimSuffix(name, "[]")
		if m == nil {
			return nil, fmt.Errorf("%s is not a message, so it has no field %s", strings.Join(names[:i], "."), name)
		}
		fd := m.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			fd = m.Fields().ByJSONName(name)
		}
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %s; its fields: %s", m.FullName(), name, fieldNames(m))
		}
		switch {
		case fd.IsMap():
			return nil, fmt.Errorf("%s is a map; a sequence is read in order, from plain fields and lists (name[]) only", name)
		case each && !fd.IsList():
			return nil, fmt.Errorf("%s is not a repeated field; [] reads every element of a list (remove it)", name)
		case fd.IsList() && !each:
			return nil, fmt.Errorf("%s is a list; write %s[] to read every element, in order", name, name)
		}
		spec.steps = append(spec.steps, seqStep{fd: fd, each: each})
		spec.lists = spec.lists || each
		m = fd.Message()
	}
	last := spec.steps[len(spec.steps)-1].fd
	switch {
	case last.Kind() == protoreflect.StringKind:
		spec.str = true
	case last.Message() != nil:
		return nil, fmt.Errorf("%s is a message; the sequence is one of its fields (%s.<field>)", last.Name(), s.Path)
	default:
		if !isIntKind(last.Kind()) {
			return nil, fmt.Errorf("must be an integer field or a string holding integers; %s is a %s", last.Name(), last.Kind())
		}
		spec.kind = last.Kind()
	}
	return spec, nil
}

// fieldNames lists m's fields by name.
func fieldNames(m protoreflect.MessageDescriptor) string {
	var names []string
	for j := range m.Fields().Len() {
		names = append(names, string(m.Fields().Get(j).Name()))
	}
	return strings.Join(names, ", ")
}

// seqOut is where a sequence checker reports: violations, each with a
// detail formatted only when wanted (the first of its kind in a stream),
// and every value seen.
type seqOut interface {
	violate(k record.Kind, n uint64, detail string)
	wants(k record.Kind) bool
	seq(v int64)
}

// seqChecker judges one client's sequence: each value against the one
// before, across the responses of a stream (and, for a client that
// resumes, across its streams).
type seqChecker struct {
	spec *seqSpec
	next int64 // the least value that is not a repeat or going back; dense: the only one that is no gap
	seen bool
	// fresh: no value yet on the stream (a resumed one).
	fresh bool
}

// reset starts a new sequence (a new stream that does not resume).
func (c *seqChecker) reset() { c.seen = false }

// resume continues the sequence on a new stream of the same client.
func (c *seqChecker) resume() { c.fresh = true }

// observe reads every value of the sequence in msg, in order, judges
// each, and returns how many there were (0: the response carries none).
func (c *seqChecker) observe(msg protoreflect.Message, out seqOut) int {
	n := 0
	c.spec.values(msg, c.spec.steps, false, func(v protoreflect.Value) {
		c.value(v, out)
		n++
	})
	return n
}

// values calls fn with every value at the path's steps in m, in order:
// each element of a list on the way. With present, an unset field (a
// message, or a scalar without a list on the way) holds no value;
// without, an unset scalar reads as its zero value, as a sequence reads
// it. It is the one walk of a path for sequences, max. variables and the
// covers oracle.
func (spec *seqSpec) values(m protoreflect.Message, steps []seqStep, present bool, fn func(protoreflect.Value)) {
	for i, s := range steps {
		last := i == len(steps)-1
		if !s.each && present && !m.Has(s.fd) {
			return
		}
		v := m.Get(s.fd)
		if s.each {
			l := v.List()
			for j := range l.Len() {
				if last {
					fn(l.Get(j))
				} else {
					spec.values(l.Get(j).Message(), steps[i+1:], present, fn)
				}
			}
			return
		}
		if last {
			fn(v)
			return
		}
		m = v.Message()
	}
}

// integer is value v of the path as an integer; false for a string
// that holds none.
func (spec *seqSpec) integer(v protoreflect.Value) (int64, bool) {
	if spec.str {
		n, err := strconv.ParseInt(v.String(), 10, 64)
		return n, err == nil
	}
	n, _ := intOfKind(v, spec.kind)
	return n, true
}

// value judges one value of the sequence.
func (c *seqChecker) value(v protoreflect.Value, out seqOut) {
	s, ok := c.spec.integer(v)
	if !ok {
		if out.wants(record.WrongValue) {
			out.violate(record.WrongValue, 1, fmt.Sprintf("sequence %s is %q, not an integer", c.spec.path, v.String()))
		} else {
			out.violate(record.WrongValue, 1, "")
		}
		return
	}
	out.seq(s)
	resent := c.fresh && c.spec.resend && c.seen && s == c.next-1
	c.fresh = false
	switch {
	case !c.seen || s == c.next || c.spec.increasing && s > c.next || resent:
	case s > c.next:
		n := uint64(s - c.next)
		detail := ""
		if out.wants(record.Gap) {
			missing := c.show(c.next)
			if n > 1 {
				missing += ".." + c.show(s-1)
			}
			detail = fmt.Sprintf("%s %s after %s: %s missing (%d lost)", c.spec.path, c.show(s), c.show(c.next-1), missing, n)
		}
		out.violate(record.Gap, n, detail)
	case s == c.next-1:
		detail := ""
		if out.wants(record.Duplicate) {
			detail = fmt.Sprintf("%s %s again", c.spec.path, c.show(s))
		}
		out.violate(record.Duplicate, 1, detail)
	default:
		detail := ""
		if out.wants(record.Reorder) {
			detail = fmt.Sprintf("%s %s after %s: went back", c.spec.path, c.show(s), c.show(c.next-1))
		}
		out.violate(record.Reorder, 1, detail)
	}
	if !c.seen || s >= c.next {
		c.next, c.seen = s+1, true
	}
}

// show writes a value as the field holds it: a string quoted.
func (c *seqChecker) show(v int64) string {
	if c.spec.str {
		return strconv.Quote(strconv.FormatInt(v, 10))
	}
	return strconv.FormatInt(v, 10)
}

// hasField reports whether the field fds leads to is set in msg: a
// non-empty list or map, a present message, a scalar with presence set or
// one without presence that is not zero. An unset message on the way
// leaves it unset.
func hasField(msg protoreflect.Message, fds []protoreflect.FieldDescriptor) bool {
	for i, fd := range fds {
		if !msg.Has(fd) {
			return false
		}
		if i < len(fds)-1 {
			msg = msg.Get(fd).Message()
		}
	}
	return len(fds) > 0
}

// isIntKind reports whether k is an integer kind (intOfKind reads it).
func isIntKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}
