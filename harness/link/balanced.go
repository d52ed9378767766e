package link

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"

	"github.com/streambench/streambench/harness/scenario"
)

// Balancer is a link in front of several backends: it knows them by name
// and says which are in service. The engine asks a link for it to measure
// per backend; which backend a connection reached it reads from the
// connection's remote address (a BackendAddr).
type Balancer interface {
	Link
	// Balancing says how connections spread ("l4 round robin",
	// "client round_robin").
	Balancing() string
	// Backends lists every backend that was ever in service, in the order
	// they joined, with whether it is in service now.
	Backends() []BackendState
}

// BackendState is one backend of a Balancer.
type BackendState struct {
	Name string
	Up   bool
}

// BackendAddr is the remote address of a connection a Balanced link
// dialled: the backend's name and its host:port. gRPC's transport reports
// it as the stream's peer (peer.FromContext), which is how a stream is
// attributed to its backend without asking the server.
type BackendAddr struct {
	Backend string
	Addr    string
}

// Network implements net.Addr.
func (a BackendAddr) Network() string { return "tcp" }

// String implements net.Addr: the host:port.
func (a BackendAddr) String() string { return a.Addr }

// backendConn is a connection to a backend, naming it as its remote
// address.
type backendConn struct {
	net.Conn
	addr BackendAddr
}

func (c *backendConn) RemoteAddr() net.Addr { return c.addr }

// Balanced is a loopback TCP link in front of several backends. With the
// l4 balancer clients dial one target and the link sends each new
// connection to the next backend in service, round robin (a Kubernetes
// Service or a cloud TCP balancer: it balances connections, never the
// streams inside one). With the client balancer a gRPC resolver lists every
// backend in service to each ClientConn and the policy (round_robin,
// pick_first) given through service config picks; the link dials the
// address gRPC chose. Network faults wrap every connection either way.
type Balanced struct {
	mode, policy string
	reg          *registry

	mu       sync.Mutex
	backends []*upstream
	next     int // l4: the next pick
	conns    map[*resolverConn]struct{}
}

type upstream struct {
	name, addr string
	up         bool
}

// NewBalanced returns a link in front of no backend yet (Add them) that
// balances as mode says (scenario.BalancerL4, scenario.BalancerClient;
// policy is the client balancer's gRPC policy).
func NewBalanced(mode, policy string) (*Balanced, error) {
	switch mode {
	case scenario.BalancerL4:
		policy = ""
	case scenario.BalancerClient:
		if !slices.Contains(scenario.Policies, policy) {
			return nil, fmt.Errorf("balanced link: %s", scenario.UnknownChoice("policy", policy, scenario.Policies))
		}
	default:
		return nil, fmt.Errorf("balanced link: %s", scenario.UnknownChoice("balancer", mode, scenario.Balancers))
	}
	return &Balanced{mode: mode, policy: policy, reg: newRegistry(), conns: map[*resolverConn]struct{}{}}, nil
}

// Name implements Link: the connections are loopback TCP.
func (b *Balanced) Name() string { return KindTCP }

// Balancing implements Balancer.
func (b *Balanced) Balancing() string {
	if b.mode == scenario.BalancerL4 {
		return "l4 round robin"
	}
	return "client " + b.policy
}

// Listen implements Link: the backends listen themselves.
func (b *Balanced) Listen() (net.Listener, error) {
	return nil, fmt.Errorf("balanced link: in front of backends that listen themselves")
}

// resolverScheme is the scheme of the client balancer's resolver; each
// ClientConn gets its own builder (grpc.WithResolvers), so nothing is
// registered globally.
const resolverScheme = "streambench-backends"

// Target implements Link.
func (b *Balanced) Target() string {
	if b.mode == scenario.BalancerClient {
		return resolverScheme + ":///backends"
	}
	return "passthrough:///l4-balancer"
}

// DialOptionsFor implements Link.
func (b *Balanced) DialOptionsFor(l Label) []grpc.DialOption {
	dial := grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return b.dial(ctx, l, addr)
	})
	if b.mode == scenario.BalancerL4 {
		return []grpc.DialOption{dial}
	}
	return []grpc.DialOption{dial,
		grpc.WithResolvers(builder{b}),
		grpc.WithDefaultServiceConfig(fmt.Sprintf(`{"loadBalancingConfig":[{%q:{}}]}`, b.policy)),
	}
}

// pick chooses the backend a new connection goes to: l4, the next one in
// service; client, the one at addr (which the resolver listed).
func (b *Balanced) pick(addr string) (*upstream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mode == scenario.BalancerClient {
		for _, be := range b.backends {
			if be.addr == addr {
				return be, nil
			}
		}
		return nil, fmt.Errorf("balanced link: no backend at %s", addr)
	}
	n := len(b.backends)
	for i := range n {
		be := b.backends[(b.next+i)%n]
		if be.up {
			b.next = (b.next + i + 1) % n
			return be, nil
		}
	}
	return nil, fmt.Errorf("balanced link: no backend in service")
}

func (b *Balanced) dial(ctx context.Context, l Label, addr string) (net.Conn, error) {
	if b.reg.closed() {
		return nil, fmt.Errorf("balanced link: dial %s: %w", l, ErrClosed)
	}
	be, err := b.pick(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", be.addr)
	if err != nil {
		return nil, fmt.Errorf("balanced link: dial %s to %s (%s): %w", l, be.name, be.addr, err)
	}
	return b.reg.wrap(&backendConn{Conn: c, addr: BackendAddr{Backend: be.name, Addr: be.addr}}, l)
}

// Add puts a backend in service (again, if it was before): l4 sends it new
// connections from now on; the client balancer's resolvers list it.
func (b *Balanced) Add(name, addr string) {
	b.mu.Lock()
	i := slices.IndexFunc(b.backends, func(x *upstream) bool { return x.name == name })
	if i < 0 {
		b.backends = append(b.backends, &upstream{name: name, addr: addr, up: true})
	} else {
		b.backends[i].addr, b.backends[i].up = addr, true
	}
	b.mu.Unlock()
	b.publish()
}

// Remove takes a backend out of service: no new connection goes to it
// and the resolvers stop listing it. Its live connections stay until its
// server ends them.
func (b *Balanced) Remove(name string) {
	b.mu.Lock()
	for _, be := range b.backends {
		if be.name == name {
			be.up = false
		}
	}
	b.mu.Unlock()
	b.publish()
}

// Backends implements Balancer.
func (b *Balanced) Backends() []BackendState {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BackendState, len(b.backends))
	for i, be := range b.backends {
		out[i] = BackendState{Name: be.name, Up: be.up}
	}
	return out
}

// state is what the resolvers list: every backend in service.
func (b *Balanced) stateLocked() resolver.State {
	var st resolver.State
	for _, be := range b.backends {
		if be.up {
			st.Addresses = append(st.Addresses, resolver.Address{Addr: be.addr})
		}
	}
	return st
}

// publish tells every live resolver the backends in service.
func (b *Balanced) publish() {
	b.mu.Lock()
	st := b.stateLocked()
	conns := make([]*resolverConn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		_ = c.cc.UpdateState(st) // an error is the balancer's to retry on
	}
}

// Kinds implements Link.
func (b *Balanced) Kinds() []string { return KindsOf(KindTCP) }

// Supports implements Link.
func (b *Balanced) Supports(kind string) bool { return supportsName(KindTCP, kind) }

// Apply implements Link.
func (b *Balanced) Apply(f Fault, match func(Label) bool) (func() error, error) {
	if err := CheckFor(KindTCP, f); err != nil {
		return nil, err
	}
	return b.reg.apply(f, match)
}

// Quiesce implements Link.
func (b *Balanced) Quiesce() error { b.reg.revertAll(); return nil }

// Close implements Link.
func (b *Balanced) Close() error { b.reg.close(); return nil }

// builder builds the client balancer's resolver for one ClientConn.
type builder struct{ b *Balanced }

func (bu builder) Scheme() string { return resolverScheme }

func (bu builder) Build(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	rc := &resolverConn{b: bu.b, cc: cc}
	bu.b.mu.Lock()
	bu.b.conns[rc] = struct{}{}
	st := bu.b.stateLocked()
	bu.b.mu.Unlock()
	if err := cc.UpdateState(st); err != nil && len(st.Addresses) > 0 {
		cc.ReportError(err)
	}
	return rc, nil
}

// resolverConn is one ClientConn's resolver: it lists what the link
// publishes.
type resolverConn struct {
	b  *Balanced
	cc resolver.ClientConn
}

// ResolveNow implements resolver.Resolver: the list is pushed on change.
func (r *resolverConn) ResolveNow(resolver.ResolveNowOptions) {}

// Close implements resolver.Resolver.
func (r *resolverConn) Close() {
	r.b.mu.Lock()
	delete(r.b.conns, r)
	r.b.mu.Unlock()
}

var (
	_ Balancer          = (*Balanced)(nil)
	_ resolver.Builder  = builder{}
	_ resolver.Resolver = (*resolverConn)(nil)
)
