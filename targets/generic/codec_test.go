package generic

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestDynamicCodec: a proto3 message round-trips; a proto2 message's
// missing required field is still an error both ways (the check is skipped
// only where it cannot fail); a standard import compiles and resolves.
func TestDynamicCodec(t *testing.T) {
	dir := t.TempDir()
	src := `syntax = "proto2";
package c;
import "google/protobuf/timestamp.proto";
message Need { required int32 a = 1; }
message Holder { optional Need need = 1; }
message Free { optional int32 a = 1; optional google.protobuf.Timestamp at = 2; }
service S {
  rpc Strict(Free) returns (stream Holder);
  rpc Loose(Free) returns (stream Free);
}
`
	if err := os.WriteFile(filepath.Join(dir, "c.proto"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	codecOf := func(method string) (encoding.CodecV2, *dynamicpb.Message, *dynamicpb.Message) {
		t.Helper()
		md, err := Resolve(ctx, Source{Proto: []string{"c.proto"}, Dir: dir}, method, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := codecFor(md).(grpc.ForceCodecV2CallOption).CodecV2
		return c, dynamicpb.NewMessage(md.Input()), dynamicpb.NewMessage(md.Output())
	}

	loose, in, out := codecOf("c.S/Loose")
	in.Set(in.Descriptor().Fields().ByName("a"), protoreflect.ValueOfInt32(7))
	b, err := loose.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := loose.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	if got := out.Get(out.Descriptor().Fields().ByName("a")).Int(); got != 7 {
		t.Errorf("round trip: a = %d, want 7", got)
	}
	if !strings.Contains(string(in.Descriptor().Fields().ByName("at").Message().ParentFile().Path()), "timestamp.proto") {
		t.Errorf("the standard import is not resolved")
	}

	strict, _, holder := codecOf("c.S/Strict")
	need := holder.Descriptor().Fields().ByName("need")
	holder.Set(need, protoreflect.ValueOfMessage(dynamicpb.NewMessage(need.Message())))
	if _, err := strict.Marshal(holder); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("marshal without a required field: %v", err)
	}
	// The wire form of Holder{need: {}}: field 1, length 0.
	if err := strict.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x00})}, dynamicpb.NewMessage(holder.Descriptor())); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("unmarshal without a required field: %v", err)
	}
	if strict.Name() != "proto" {
		t.Errorf("content subtype %q", strict.Name())
	}
}
