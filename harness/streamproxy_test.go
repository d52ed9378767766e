package harness_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/testenv"
	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

// mathServer serves the reference Math service on a loopback port for the
// test's life, counting the handlers whose context a client cancel ended.
func mathServer(t *testing.T) (addr string, cancelled *atomic.Int64) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cancelled = new(atomic.Int64)
	count := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		err := h(srv, ss)
		if errors.Is(ss.Context().Err(), context.Canceled) {
			cancelled.Add(1)
		}
		return err
	}
	srv := grpc.NewServer(grpc.ChainStreamInterceptor(count))
	pb.RegisterMathServer(srv, mathsrv.New())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return lis.Addr().String(), cancelled
}

const proxiedGroups = `groups:
  - {name: pow, rpc: Math/Pow, clients: 4, messages: 10, interval: 5ms}
  - {name: sqrt, rpc: Math/Sqrt, clients: 4, messages: 10, interval: 5ms}
`

const proxiedFaults = `faults:
  - {at: 300ms, for: 1s, kind: stream_abort, status: ResourceExhausted, after: 3, probability: 1, scope: {group: pow}}
  - {at: 300ms, for: 2s, kind: stream_delay, delay: 50ms, probability: 1, scope: {group: sqrt}}
assert:
  - pow.ends.ResourceExhausted > 0
  - sqrt.errors == 0
`

// stalledFaults stall the sqrt streams instead of delaying them.
const stalledFaults = `faults:
  - {at: 300ms, for: 1s, kind: stream_abort, status: ResourceExhausted, after: 3, probability: 1, scope: {group: pow}}
  - {at: 300ms, for: 2s, kind: stream_stall, stall: 300ms, after: 2, probability: 1, scope: {group: sqrt}}
assert:
  - pow.ends.ResourceExhausted > 0
  - sqrt.errors == 0
`

// TestStreamFaultsThroughProxy: stream faults on an address target and on
// a command target act through the frame relay, which report.json names,
// as on the builtin target — the
// aborted streams end with the status, the server sees a client cancel,
// the delay shows in the latency, and report.json counts the injections —
// while a run without stream faults has no proxy and no server section.
func TestStreamFaultsThroughProxy(t *testing.T) {
	// It judges streambench's own goroutines and descriptors after each
	// run, which are the whole process's: in a process of its own, beside
	// the other tests.
	if testenv.Isolate(t) {
		return
	}
	tests := []struct {
		name    string
		command bool
		faults  bool
		stall   bool // stream_stall instead of stream_delay
	}{
		{name: "address", faults: true},
		{name: "address without stream faults"},
		{name: "command", command: true, faults: true},
		{name: "address stall", faults: true, stall: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var target string
			var cancelled *atomic.Int64
			if tc.command {
				if testing.Short() {
					t.Skip("-short: runs the reference servers as a process")
				}
				target = "target:\n  command: [" + serveBinary(t) + ", serve, --addr, \"127.0.0.1:{port}\"]\n  ready: {timeout: 30s}\n"
			} else {
				var addr string
				addr, cancelled = mathServer(t)
				target = "target: {address: \"" + addr + "\", insecure: true}\n"
			}
			src := "name: proxied\nseed: 5\nduration: 3s\ngraceful_stop: 2s\n" + target + proxiedGroups
			switch {
			case tc.stall:
				src += stalledFaults
			case tc.faults:
				src += proxiedFaults
			}
			sc, err := scenario.Parse("proxied.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := streambench.Run(ctx, sc)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Errors) > 0 {
				t.Fatalf("run errors: %v", rep.Errors)
			}
			if rep.Leaks == nil || len(rep.Leaks.Goroutines.Leaked) > 0 || len(rep.Leaks.FDs.Leaked) > 0 {
				t.Fatalf("streambench's own process leaked (the proxy is stopped before the check): %+v", rep.Leaks)
			}
			if want := map[bool]string{true: "frame relay"}[tc.faults]; rep.Proxy != want {
				t.Errorf("report.json's proxy is %q, want %q", rep.Proxy, want)
			}
			if !tc.faults {
				if rep.Server != nil {
					t.Fatalf("a run without stream faults has a server section: %+v", rep.Server)
				}
				return
			}
			requirePassed(t, rep)
			if rep.Server == nil || rep.Server.Injected == 0 || rep.Server.Ends["ResourceExhausted"] == 0 {
				t.Fatalf("report.json's server section does not count the injections: %+v", rep.Server)
			}
			if rep.Faults[0].Ends["status:ResourceExhausted"] == 0 {
				t.Errorf("the abort's fault window counted no aborts: %+v", rep.Faults[0])
			}
			var pow, sqrt = rep.Groups[0], rep.Groups[1]
			if pow.Ends["status:ResourceExhausted"] == 0 {
				t.Errorf("pow's streams did not end with the status: %v", pow.Ends)
			}
			if !tc.stall && sqrt.Latency.P99MS < 40 {
				t.Errorf("sqrt's p99 latency %.1fms under a 50ms stream_delay", sqrt.Latency.P99MS)
			}
			if cancelled != nil && cancelled.Load() == 0 {
				t.Error("no handler of the server saw its client cancel: the aborts did not cancel the upstream calls")
			}
			if !strings.HasPrefix(rep.Target, "passthrough:///127.0.0.1:") && !strings.HasPrefix(rep.Target, "command: ") {
				t.Errorf("report target %q", rep.Target)
			}
		})
	}
}
