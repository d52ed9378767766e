package generic

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// kindsProto has a field of every kind a wire plan encodes, lists packed
// and not, nesting, a recursive type, a oneof and presence.
const kindsProto = `syntax = "proto3";
package k;
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Inner { int64 a = 1; string s = 2; repeated Inner kids = 3; Inner next = 4; }
message All {
  bool b = 1; int32 i32 = 2; int64 i64 = 3; sint32 s32 = 4; sint64 s64 = 5;
  uint32 u32 = 6; uint64 u64 = 7; fixed32 f32 = 8; fixed64 f64 = 9;
  sfixed32 sf32 = 10; sfixed64 sf64 = 11; float fl = 12; double db = 13;
  string str = 14; bytes by = 15; Color color = 16;
  repeated int32 ri32 = 17; repeated sint64 rs64 = 18; repeated double rdb = 19;
  repeated string rstr = 20; repeated bytes rby = 21; repeated Color rcolor = 22;
  repeated int64 unpacked = 23 [packed = false];
  Inner inner = 24; repeated Inner inners = 25;
  oneof pick { int32 one_i = 26; string one_s = 27; Inner one_m = 28; }
  optional int32 opt = 29; optional string opt_s = 30;
  uint64 high = 536870911;
}
message WithMap { map<string, int32> m = 1; }
service S {
  rpc Call(All) returns (stream All);
  rpc Mapped(WithMap) returns (WithMap);
}
`

const kinds2Proto = `syntax = "proto2";
package k2;
enum Closed { A = 0; B = 1; }
message Open { optional int32 a = 1; repeated int32 r = 2; optional string s = 3; }
message HasClosed { optional Closed c = 1; }
service S2 {
  rpc Call(Open) returns (HasClosed);
}
`

// kindsTypes compiles the test protos and returns All, Open (proto2),
// WithMap and HasClosed.
func kindsTypes(t testing.TB) (all, open, withMap, hasClosed protoreflect.MessageDescriptor) {
	t.Helper()
	dir := t.TempDir()
	for name, src := range map[string]string{"k.proto": kindsProto, "k2.proto": kinds2Proto} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	resolve := func(file, method string) protoreflect.MethodDescriptor {
		md, err := Resolve(context.Background(), Source{Proto: []string{file}, Dir: dir}, method, nil)
		if err != nil {
			t.Fatal(err)
		}
		return md
	}
	call, mapped, call2 := resolve("k.proto", "k.S/Call"), resolve("k.proto", "k.S/Mapped"), resolve("k2.proto", "k2.S2/Call")
	return call.Input(), call2.Input(), mapped.Input(), call2.Output()
}

// fill sets about half of m's fields to random values (lists of 0-3,
// messages to depth 3).
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
	fs := m.Descriptor().Fields()
	for i := range fs.Len() {
		fd := fs.Get(i)
		if r.IntN(2) == 0 || (fd.Message() != nil && depth >= 3) {
			continue
		}
		if fd.IsList() {
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				if fd.Message() != nil {
					e := l.NewElement()
					fill(r, e.Message(), depth+1)
					l.Append(e)
				} else {
					l.Append(randomScalar(r, fd))
				}
			}
			continue
		}
		if fd.Message() != nil {
			fill(r, m.Mutable(fd).Message(), depth+1)
			continue
		}
		m.Set(fd, randomScalar(r, fd))
	}
}

func randomScalar(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	n := r.Int64() >> r.IntN(64)
	if r.IntN(2) == 0 {
		n = -n
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(n&1 == 1)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(n) % 5)) // 3, 4: unknown numbers of an open enum
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(n)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n) / 7)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n) / 7)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(strings.Repeat("é", r.IntN(4)))
	}
	return protoreflect.ValueOfBytes([]byte(strings.Repeat("\x00\xff", r.IntN(4))))
}

// TestWirePlanMatchesProtobuf: random messages of every kind encoded by a
// plan decode as protobuf decodes them to the same message, and protobuf's
// encoding decodes by the plan to the same message.
func TestWirePlanMatchesProtobuf(t *testing.T) {
	all, open, _, _ := kindsTypes(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, md := range []protoreflect.MessageDescriptor{all, open} {
		p := newWirePlan(md)
		if p == nil {
			t.Fatalf("%s has no plan", md.FullName())
		}
		for i := range 500 {
			m := dynamicpb.NewMessage(md)
			fill(r, m, 0)
			if i%7 == 0 { // unknown fields survive both ways
				m.SetUnknown(protoreflect.RawFields{0xf8, 0xff, 0x03, 0x05}) // field 8191 varint 5
			}
			ours, err := p.appendMessage(nil, m, 0)
			if err != nil {
				t.Fatalf("%s: plan encode: %v", md.FullName(), err)
			}
			back := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(ours, back); err != nil {
				t.Fatalf("%s: protobuf cannot decode the plan's encoding: %v", md.FullName(), err)
			}
			if !proto.Equal(m, back) {
				t.Fatalf("%s: plan encode, protobuf decode:\n got %v\nwant %v", md.FullName(), back, m)
			}
			theirs, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			back2 := dynamicpb.NewMessage(md)
			if err := p.decode(theirs, back2, 0); err != nil {
				t.Fatalf("%s: plan cannot decode protobuf's encoding: %v", md.FullName(), err)
			}
			if !proto.Equal(m, back2) {
				t.Fatalf("%s: protobuf encode, plan decode:\n got %v\nwant %v", md.FullName(), back2, m)
			}
		}
	}
}

// TestWirePlanRefuses: a type with a map or a closed enum has no plan (the
// codec uses protobuf's path), and invalid UTF-8 in a proto3 string is an
// error both ways, as protobuf makes it.
func TestWirePlanRefuses(t *testing.T) {
	all, _, withMap, hasClosed := kindsTypes(t)
	if newWirePlan(withMap) != nil {
		t.Errorf("a type with a map has a plan")
	}
	if newWirePlan(hasClosed) != nil {
		t.Errorf("a type with a closed enum has a plan")
	}
	p := newWirePlan(all)
	m := dynamicpb.NewMessage(all)
	m.Set(all.Fields().ByName("str"), protoreflect.ValueOfString("\xff"))
	if _, err := p.appendMessage(nil, m, 0); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("encode of invalid UTF-8: %v", err)
	}
	if err := p.decode([]byte{0x72, 0x01, 0xff}, dynamicpb.NewMessage(all), 0); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("decode of invalid UTF-8: %v", err)
	}
}

// FuzzWireDecode: on any bytes the plan and protobuf agree — both refuse,
// or both decode the same message — and the plan's encoding of it decodes
// back to it.
func FuzzWireDecode(f *testing.F) {
	all, open, _, _ := kindsTypes(f)
	plans := []*wirePlan{newWirePlan(all), newWirePlan(open)}
	mds := []protoreflect.MessageDescriptor{all, open}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 20 {
		m := dynamicpb.NewMessage(mds[i%2])
		fill(r, m, 0)
		b, _ := proto.Marshal(m)
		f.Add(b, i%2 == 1)
	}
	f.Add([]byte{0x0a, 0x80}, false)                  // a truncated length
	f.Add([]byte{0x8a, 0x01, 0x02, 0x08, 0x01}, true) // a packed list
	f.Fuzz(func(t *testing.T, b []byte, second bool) {
		i := 0
		if second {
			i = 1
		}
		ours, theirs := dynamicpb.NewMessage(mds[i]), dynamicpb.NewMessage(mds[i])
		errOurs := plans[i].decode(b, ours, 0)
		errTheirs := proto.Unmarshal(b, theirs)
		if (errOurs == nil) != (errTheirs == nil) {
			t.Fatalf("plan: %v, protobuf: %v", errOurs, errTheirs)
		}
		if errOurs != nil {
			return
		}
		if !proto.Equal(ours, theirs) {
			t.Fatalf("plan decoded %v, protobuf %v", ours, theirs)
		}
		enc, err := plans[i].appendMessage(nil, ours, 0)
		if err != nil {
			t.Fatal(err)
		}
		again := dynamicpb.NewMessage(mds[i])
		if err := proto.Unmarshal(enc, again); err != nil || !proto.Equal(again, ours) {
			t.Fatalf("re-encoded: %v %v, want %v", err, again, ours)
		}
	})
}

// BenchmarkWireCodec: the codec's plan against protobuf's reflection path
// on the same dynamic messages (a type of four fields, as Sqrt's; two
// fields of a type of 31; most of them), in one
// run: go test -bench WireCodec -benchmem ./targets/generic
func BenchmarkWireCodec(b *testing.B) {
	all, _, _, _ := kindsTypes(b)
	small := dynamicpb.NewMessage(all)
	small.Set(all.Fields().ByName("i64"), protoreflect.ValueOfInt64(12345))
	small.Set(all.Fields().ByName("db"), protoreflect.ValueOfFloat64(111.1))
	rich := dynamicpb.NewMessage(all)
	fill(rand.New(rand.NewPCG(5, 6)), rich, 0)
	inner := all.Fields().ByName("inner").Message()
	few := dynamicpb.NewMessage(inner) // a type of four fields, as Sqrt's
	few.Set(inner.Fields().ByName("a"), protoreflect.ValueOfInt64(12345))
	few.Set(inner.Fields().ByName("s"), protoreflect.ValueOfString("x"))
	for _, m := range []struct {
		name string
		msg  *dynamicpb.Message
	}{{"few", few}, {"sparse", small}, {"rich", rich}} {
		md := m.msg.Descriptor()
		p := newWirePlan(md)
		wire, _ := proto.Marshal(m.msg)
		b.Run(m.name+"/marshal/plan", func(b *testing.B) {
			for b.Loop() {
				if _, err := p.appendMessage(nil, m.msg, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(m.name+"/marshal/protobuf", func(b *testing.B) {
			for b.Loop() {
				if _, err := proto.Marshal(m.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		into := dynamicpb.NewMessage(md)
		b.Run(m.name+"/unmarshal/plan", func(b *testing.B) {
			for b.Loop() {
				into.Reset()
				if err := p.decode(wire, into, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(m.name+"/unmarshal/protobuf", func(b *testing.B) {
			for b.Loop() {
				if err := proto.Unmarshal(wire, into); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWireBuildMatchesMessageBuild: a request the builder encodes straight
// to the wire is the message it builds through protobuf, for every kind of
// slot (numbers, text, bytes from text, last./accepted./max. before and
// after a response, a zero proto3 field, a zero optional one) beside
// static fields of every shape.
func TestWireBuildMatchesMessageBuild(t *testing.T) {
	all, _, _, _ := kindsTypes(t)
	templates := []string{
		`{"i64": "{{index}}", "str": "c-{{client}}", "by": "text:k-{{client}}", "inner": {"a": 5, "s": "x"}, "db": 1.5}`,
		`{"i32": "{{last.i32 + 1}}", "str": "{{last.str}}", "u64": "{{max.u64 + 1}}", "s64": "{{accepted.s64}}"}`,
		`{"color": "GREEN", "ri32": [1, 2, 3], "rstr": ["a", "b"], "inners": [{"a": 1}], "u32": 0, "s32": "{{index - 3}}"}`,
		`{"opt": "{{index}}", "f32": "{{stream}}", "sf64": "{{client}}", "fl": "{{index}}", "by": "{{bytes 3}}"}`,
		`{"one_s": "pick-{{index}}", "b": true, "high": "{{index}}"}`,
	}
	resp := dynamicpb.NewMessage(all)
	fill(rand.New(rand.NewPCG(7, 8)), resp, 0)
	for _, src := range templates {
		tp, err := ParseTemplate(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		bd := &binder{out: all}
		if err := bd.request(tp, all); err != nil {
			t.Fatalf("%s: bind: %v", src, err)
		}
		b, err := newBuilder(tp, all)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		b.useWire(newWirePlan(all))
		if b.wire == nil {
			t.Fatalf("%s: no wire form", src)
		}
		for _, v := range []*Vars{
			{Index: 0, Client: 0, Now: time.Now, Rand: rand.New(rand.NewPCG(1, 1)), Max: make([]Highest, len(bd.maxes))},
			{Index: 3, Client: 7, Stream: 2, Now: time.Now, Rand: rand.New(rand.NewPCG(1, 1)), Last: resp, Accepted: resp,
				Max: []Highest{{V: 41, Seen: true}}[:len(bd.maxes)]},
		} {
			m, err := b.build(v, protojson.UnmarshalOptions{})
			if err != nil {
				t.Fatalf("%s: build: %v", src, err)
			}
			w, err := b.buildWire(v)
			if err != nil {
				t.Fatalf("%s: wire build: %v", src, err)
			}
			got := dynamicpb.NewMessage(all)
			if err := proto.Unmarshal(w.b, got); err != nil {
				t.Fatalf("%s: the wire form does not decode: %v", src, err)
			}
			if !proto.Equal(got, m) {
				t.Errorf("%s (index %d):\nwire    %v\nmessage %v", src, v.Index, got, m)
			}
			if want, _ := (proto.MarshalOptions{}).Marshal(m); len(want) != len(w.b) {
				t.Errorf("%s (index %d): wire form of %d bytes, protobuf's %d (a zero field written?)", src, v.Index, len(w.b), len(want))
			}
		}
	}
}
