package generic

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fieldPath resolves a dotted path of field names (as in the .proto, or
// their JSON names) in message type m.
func fieldPath(m protoreflect.MessageDescriptor, path []string) ([]protoreflect.FieldDescriptor, error) {
	var out []protoreflect.FieldDescriptor
	for i, name := range path {
		if strings.HasSuffix(name, "[]") {
			return nil, fmt.Errorf("%s: [] (every element of a list) applies to expect.sequence only", name)
		}
		if m == nil {
			return nil, fmt.Errorf("%s is not a message, so it has no field %s", strings.Join(path[:i], "."), name)
		}
		fd := m.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			fd = m.Fields().ByJSONName(name)
		}
		if fd == nil {
			var names []string
			for j := range m.Fields().Len() {
				names = append(names, string(m.Fields().Get(j).Name()))
			}
			return nil, fmt.Errorf("%s has no field %s; its fields: %s", m.FullName(), name, strings.Join(names, ", "))
		}
		if (fd.IsList() || fd.IsMap()) && i < len(path)-1 {
			return nil, fmt.Errorf("%s is a list or map; this path cannot go through it (expect.sequence can read every element of a list: %s[])", name, name)
		}
		out = append(out, fd)
		m = fd.Message()
	}
	return out, nil
}

// getField reads the field at path of msg (unset messages read as empty).
func getField(msg protoreflect.Message, path []string) (protoreflect.Value, protoreflect.FieldDescriptor, error) {
	fds, err := fieldPath(msg.Descriptor(), path)
	if err != nil {
		return protoreflect.Value{}, nil, err
	}
	return valueAt(msg, fds)
}

// valueAt reads the field fds leads to.
func valueAt(msg protoreflect.Message, fds []protoreflect.FieldDescriptor) (protoreflect.Value, protoreflect.FieldDescriptor, error) {
	for i, fd := range fds {
		v := msg.Get(fd)
		if i == len(fds)-1 {
			return v, fd, nil
		}
		msg = v.Message()
	}
	return protoreflect.Value{}, nil, fmt.Errorf("empty field path")
}

// intOf returns an integer-kind value as int64.
func intOf(v protoreflect.Value, fd protoreflect.FieldDescriptor) (int64, bool) {
	if fd.IsList() || fd.IsMap() {
		return 0, false
	}
	return intOfKind(v, fd.Kind())
}

// intOfKind returns a value of integer kind k as int64.
func intOfKind(v protoreflect.Value, k protoreflect.Kind) (int64, bool) {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int(), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return int64(v.Uint()), true
	}
	return 0, false
}

// sizeOf is a value's length: bytes or characters, elements of a list or
// map, or a message's encoded size.
func sizeOf(v protoreflect.Value, fd protoreflect.FieldDescriptor) (int, bool) {
	switch {
	case fd.IsList():
		return v.List().Len(), true
	case fd.IsMap():
		return v.Map().Len(), true
	}
	switch fd.Kind() {
	case protoreflect.BytesKind:
		return len(v.Bytes()), true
	case protoreflect.StringKind:
		return len(v.String()), true
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return proto.Size(v.Message().Interface()), true
	}
	return 0, false
}
