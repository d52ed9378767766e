package harness_test

import (
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/targets/builtin"
)

// TestStreamMetadataOnlyWithStreamFaults: the clients say who they are in
// each stream's metadata only when the plan has a stream fault, the only
// reader of it (at 100,000 subscribers it costs every stream a header map
// on the server); with one, every stream carries it.
func TestStreamMetadataOnlyWithStreamFaults(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	const base = `name: md
duration: 600ms
graceful_stop: 2s
target:
  builtin:
    feed: {rate: 50/s}
groups:
  - {name: subs, rpc: Longlived/Subscribe, clients: 3}
`
	tests := []struct {
		name   string
		faults string
		want   bool
	}{
		{"no faults", "", false},
		{"network fault only", "faults:\n  - {at: 100ms, for: 100ms, kind: latency, latency: 1ms}\n", false},
		{"stream fault", "faults:\n  - {at: 100ms, for: 100ms, kind: stream_delay, delay: 1ms, probability: 0.5}\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var with, without atomic.Int64
			seen := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				md, _ := metadata.FromIncomingContext(ss.Context())
				if len(md.Get(fault.MDGroup)) > 0 && len(md.Get(fault.MDClient)) > 0 {
					with.Add(1)
				} else {
					without.Add(1)
				}
				return h(srv, ss)
			}
			probe := builtin.Kind(func(c *builtin.Config) {
				c.ServerOptions = append(c.ServerOptions, grpc.ChainStreamInterceptor(seen))
			})
			rep := runInline(t, base+tc.faults, harness.WithTargetKind(probe))
			if len(rep.Errors) > 0 {
				t.Fatalf("run errors: %v", rep.Errors)
			}
			if with.Load()+without.Load() == 0 {
				t.Fatal("no stream reached the server: nothing was checked")
			}
			if tc.want && without.Load() > 0 || !tc.want && with.Load() > 0 {
				t.Fatalf("streams with client metadata %d, without %d; want all %v", with.Load(), without.Load(), tc.want)
			}
		})
	}
}
