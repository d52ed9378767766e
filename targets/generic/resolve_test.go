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
