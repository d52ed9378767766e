package proxy

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// frame is one gRPC message as it crossed the wire, never decoded: the
// buffers gRPC read it into, referenced until the other side's Send takes
// them.
type frame struct {
	data mem.BufferSlice
}

// Len is the message's size in bytes.
func (f *frame) Len() int { return f.data.Len() }

// free lets go of buffers no Send took (a send refused by a fault).
func (f *frame) free() {
	f.data.Free()
	f.data = nil
}

// codec moves frames as raw bytes: Unmarshal keeps a reference to the
// buffers gRPC read, Marshal hands the same buffers to the Send, so a
// message crosses the proxy without a copy or a decode. It is forced on
// both the proxy's server and its calls upstream.
type codec struct{}

var _ encoding.CodecV2 = codec{}

// Marshal hands f's buffers to gRPC, which frees them once written.
func (codec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("proxy codec: cannot marshal %T, only frames", v)
	}
	out := f.data
	f.data = nil
	return out, nil
}

// Unmarshal keeps a reference to data (gRPC frees its own when this
// returns).
func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("proxy codec: cannot unmarshal into %T, only frames", v)
	}
	data.Ref()
	f.data = data
	return nil
}

// Name is "proto": a call the proxy makes upstream presents the client's
// own content-subtype (CallContentSubtype), and with none the default
// one, so the upstream server picks the codec the client meant.
func (codec) Name() string { return "proto" }
