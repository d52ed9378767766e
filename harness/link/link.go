// Package link says how clients reach a builtin target and how the network
// between them misbehaves.
//
// A Link hands the server a listener and the clients a dial target, and
// survives server restarts: Listen may be called again after the previous
// listener closed and the clients' dialer follows the new one. Three kinds
// exist:
//
//   - bufconn: an in-memory pipe (google.golang.org/grpc/test/bufconn);
//   - tcp: loopback TCP;
//   - toxiproxy: loopback TCP through Shopify's toxiproxy, embedded in
//     process or an already running server driven over its HTTP API.
//
// Every client connection is dialled under a Label (its group and the index
// of its ClientConn), so a network fault can be scoped to all connections,
// one group, or any subset of labels. Faults are plain values (Fault) that
// Apply starts on every live and future matching connection until the
// returned revert is called. bufconn and tcp implement faults by wrapping
// each client net.Conn; toxiproxy implements them as toxics on one proxy per
// label.
//
// Teardown order the engine must follow: revert every fault (or call
// Quiesce), then close the ClientConns, then stop the server, then Close the
// link. On toxiproxy that order avoids the (*LatencyToxic).Pipe goroutine
// leak that closing clients under a latency toxic produces.
package link

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"

	"github.com/streambench/streambench/harness/scenario"
)

// Link kind names. Bufconn and TCP are scenario.LinkBufconn and
// scenario.LinkTCP.
const (
	KindBufconn   = scenario.LinkBufconn
	KindTCP       = scenario.LinkTCP
	KindToxiproxy = scenario.LinkToxiproxy
)

// ErrClosed is returned by a Link used after Close.
var ErrClosed = errors.New("link closed")

// Label names one client connection slot: the ClientConn with index Conn of
// group Group. All streams of a ClientConn share its transport connection;
// a reconnect dials a new net.Conn under the same label.
type Label struct {
	Group string
	Conn  int
}

// String returns "group/conn".
func (l Label) String() string { return fmt.Sprintf("%s/%d", l.Group, l.Conn) }

// Link connects clients to a server and injects network faults between
// them. Its methods are safe for concurrent use.
type Link interface {
	// Name is the link kind (KindBufconn, KindTCP, KindToxiproxy).
	Name() string
	// Listen returns a listener for the server. Called again (after a server
	// restart), it listens at the same place.
	Listen() (net.Listener, error)
	// Target is the dial target for grpc.NewClient. It is the same for
	// every label: the label's dialer (DialOptionsFor) picks the route.
	Target() string
	// DialOptionsFor are the options a ClientConn labelled l needs to reach
	// the listener through the link: its route (a context dialer). A link
	// carries bytes only; the caller adds the transport credentials
	// (grpc.WithTransportCredentials: plaintext, or TLS to a target that
	// speaks it), which the link never decides.
	DialOptionsFor(l Label) []grpc.DialOption

	// Kinds lists the fault kinds this link can inject, sorted.
	Kinds() []string
	// Supports reports whether Apply accepts faults of this kind.
	Supports(kind string) bool
	// Apply starts f on every live and future connection whose label
	// matches (nil matches all) and that f.Toxicity selects, until revert is
	// called. Instant kinds (sever) act once on the live connections and
	// their revert does nothing. revert is idempotent. An invalid fault or a
	// kind the link cannot do is an error and nothing is applied.
	Apply(f Fault, match func(Label) bool) (revert func() error, err error)
	// Quiesce reverts every fault still active. Call it before closing the
	// clients (see the package doc).
	Quiesce() error
	// Close reverts every fault, ends whatever the link still runs
	// (connections it wrapped, proxies it created) and waits for its
	// goroutines. Call it after the clients and the server are closed.
	// Dialling after Close fails. Close is idempotent.
	Close() error
}

// New returns the link of the given kind for a server in this process:
// KindBufconn, KindTCP, KindToxiproxy (embedded; see NewToxiproxy for an
// external server), or "" for DefaultFor(true).
func New(kind string) (Link, error) {
	if kind == "" {
		kind = DefaultFor(true)
	}
	switch kind {
	case KindBufconn:
		return NewBufconn(), nil
	case KindTCP:
		return NewTCP(), nil
	case KindToxiproxy:
		return NewToxiproxy("")
	}
	return nil, fmt.Errorf("link %q: not one of %v", kind, LinkKinds)
}

// DefaultFor is the link kind clients reach a target over when the
// scenario names none: bufconn for a target in streambench's own process,
// tcp in front of one at an address. It is decided here, once.
func DefaultFor(inProcess bool) string {
	if inProcess {
		return KindBufconn
	}
	return KindTCP
}

// LinkKinds lists the link kinds New accepts, in documentation order.
var LinkKinds = scenario.LinkKinds

// KindsOf returns the fault kinds a link of the given kind supports (see
// CheckFor), sorted, or nil for an unknown link kind. It needs no live
// link, so a scenario validator can list the valid choices.
func KindsOf(linkKind string) []string {
	if !slices.Contains(LinkKinds, linkKind) {
		return nil
	}
	return kindNames(func(k NetKind) bool { return supports(linkKind, k) })
}

// Bufconn is an in-memory link (google.golang.org/grpc/test/bufconn) whose
// faults wrap each client net.Conn.
type Bufconn struct {
	size int
	mu   sync.Mutex
	lis  *bufconn.Listener
	reg  *registry
}

// NewBufconn returns an in-memory link (pipe buffers of bufconnSize).
func NewBufconn() *Bufconn { return &Bufconn{size: bufconnSize, reg: newRegistry()} }

// LateBytes is how much heap each connection over a link of this kind may
// still hold for a few seconds after it closed: for bufconn, its two pipe
// buffers (see bufconnSize); 0 for the others.
func LateBytes(kind string) uint64 {
	if kind == KindBufconn {
		return 2 * bufconnSize
	}
	return 0
}

// bufconnSize is each in-memory pipe's buffer. grpc-go keeps a closed
// connection's pipes reachable for seconds after Close (measured: half of
// them still held 6 s later), so a large buffer shows up in the leak
// check's heap figure; 256 KiB is four HTTP/2 default windows.
const bufconnSize = 256 << 10

// Name implements Link.
func (b *Bufconn) Name() string { return KindBufconn }

// Listen implements Link: each call makes a fresh in-memory listener that
// new client connections are routed to.
func (b *Bufconn) Listen() (net.Listener, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lis = bufconn.Listen(b.size)
	return b.lis, nil
}

// Target implements Link.
func (b *Bufconn) Target() string { return "passthrough:///bufnet" }

// DialOptionsFor implements Link.
func (b *Bufconn) DialOptionsFor(l Label) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return b.dial(ctx, l)
		}),
	}
}

func (b *Bufconn) dial(ctx context.Context, l Label) (net.Conn, error) {
	b.mu.Lock()
	lis := b.lis
	b.mu.Unlock()
	if lis == nil {
		return nil, fmt.Errorf("bufconn link: no server listening")
	}
	if b.reg.closed() {
		return nil, fmt.Errorf("bufconn link: dial %s: %w", l, ErrClosed)
	}
	c, err := lis.DialContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("bufconn link: dial %s: %w", l, err)
	}
	return b.reg.wrap(c, l)
}

// Kinds implements Link.
func (b *Bufconn) Kinds() []string { return KindsOf(KindBufconn) }

// Supports implements Link.
func (b *Bufconn) Supports(kind string) bool { return supportsName(KindBufconn, kind) }

// Apply implements Link.
func (b *Bufconn) Apply(f Fault, match func(Label) bool) (func() error, error) {
	if err := CheckFor(KindBufconn, f); err != nil {
		return nil, err
	}
	return b.reg.apply(f, match)
}

// Quiesce implements Link.
func (b *Bufconn) Quiesce() error { b.reg.revertAll(); return nil }

// Close implements Link.
func (b *Bufconn) Close() error { b.reg.close(); return nil }

// TCP is a loopback TCP link whose faults wrap each client net.Conn. The
// first Listen picks a free port on 127.0.0.1; later calls listen on the
// same port.
type TCP struct {
	mu   sync.Mutex
	addr string
	reg  *registry
	// upstream: addr is a server's own listener that the link sits in
	// front of (Front); Listen is then an error.
	upstream bool
}

// NewTCP returns a loopback TCP link.
func NewTCP() *TCP { return &TCP{reg: newRegistry()} }

// Name implements Link.
func (t *TCP) Name() string { return KindTCP }

// Listen implements Link.
func (t *TCP) Listen() (net.Listener, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.upstream {
		return nil, fmt.Errorf("tcp link: in front of %s, which listens itself", t.addr)
	}
	addr := t.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tcp link: %w", err)
	}
	t.addr = lis.Addr().String()
	return lis, nil
}

// Addr is the address Listen listens on ("" before the first Listen).
func (t *TCP) Addr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addr
}

// Target implements Link.
func (t *TCP) Target() string { return "passthrough:///" + t.Addr() }

// DialOptionsFor implements Link.
func (t *TCP) DialOptionsFor(l Label) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return t.dial(ctx, l)
		}),
	}
}

func (t *TCP) dial(ctx context.Context, l Label) (net.Conn, error) {
	addr := t.Addr()
	if addr == "" {
		return nil, fmt.Errorf("tcp link: no server listening")
	}
	if t.reg.closed() {
		return nil, fmt.Errorf("tcp link: dial %s: %w", l, ErrClosed)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tcp link: dial %s: %w", l, err)
	}
	return t.reg.wrap(c, l)
}

// Kinds implements Link.
func (t *TCP) Kinds() []string { return KindsOf(KindTCP) }

// Supports implements Link.
func (t *TCP) Supports(kind string) bool { return supportsName(KindTCP, kind) }

// Apply implements Link.
func (t *TCP) Apply(f Fault, match func(Label) bool) (func() error, error) {
	if err := CheckFor(KindTCP, f); err != nil {
		return nil, err
	}
	return t.reg.apply(f, match)
}

// Quiesce implements Link.
func (t *TCP) Quiesce() error { t.reg.revertAll(); return nil }

// Close implements Link.
func (t *TCP) Close() error { t.reg.close(); return nil }
