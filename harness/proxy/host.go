package proxy

import (
	"fmt"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/relay"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/reports"
)

// The proxies a Host runs, as the report names them (report.json's
// `proxy`).
const (
	// FrameRelay is package relay: HTTP/2 frames relayed one for one,
	// the stream faults acted out on them.
	FrameRelay = "frame relay"
	// GRPCProxy is this package's Proxy: each call terminated and
	// forwarded, the stream faults' interceptor on its handler.
	GRPCProxy = "grpc proxy"
)

// Host is what a target kind whose server is not streambench's own (an
// address, a command) embeds to host the stream faults: it implements
// fault.StreamProxy, and when the engine hands it the run's Streams (only
// for a plan with stream faults), Front starts a proxy in front of the
// target's server, with the run's link in front of the proxy. Without
// Streams, Front is the plain link in front of the server and the run has
// no extra hop.
//
// The proxy is chosen by what the plan's stream kinds need
// (fault.Streams.Relayable): the frame relay (package relay) when it can
// act every one of them out (every stream kind today), this package's
// gRPC proxy, running the faults' interceptor, when one needs a handler.
type Host struct {
	streams *fault.Streams
	via     string
	p       *Proxy
	r       *relay.Relay
}

var _ fault.StreamProxy = (*Host)(nil)

// HostStreams has Front start a proxy for s's faults.
func (h *Host) HostStreams(s *fault.Streams) { h.streams = s }

// ProxiesStreams names the proxy Front started (FrameRelay or GRPCProxy),
// "" when none.
func (h *Host) ProxiesStreams() string { return h.via }

// upstreamBackoff redials a target that went away (a command target's
// restart) as fast as streambench's own clients do, so the proxy adds no
// outage of its own (grpc-go's default would wait 1 s and more).
var upstreamBackoff = grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.5, Jitter: 0.2, MaxDelay: 250 * time.Millisecond},
	MinConnectTimeout: time.Second,
})

// Front is how clients reach the server at addr: the env's link in front
// of it, or, when the run hosts stream faults, the link in front of a
// proxy on 127.0.0.1:0 that forwards to addr (the gRPC proxy with the
// run's transport credentials; the frame relay in plaintext, as the
// targets that host stream faults are dialled). The Reach still names
// addr: its authority is the target's own, and the engine's dial past the
// link goes to the server itself.
func (h *Host) Front(env target.Env, addr string) (target.Reach, error) {
	if h.streams == nil {
		return env.Front(addr)
	}
	var (
		front, via string
		stop       func()
	)
	if ok, _ := h.streams.Relayable(); ok {
		r, err := relay.Start(h.relayConfig(addr))
		if err != nil {
			return target.Reach{}, fmt.Errorf("stream faults: %w", err)
		}
		h.r, front, via, stop = r, r.Addr(), FrameRelay, func() { _ = r.Close() }
	} else {
		dial := []grpc.DialOption{upstreamBackoff}
		if env.Creds != nil {
			dial = append(dial, grpc.WithTransportCredentials(env.Creds))
		}
		p, err := Start(Config{Upstream: addr, Dial: dial, Interceptors: []grpc.StreamServerInterceptor{h.streams.Interceptor()}})
		if err != nil {
			return target.Reach{}, fmt.Errorf("stream faults: %w", err)
		}
		h.p, front, via, stop = p, p.Addr(), GRPCProxy, func() { p.Stop(0) }
	}
	reach, err := env.Front(front)
	if err != nil {
		stop()
		h.p, h.r = nil, nil
		return target.Reach{}, err
	}
	h.via = via
	reach.Authority, reach.Addr = addr, addr
	return reach, nil
}

// relayConfig is the frame relay to addr acting out the run's stream
// faults: each stream opens its RelayStream from the metadata naming its
// client, each message is judged by it, each end is counted.
func (h *Host) relayConfig(addr string) relay.Config {
	s := h.streams
	return relay.Config{
		Upstream:    addr,
		KeepHeaders: []string{fault.MDGroup, fault.MDClient},
		Opened: func(si relay.StreamInfo) any {
			return s.OpenRelayStream(si.Headers[fault.MDGroup], si.Headers[fault.MDClient])
		},
		Faults: relay.FaultsFunc(func(si relay.StreamInfo, m relay.MessageInfo) relay.Action {
			rs, ok := si.State.(*fault.RelayStream)
			if !ok {
				return relay.Action{}
			}
			hold := rs.Message(m.Index, m.Dir == relay.ServerToClient)
			if hold.Abort != nil {
				return relay.Action{Abort: &relay.Abort{Code: hold.Abort.Code(), Message: hold.Abort.Message()}}
			}
			return relay.Action{Delay: hold.Delay, Stall: hold.Stall}
		}),
		Ended: func(rec relay.StreamRecord) { s.End(endCode(rec)) },
	}
}

// endCode is how a relayed stream ended, as a status code: for a stream a
// side reset, the code gRPC maps the reset to (Canceled for CANCEL);
// otherwise the status the client got (the server's trailers, or a
// fault's abort), or Canceled for a stream whose connection closed under
// it (its server's handler sees its context cancelled).
func endCode(rec relay.StreamRecord) codes.Code {
	switch {
	case rec.EndedBy == relay.EndedByClientReset || rec.EndedBy == relay.EndedByServerReset:
		switch rec.ResetCode {
		case http2.ErrCodeNo, http2.ErrCodeCancel:
			return codes.Canceled
		case http2.ErrCodeRefusedStream:
			return codes.Unavailable
		case http2.ErrCodeEnhanceYourCalm:
			return codes.ResourceExhausted
		case http2.ErrCodeInadequateSecurity:
			return codes.PermissionDenied
		}
		return codes.Internal
	case rec.HasStatus:
		return rec.Code
	}
	return codes.Canceled
}

// drainPoll is how often Stop looks whether the relay's connections have
// closed by themselves.
const drainPoll = 10 * time.Millisecond

// Stop stops the proxy, if one runs, giving calls in flight up to grace
// (the relay: its connections up to grace to close by themselves).
// Idempotent.
func (h *Host) Stop(grace time.Duration) {
	if h.p != nil {
		h.p.Stop(grace)
	}
	if h.r != nil {
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) && h.r.Open() > 0 {
			time.Sleep(drainPoll)
		}
		_ = h.r.Close()
	}
}

// Stats: hosting stream faults, the report's server section carries their
// counts (stream ends, injected faults), which the engine adds to this
// empty record; otherwise there is nothing to report (nil), and the report
// has no server section.
func (h *Host) Stats() (*reports.ServerStats, error) {
	if h.streams == nil {
		return nil, nil
	}
	return &reports.ServerStats{}, nil
}
