// Package link says how clients reach a builtin target: over an in-memory
// bufconn pipe or over TCP on loopback. A Link hands the server a listener
// and the clients a dial target, and survives server restarts: Listen may be
// called again after the previous listener closed and the clients' dialer
// follows the new one.
package link

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/streambench/streambench/harness/scenario"
)

// Link connects clients to a server.
type Link interface {
	// Name is the link kind ("bufconn", "tcp").
	Name() string
	// Listen returns a listener for the server. Called again (after a server
	// restart), it listens at the same place.
	Listen() (net.Listener, error)
	// Target is the dial target for grpc.NewClient.
	Target() string
	// DialOptions are the options clients need to reach the listener.
	DialOptions() []grpc.DialOption
}

// New returns the link of the given kind (one of scenario.LinkKinds; ""
// means bufconn).
func New(kind string) (Link, error) {
	switch kind {
	case "", scenario.LinkBufconn:
		return &Bufconn{size: 1 << 20}, nil
	case scenario.LinkTCP:
		return &TCP{}, nil
	}
	return nil, fmt.Errorf("link %q: not one of %v", kind, scenario.LinkKinds)
}

// Bufconn is an in-memory link (google.golang.org/grpc/test/bufconn).
type Bufconn struct {
	size int
	mu   sync.Mutex
	lis  *bufconn.Listener
}

// Name implements Link.
func (b *Bufconn) Name() string { return scenario.LinkBufconn }

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

// DialOptions implements Link.
func (b *Bufconn) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(b.dial),
	}
}

func (b *Bufconn) dial(ctx context.Context, _ string) (net.Conn, error) {
	b.mu.Lock()
	lis := b.lis
	b.mu.Unlock()
	if lis == nil {
		return nil, fmt.Errorf("bufconn: no server listening")
	}
	return lis.DialContext(ctx)
}

// TCP is a loopback TCP link. The first Listen picks a free port on
// 127.0.0.1; later calls listen on the same port.
type TCP struct {
	mu   sync.Mutex
	addr string
}

// Name implements Link.
func (t *TCP) Name() string { return scenario.LinkTCP }

// Listen implements Link.
func (t *TCP) Listen() (net.Listener, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
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

// Target implements Link.
func (t *TCP) Target() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return "passthrough:///" + t.addr
}

// DialOptions implements Link.
func (t *TCP) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
}
