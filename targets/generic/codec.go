package generic

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// dynamicCodec is the wire codec of a generic call's dynamic messages.
// grpc-go's proto codec sizes a message before marshaling it and checks
// its required fields on both ends: cheap for generated messages, which
// cache both answers, but for a dynamic message each is one more walk over
// every field. This codec marshals once and, when neither message type
// has a required field anywhere (every proto3 message), skips the check
// that could not fail.
type dynamicCodec struct {
	marshal   proto.MarshalOptions
	unmarshal proto.UnmarshalOptions
}

var _ encoding.CodecV2 = (*dynamicCodec)(nil)

// codecFor returns the call option that sends md's messages with a
// dynamicCodec.
func codecFor(md protoreflect.MethodDescriptor) grpc.CallOption {
	partial := !hasRequired(md.Input(), map[protoreflect.FullName]bool{}) &&
		!hasRequired(md.Output(), map[protoreflect.FullName]bool{})
	return grpc.ForceCodecV2(&dynamicCodec{
		marshal:   proto.MarshalOptions{AllowPartial: partial},
		unmarshal: proto.UnmarshalOptions{AllowPartial: partial},
	})
}

// hasRequired reports whether m or a message under it has a required
// field (proto2); seen stops at recursive types.
func hasRequired(m protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[m.FullName()] {
		return false
	}
	seen[m.FullName()] = true
	if m.RequiredNumbers().Len() > 0 {
		return true
	}
	fs := m.Fields()
	for i := range fs.Len() {
		f := fs.Get(i)
		if f.Message() != nil && hasRequired(f.Message(), seen) {
			return true
		}
	}
	return false
}

// Marshal encodes v, a proto message, once.
func (c *dynamicCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("generic codec: marshal %T, want a proto message", v)
	}
	b, err := c.marshal.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// Unmarshal decodes data into v, a proto message.
func (c *dynamicCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("generic codec: unmarshal into %T, want a proto message", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return c.unmarshal.Unmarshal(buf.ReadOnlyData(), m)
}

// Name is the content subtype: "proto", as the default codec's.
func (c *dynamicCodec) Name() string { return "proto" }
