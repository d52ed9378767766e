// Package address is the address target kind: a gRPC server already
// running at a host:port (loopback unless the run allows a remote one),
// reached through a tcp or toxiproxy link in front of it. streambench owns
// none of its process: it can take no server fault, every shard of a
// sharded run reaches the same one, and streambench watches its
// connections to tell when it died. It takes the stream faults through a
// proxy of streambench's (proxy.Host: the frame relay, or the gRPC proxy
// for the kinds that need it), started in front of it only for a run that
// has them, and not over TLS (target.tls): the proxy would need the
// server's own certificate and key to present to the clients.
package address

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/proxy"
	"github.com/streambench/streambench/harness/target"
)

// Kind is the address target kind.
var Kind = target.Kind{
	Name: "address",
	Doc:  "a server already running at a loopback host:port (target.address), with tls or insecure",
	New: func(s target.Spec) (target.Target, error) {
		a := &addr{addr: s.Scenario.Target.Address, override: s.Override, pprof: s.Scenario.Target.Pprof}
		if s.Scenario.Target.TLS != nil {
			return a, nil
		}
		return &proxied{addr: a}, nil
	},
}

// proxied is an address target dialled without TLS: it hosts the stream
// faults through a proxy in front of the server.
type proxied struct {
	*addr
	proxy.Host
}

var _ fault.StreamProxy = (*proxied)(nil)

// Start puts the link in front of the address, or in front of the proxy
// when the run has stream faults.
func (p *proxied) Start(_ context.Context, env target.Env) (target.Reach, error) {
	return p.Front(env, p.addr.addr)
}

// Stop stops the proxy, if one runs; the server is not streambench's.
func (p *proxied) Stop(grace time.Duration) error {
	p.Host.Stop(grace)
	return nil
}

// addr is an address target of one run.
type addr struct {
	addr, override, pprof string
}

var (
	_ target.Prober  = (*addr)(nil)
	_ target.Gauged  = (*addr)(nil)
	_ target.Watched = (*addr)(nil)
	_ target.Shared  = (*addr)(nil)
	_ target.TLSHost = (*addr)(nil)
)

func (a *addr) Label() string { return target.Label("address", a.addr+a.override) }
func (a *addr) Name() string  { return "target " + a.addr }

// Start puts the link in front of the address.
func (a *addr) Start(_ context.Context, env target.Env) (target.Reach, error) {
	return env.Front(a.addr)
}

// Stop: the server is not streambench's to stop.
func (a *addr) Stop(time.Duration) error { return nil }

func (a *addr) Describe() target.Description {
	return target.Description{Target: "passthrough:///" + a.addr}
}

// Probes: the server's channelz, when this is the shard that judges it.
func (a *addr) Probes(dial []grpc.DialOption, shard0 bool) []leak.Probe {
	if !shard0 {
		return nil
	}
	return []leak.Probe{leak.ChannelzProbe{Target: a.addr, DialOptions: dial}}
}

// Gauges: a Go server's goroutines over pprof when target.pprof is given.
func (a *addr) Gauges(shard0 bool) ([]leak.Gauge, []target.Unavailable) {
	no := []target.Unavailable{{Source: "process", Why: "an address target's process is not streambench's to read (a command target's is)"}}
	g, why := target.Pprof(a.pprof, shard0)
	if why != "" {
		no = append(no, target.Unavailable{Source: "pprof", Why: why})
	}
	return g, no
}

// Restarts: streambench never restarts it.
func (a *addr) Restarts() int { return 0 }

func (a *addr) WatchAddr() string { return a.addr }
func (a *addr) SharedBy() string  { return a.addr }

// TLSHost is the address's host.
func (a *addr) TLSHost() string {
	h, _, err := net.SplitHostPort(a.addr)
	if err != nil {
		return ""
	}
	return h
}
