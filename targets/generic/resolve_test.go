package generic

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	v1grpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphagrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/streambench/streambench/internal/bufnet"
	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestResolveFromReflection: v1, v1alpha alone (the fallback), none (a
// target error, not the scenario's), and a service the server does not
// have (the scenario's error).
func TestResolveFromReflection(t *testing.T) {
	for _, tc := range []struct {
		name     string
		register func(*grpc.Server)
		call     string
		notFound bool
		fails    bool
	}{
		{"v1", func(s *grpc.Server) {
			v1grpc.RegisterServerReflectionServer(s, reflection.NewServerV1(reflection.ServerOptions{Services: s}))
		}, "streambench.v1.Math/Sqrt", false, false},
		{"v1alpha only", func(s *grpc.Server) {
			v1alphagrpc.RegisterServerReflectionServer(s, reflection.NewServer(reflection.ServerOptions{Services: s}))
		}, "streambench.v1.Math/Pow", false, false},
		{"no reflection", func(*grpc.Server) {}, "streambench.v1.Math/Pow", false, true},
		{"unknown service", func(s *grpc.Server) { reflection.Register(s) }, "streambench.v1.Nope/Pow", true, true},
		{"unknown method", func(s *grpc.Server) { reflection.Register(s) }, "streambench.v1.Math/Cube", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := bufnet.Serve(t, func(s *grpc.Server) {
				pb.RegisterMathServer(s, mathsrv.New())
				tc.register(s)
			}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			md, err := Resolve(ctx, Source{}, tc.call, cc)
			var nf *NotFoundError
			switch {
			case tc.fails && err == nil:
				t.Fatalf("resolved %v", md.FullName())
			case !tc.fails && err != nil:
				t.Fatal(err)
			case tc.fails && errors.As(err, &nf) != tc.notFound:
				t.Errorf("err %v: not-found %v, want %v", err, errors.As(err, &nf), tc.notFound)
			case !tc.fails && !strings.HasSuffix(tc.call, string(md.Name())):
				t.Errorf("resolved %s", md.FullName())
			}
		})
	}
}

// TestResolveFromFiles: .proto files (relative to the scenario and by an
// absolute path), a protoset, and what a bad one says.
func TestResolveFromFiles(t *testing.T) {
	proto, err := filepath.Abs("../proto/streambench.proto")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, src := range []Source{
		{Proto: []string{"streambench.proto"}, Dir: filepath.Dir(proto)},
		{Proto: []string{proto}},
		{Proto: []string{"proto/streambench.proto"}, ImportPaths: []string{".."}, Dir: "."},
	} {
		if _, err := Resolve(ctx, src, "streambench.v1.Longlived/Subscribe", nil); err != nil {
			t.Errorf("%+v: %v", src, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.proto")
	if err := os.WriteFile(bad, []byte("syntax = \"proto3\";\nmessage X { int32 a = 1 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(ctx, Source{Proto: []string{bad}}, "x.S/M", nil); err == nil || !strings.Contains(err.Error(), "bad.proto:2") {
		t.Errorf("a proto that does not compile: %v", err)
	}
	if _, err := Resolve(ctx, Source{Protoset: "../../scenarios/interop.protoset"}, "grpc.testing.TestService/FullDuplexCall", nil); err != nil {
		t.Errorf("protoset: %v", err)
	}
	if _, err := Resolve(ctx, Source{Protoset: proto}, "a.B/C", nil); err == nil || !strings.Contains(err.Error(), "protoset") {
		t.Errorf("a .proto given as a protoset: %v", err)
	}
}

// endedFirst is a connection whose reflection v1 stream the server has
// already ended with Unimplemented when the client sends on it: SendMsg
// says io.EOF and RecvMsg the status (grpc-go does this when the
// server's answer arrives before the send). Other methods go to cc.
type endedFirst struct{ grpc.ClientConnInterface }

func (e endedFirst) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if method == reflectionV1 {
		return endedStream{}, nil
	}
	return e.ClientConnInterface.NewStream(ctx, desc, method, opts...)
}

type endedStream struct{ grpc.ClientStream }

func (endedStream) SendMsg(any) error { return io.EOF }
func (endedStream) RecvMsg(any) error {
	return status.Error(codes.Unimplemented, "unknown service grpc.reflection.v1.ServerReflection")
}

// TestResolveV1EndedBeforeTheSend: when the server has ended the v1
// stream before the request goes out, the send's io.EOF is not the
// answer: the status is, and Unimplemented falls back to v1alpha (a full
// -race run once failed "server reflection: EOF" on a v1alpha-only
// server).
func TestResolveV1EndedBeforeTheSend(t *testing.T) {
	cc := bufnet.Serve(t, func(s *grpc.Server) {
		pb.RegisterMathServer(s, mathsrv.New())
		v1alphagrpc.RegisterServerReflectionServer(s, reflection.NewServer(reflection.ServerOptions{Services: s}))
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := Resolve(ctx, Source{}, "streambench.v1.Math/Pow", endedFirst{cc})
	if err != nil {
		t.Fatal(err)
	}
	if md.Name() != "Pow" {
		t.Errorf("resolved %s", md.FullName())
	}
}

// listed is a reflection service's list of services, without a server
// behind them.
type listed []string

func (l listed) GetServiceInfo() map[string]grpc.ServiceInfo {
	m := make(map[string]grpc.ServiceInfo, len(l))
	for _, s := range l {
		m[s] = grpc.ServiceInfo{}
	}
	return m
}

// watchFiles builds watch.proto (service test.v1.Watch, whose request is
// test.dep.Key) and the files it imports, registering only those present:
// a file left out is a placeholder, as a server built without it has.
// chain is how watch.proto reaches key.proto: directly, or through
// mid.proto.
func watchFiles(t *testing.T, chain []string, present map[string]bool) *protoregistry.Files {
	t.Helper()
	fdps := map[string]*descriptorpb.FileDescriptorProto{
		"key.proto": {
			Name: proto.String("key.proto"), Package: proto.String("test.dep"), Syntax: proto.String("proto3"),
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Key"), Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("k"), Number: proto.Int32(1), JsonName: proto.String("k"),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
			}}}},
		},
		"mid.proto": {
			Name: proto.String("mid.proto"), Package: proto.String("test.mid"), Syntax: proto.String("proto3"),
			Dependency: []string{"key.proto"},
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Wrap"), Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("key"), Number: proto.Int32(1), JsonName: proto.String("key"),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
				TypeName: proto.String(".test.dep.Key"),
			}}}},
		},
	}
	input := ".test.dep.Key"
	if chain[0] == "mid.proto" {
		input = ".test.mid.Wrap"
	}
	fdps["watch.proto"] = &descriptorpb.FileDescriptorProto{
		Name: proto.String("watch.proto"), Package: proto.String("test.v1"), Syntax: proto.String("proto3"),
		Dependency:  chain[:1],
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Event")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Watch"), Method: []*descriptorpb.MethodDescriptorProto{{
			Name: proto.String("Watch"), InputType: proto.String(input), OutputType: proto.String(".test.v1.Event"),
			ClientStreaming: proto.Bool(true), ServerStreaming: proto.Bool(true),
		}}}},
	}
	files := new(protoregistry.Files)
	for _, name := range []string{"key.proto", "mid.proto", "watch.proto"} {
		if !present[name] {
			continue
		}
		fd, err := protodesc.FileOptions{AllowUnresolvable: true}.New(fdps[name], files)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := files.RegisterFile(fd); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return files
}

// TestResolveMissingDependency: a server whose reflection has the
// service's file but not a file it imports is not reported as not knowing
// the service: the error names the missing file and the file importing
// it, says whether the service is listed, and is the target's problem,
// not the scenario's (etcd's Watch was once reported as unknown).
func TestResolveMissingDependency(t *testing.T) {
	for _, tc := range []struct {
		name    string
		chain   []string
		present []string
		listed  listed
		want    []string // in the error; nil: resolves
	}{
		{"complete", []string{"key.proto"}, []string{"key.proto", "watch.proto"}, listed{"test.v1.Watch"}, nil},
		{"complete through mid", []string{"mid.proto"}, []string{"key.proto", "mid.proto", "watch.proto"}, listed{"test.v1.Watch"}, nil},
		{"direct import missing", []string{"key.proto"}, []string{"watch.proto"}, listed{"test.v1.Watch"},
			[]string{"test.v1.Watch is listed", "watch.proto imports key.proto", "key.proto, which the server's reflection does not have"}},
		{"indirect import missing", []string{"mid.proto"}, []string{"mid.proto", "watch.proto"}, listed{"test.v1.Watch"},
			[]string{"test.v1.Watch is listed", "mid.proto imports key.proto", "key.proto, which the server's reflection does not have"}},
		{"missing and not listed", []string{"key.proto"}, []string{"watch.proto"}, nil,
			[]string{"is not listed", "watch.proto imports key.proto", "key.proto, which the server's reflection does not have"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			present := map[string]bool{}
			for _, f := range tc.present {
				present[f] = true
			}
			files := watchFiles(t, tc.chain, present)
			cc := bufnet.Serve(t, func(s *grpc.Server) {
				v1grpc.RegisterServerReflectionServer(s, reflection.NewServerV1(reflection.ServerOptions{Services: tc.listed, DescriptorResolver: files}))
			}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			md, err := Resolve(ctx, Source{}, "test.v1.Watch/Watch", cc)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if md.FullName() != "test.v1.Watch.Watch" {
					t.Errorf("resolved %s", md.FullName())
				}
				return
			}
			if err == nil {
				t.Fatalf("resolved %s with a file missing", md.FullName())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: no %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "does not know") {
				t.Errorf("error %q says the service is unknown", err)
			}
			var nf *NotFoundError
			if errors.As(err, &nf) {
				t.Errorf("error %q is the scenario's (not found), not the target's", err)
			}
		})
	}
}
