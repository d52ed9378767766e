package harness

import (
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/builtin"
	"github.com/streambench/streambench/targets/generic"
	"github.com/streambench/streambench/targets/longlived"
	mathsrv "github.com/streambench/streambench/targets/math"
)

// This file is the engine's one wiring of concrete targets: the catalog
// of the reference RPCs and the in-process builtin target. The rest of the
// engine asks the catalog and the server interface.

// RPCs returns the catalog of RPCs a group can drive. A new RPC is one
// entry next to its driver plus one line here.
func RPCs() *rpc.Catalog { return rpcsOnce() }

var rpcsOnce = sync.OnceValue(func() *rpc.Catalog {
	c, err := rpc.New(
		longlived.RPC,
		mathsrv.PowRPC,
		mathsrv.SumRPC,
		mathsrv.SqrtRPC,
		generic.RPC,
	)
	if err != nil {
		panic(err) // a programming error in the list above; a test covers it
	}
	return c
})

// server is what the engine needs of an in-process target.
type server interface {
	Serve(lis net.Listener) error
	Stop(grace time.Duration) bool
	Close(grace time.Duration) bool
	SetMaxConnectionAge(age, grace time.Duration)
	Subscribers() int
	Release()
	// Stats are the server's own measurements for the report.
	Stats() (*reports.ServerStats, error)
}

// Variant changes the builtin target and the clients for a run: the
// self-checks' planted bugs (package selfcheck) are variants. Name is shown
// in the report's target.
type Variant struct {
	// Name names the variant in the report ("planted bug: NAME").
	Name string
	// Server changes the reference servers' configuration before they
	// start (e.g. wraps a service).
	Server func(*builtin.Config)
	// Client, when set, is a stream interceptor on every ClientConn.
	Client grpc.StreamClientInterceptor
	// LeakConns leaves the ClientConns open at teardown (a client that
	// leaks them); they are closed after the leak check has looked.
	LeakConns bool
}

// WithVariant runs the builtin target and the clients as v changes them.
func WithVariant(v Variant) Option { return func(c *config) { c.variant = &v } }

// newBuiltin builds the reference servers for b, with the run's stream
// interceptor and variant.
func newBuiltin(b *scenario.Builtin, interceptor grpc.StreamServerInterceptor, v *Variant) server {
	cfg := builtin.ConfigOf(b)
	cfg.ServerOptions = append(cfg.ServerOptions, grpc.ChainStreamInterceptor(interceptor))
	if v != nil && v.Server != nil {
		v.Server(&cfg)
	}
	return builtin.New(cfg)
}
