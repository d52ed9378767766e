package harness_test

import (
	"github.com/streambench/streambench"

	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/targets/builtin"
)

// mdRecorder counts, per method, the calls that carried the wanted
// metadata and those that did not.
type mdRecorder struct {
	mu            sync.Mutex
	with, without map[string]int
	authority     map[string]int
}

func (m *mdRecorder) note(ctx context.Context, method string) {
	md, _ := metadata.FromIncomingContext(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(md.Get("x-tenant")) == 1 && md.Get("x-tenant")[0] == "acme" && len(md.Get("authorization")) == 1 && md.Get("authorization")[0] == "Bearer t0k" {
		m.with[method]++
	} else {
		m.without[method]++
	}
	for _, a := range md.Get(":authority") {
		m.authority[a]++
	}
}

// TestMetadataReachesTheTarget: target.metadata is sent on every stream
// (and unary call) of every group, to an address target over a link, and
// clients present the target's address as :authority. Without metadata in
// the scenario the same server sees none (the check can fail).
func TestMetadataReachesTheTarget(t *testing.T) {
	for _, withMD := range []bool{true, false} {
		t.Run(fmt.Sprintf("metadata=%v", withMD), func(t *testing.T) {
			rec := &mdRecorder{with: map[string]int{}, without: map[string]int{}, authority: map[string]int{}}
			cfg := builtin.ConfigOf(&scenario.Builtin{Feed: scenario.Feed{Rate: 50, Payload: 64, Ring: 100, Queue: 64}})
			cfg.ServerOptions = append(cfg.ServerOptions,
				grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
					rec.note(ss.Context(), info.FullMethod)
					return h(srv, ss)
				}),
				grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
					rec.note(ctx, info.FullMethod)
					return h(ctx, req)
				}))
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := builtin.New(cfg)
			if err := srv.Serve(lis); err != nil {
				t.Fatal(err)
			}
			defer srv.Close(time.Second)
			addr := lis.Addr().String()
			md := ""
			if withMD {
				md = "  metadata: {x-tenant: acme, authorization: Bearer t0k}\n"
			}
			sc := decode(t, fmt.Sprintf(`name: md
duration: 500ms
target:
  address: %q
  insecure: true
%sgroups:
  - {name: pow, rpc: Math/Pow, clients: 3, messages: 3, interval: 5ms}
  - {name: sub, rpc: Longlived/Subscribe, clients: 2}
`, addr, md))
			rep, err := streambench.Run(context.Background(), sc)
			if err != nil {
				t.Fatal(err)
			}
			// An address target without channelz or pprof: the report says
			// which evidence it had none of, and why.
			if l := rep.Leaks; l == nil || l.Target == nil || len(l.Target.Sources) != 3 {
				t.Fatalf("target evidence: %+v", rep.Leaks)
			}
			for _, src := range rep.Leaks.Target.Sources {
				if src.Available || !strings.HasPrefix(src.Detail, "not available: ") {
					t.Errorf("source %+v: want not available, with why", src)
				}
			}
			if d := rep.Leaks.Target.Sources[0].Detail; !strings.Contains(d, "does not serve grpc.channelz.v1") {
				t.Errorf("channelz: %s", d)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rep.Groups[0].Streams.Opened == 0 || rec.authority[addr] == 0 {
				t.Fatalf("nothing ran, or no call presented %s as authority: %+v %v", addr, rep.Groups[0].Streams, rec.authority)
			}
			for _, m := range []string{"/streambench.v1.Math/Pow", "/streambench.v1.Longlived/Subscribe"} {
				switch {
				case withMD && (rec.with[m] == 0 || rec.without[m] > 0):
					t.Errorf("%s: %d calls with the metadata, %d without", m, rec.with[m], rec.without[m])
				case !withMD && rec.with[m] > 0:
					t.Errorf("%s: metadata the scenario did not give arrived", m)
				}
			}
		})
	}
}

// TestTemplatedMetadata: a metadata value naming {{client}}, {{group}} or
// {{stream}} is rendered for every stream a client opens; an unknown
// variable is refused at validation.
func TestTemplatedMetadata(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	cfg := builtin.ConfigOf(&scenario.Builtin{Feed: scenario.Feed{Rate: 50, Payload: 64, Ring: 100, Queue: 64}})
	cfg.ServerOptions = append(cfg.ServerOptions, grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		md, _ := metadata.FromIncomingContext(ss.Context())
		if v := md.Get("x-caller"); len(v) == 1 {
			mu.Lock()
			seen[v[0]] = true
			mu.Unlock()
		}
		return h(srv, ss)
	}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := builtin.New(cfg)
	if err := srv.Serve(lis); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(time.Second)
	src := fmt.Sprintf(`name: md
duration: 500ms
target:
  address: %q
  insecure: true
  metadata: {x-caller: "{{group}}/{{client}}/{{stream}}"}
groups:
  - {name: pow, rpc: Math/Pow, clients: 2, messages: 2, interval: 5ms}
`, lis.Addr().String())
	if _, err := streambench.Run(context.Background(), decode(t, src)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"pow/1/0", "pow/1/1", "pow/2/0", "pow/2/1"} {
		if !seen[want] {
			t.Errorf("no stream carried x-caller %s; seen %v", want, seen)
		}
	}
	bad := strings.Replace(src, "{{stream}}", "{{strem}}", 1)
	if _, err := streambench.NewPlan(decode(t, bad)); err == nil || !strings.Contains(err.Error(), "{{strem}} is not a metadata variable; variables: client, group, stream") {
		t.Errorf("unknown variable: %v", err)
	}
}
