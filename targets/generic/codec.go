package generic

import (
	"fmt"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// dynamicCodec is the wire codec of a generic call's dynamic messages.
// grpc-go's proto codec sizes a message before marshaling it and checks
// its required fields on both ends: cheap for generated messages, which
// cache both answers, but for a dynamic message each is one more walk over
// every field. This codec marshals once and, when neither message type
// has a required field anywhere (every proto3 message), skips the check
// that could not fail.
//
// Where it can (no required field anywhere, no map, group or closed
// enum: see wirePlan) it encodes and decodes with a plan of each type
// instead of protobuf's reflection path.
type dynamicCodec struct {
	marshal   proto.MarshalOptions
	unmarshal proto.UnmarshalOptions
	// plans are the wire plans of the method's two types, by name; empty
	// where protobuf's path is used.
	plans map[protoreflect.FullName]*wirePlan
	// hint is the size of the last message marshaled: the next buffer's.
	hint atomic.Int64
}

var _ encoding.CodecV2 = (*dynamicCodec)(nil)

// codecFor returns the call option that sends md's messages with a
// dynamicCodec.
func codecFor(md protoreflect.MethodDescriptor) grpc.CallOption {
	return grpc.ForceCodecV2(newDynamicCodec(md))
}

// newDynamicCodec is the codec of md's messages.
func newDynamicCodec(md protoreflect.MethodDescriptor) *dynamicCodec {
	partial := !hasRequired(md.Input(), map[protoreflect.FullName]bool{}) &&
		!hasRequired(md.Output(), map[protoreflect.FullName]bool{})
	c := &dynamicCodec{
		marshal:   proto.MarshalOptions{AllowPartial: partial},
		unmarshal: proto.UnmarshalOptions{AllowPartial: partial},
		plans:     map[protoreflect.FullName]*wirePlan{},
	}
	if partial {
		for _, md := range []protoreflect.MessageDescriptor{md.Input(), md.Output()} {
			if p := newWirePlan(md); p != nil {
				c.plans[md.FullName()] = p
			}
		}
	}
	return c
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
	if w, ok := v.(*wireMsg); ok { // a request the builder encoded itself
		return mem.BufferSlice{mem.SliceBuffer(w.b)}, nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("generic codec: marshal %T, want a proto message", v)
	}
	if dm, ok := m.(*dynamicpb.Message); ok {
		if p := c.plans[dm.Descriptor().FullName()]; p != nil {
			b, err := p.appendMessage(make([]byte, 0, c.hint.Load()), dm, 0)
			if err != nil {
				return nil, fmt.Errorf("generic codec: marshal %s: %w", dm.Descriptor().FullName(), err)
			}
			c.hint.Store(int64(len(b)))
			return mem.BufferSlice{mem.SliceBuffer(b)}, nil
		}
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
	if dm, ok := m.(*dynamicpb.Message); ok {
		if p := c.plans[dm.Descriptor().FullName()]; p != nil {
			dm.Reset()
			if err := p.decode(buf.ReadOnlyData(), dm, 0); err != nil {
				return fmt.Errorf("generic codec: unmarshal %s: %w", dm.Descriptor().FullName(), err)
			}
			return nil
		}
	}
	return c.unmarshal.Unmarshal(buf.ReadOnlyData(), m)
}

// Name is the content subtype: "proto", as the default codec's.
func (c *dynamicCodec) Name() string { return "proto" }
