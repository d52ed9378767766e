package harness

import "google.golang.org/grpc"

// Variant changes the clients of a run and names the change in the
// report: the client side of the self-checks' planted bugs (package
// selfcheck; their server side is a target kind of its own, given with
// WithTargetKind).
type Variant struct {
	// Name names the variant in the report ("planted bug: NAME").
	Name string
	// Client, when set, is a stream interceptor on every ClientConn.
	Client grpc.StreamClientInterceptor
	// LeakConns leaves the ClientConns open at teardown (a client that
	// leaks them); they are closed after the leak check has looked.
	LeakConns bool
}

// WithVariant runs the clients as v changes them.
func WithVariant(v Variant) RunOption { return func(c *runConfig) { c.variant = &v } }
