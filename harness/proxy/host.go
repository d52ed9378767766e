package proxy

import (
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/reports"
)

// Host is what a target kind whose server is not streambench's own (an
// address, a command) embeds to host the stream faults: it implements
// fault.StreamProxy, and when the engine hands it the run's Streams (only
// for a plan with stream faults), Front starts a proxy in front of the
// target's server, running the faults' interceptor, with the run's link in
// front of the proxy. Without Streams, Front is the plain link in front of
// the server and the run has no extra hop.
type Host struct {
	interceptor grpc.StreamServerInterceptor
	p           *Proxy
}

var _ fault.StreamProxy = (*Host)(nil)

// HostStreams has Front start the proxy, running s's interceptor.
func (h *Host) HostStreams(s *fault.Streams) { h.interceptor = s.Interceptor() }

// ProxiesStreams: the stream faults cost a proxy in front of the target.
func (h *Host) ProxiesStreams() {}

// upstreamBackoff redials a target that went away (a command target's
// restart) as fast as streambench's own clients do, so the proxy adds no
// outage of its own (grpc-go's default would wait 1 s and more).
var upstreamBackoff = grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.5, Jitter: 0.2, MaxDelay: 250 * time.Millisecond},
	MinConnectTimeout: time.Second,
})

// Front is how clients reach the server at addr: the env's link in front
// of it, or, when the run hosts stream faults, the link in front of a
// proxy on 127.0.0.1:0 that forwards to addr with the run's transport
// credentials. The Reach still names addr: its authority is the target's
// own, and the engine's dial past the link goes to the server itself.
func (h *Host) Front(env target.Env, addr string) (target.Reach, error) {
	if h.interceptor == nil {
		return env.Front(addr)
	}
	dial := []grpc.DialOption{upstreamBackoff}
	if env.Creds != nil {
		dial = append(dial, grpc.WithTransportCredentials(env.Creds))
	}
	p, err := Start(Config{Upstream: addr, Dial: dial, Interceptors: []grpc.StreamServerInterceptor{h.interceptor}})
	if err != nil {
		return target.Reach{}, fmt.Errorf("stream faults: %w", err)
	}
	reach, err := env.Front(p.Addr())
	if err != nil {
		p.Stop(0)
		return target.Reach{}, err
	}
	h.p = p
	reach.Authority, reach.Addr = addr, addr
	return reach, nil
}

// Stop stops the proxy, if one runs, giving calls in flight up to grace.
// Idempotent.
func (h *Host) Stop(grace time.Duration) {
	if h.p != nil {
		h.p.Stop(grace)
	}
}

// Stats: hosting stream faults, the report's server section carries the
// stream interceptor's counts (handler ends, injected faults), which the
// engine adds to this empty record; otherwise there is nothing to report
// (nil), and the report has no server section.
func (h *Host) Stats() (*reports.ServerStats, error) {
	if h.interceptor == nil {
		return nil, nil
	}
	return &reports.ServerStats{}, nil
}
