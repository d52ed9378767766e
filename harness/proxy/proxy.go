// Package proxy is a gRPC-aware proxy that forwards every call to one
// upstream server without decoding it: a grpc.UnknownServiceHandler whose
// codec moves each message as the raw bytes it crossed the wire as. It
// forwards the client's metadata (less the hop headers), the messages both
// ways, the upstream's response header, trailer and status, and
// cancellation both ways. Interceptors given to it run on every proxied
// stream, so streambench's stream faults act on a target that is not its
// own server (an address or a command target) exactly as on the builtin
// one: an abort ends the client's stream with the status and cancels the
// upstream call, so the server sees a real client cancel. Host runs it
// only for a stream kind that needs a handler; the others run through the
// frame relay (package relay), which costs less.
//
// Flow control holds end to end: each direction of a stream is one loop
// that receives one message from one side and only then sends it to the
// other, whose Send blocks under gRPC flow control. Nothing is buffered
// beyond one message per direction (plus the HTTP/2 windows of the two
// connections), and a client that reads slowly stays a slow reader to the
// server behind the proxy.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// Config is what a proxy forwards to and how.
type Config struct {
	// Upstream is the host:port of the server every call is forwarded to.
	Upstream string
	// Dial are the options the proxy dials Upstream with: the run's
	// transport credentials and authority. Without credentials it dials
	// insecure.
	Dial []grpc.DialOption
	// Listener is where the proxy serves; nil: a new listener on
	// 127.0.0.1:0. The proxy closes it at Stop.
	Listener net.Listener
	// Interceptors run on every proxied stream, first to last (the stream
	// faults' fault.Streams.Interceptor). The stream they see carries
	// frames: they count messages both ways without decoding them.
	Interceptors []grpc.StreamServerInterceptor
}

// Proxy is a running proxy. Its methods are safe for concurrent use.
//
// Each client connection gets an upstream connection of its own, opened
// with it and closed with it: the server sees as many connections as it
// would without the proxy, each ending when its client's does (a client
// severed by a network fault, the clients closed at the end of a run), and
// its per-connection limits and keepalives apply per client connection.
type Proxy struct {
	srv  *grpc.Server
	dial []grpc.DialOption
	up   string
	lis  net.Listener

	served   chan struct{} // closed when Serve returned
	forwards sync.WaitGroup

	mu    sync.Mutex
	conns map[*upstream]bool // open upstream connections

	stopOnce sync.Once
}

// upstream is one client connection's connection to the server.
type upstream struct {
	cc  *grpc.ClientConn
	err error // why there is none
}

type upstreamKey struct{}

// bidi describes every proxied call to gRPC: the proxy cannot tell a
// unary call from a stream without the service's descriptor, and needs
// none, since a unary call is a stream of one message each way.
var bidi = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// Start serves on the config's listener; each client connection's
// upstream connection is dialled at its first call.
func Start(cfg Config) (*Proxy, error) {
	if cfg.Upstream == "" {
		return nil, errors.New("proxy: no upstream address")
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// The proxy must not replay a call (its client may retry; the
		// proxy retrying as well would double it) nor hold a retry
		// buffer of sent messages.
		grpc.WithDisableRetry(),
		// The endpoints' own limits apply, not the proxy's.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	}
	lis := cfg.Listener
	if lis == nil {
		var err error
		if lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("proxy: listen: %w", err)
		}
	}
	p := &Proxy{dial: append(opts, cfg.Dial...), up: cfg.Upstream, lis: lis,
		served: make(chan struct{}), conns: map[*upstream]bool{}}
	p.srv = grpc.NewServer(
		grpc.UnknownServiceHandler(p.handle),
		grpc.ForceServerCodecV2(codec{}),
		grpc.ChainStreamInterceptor(cfg.Interceptors...),
		grpc.StatsHandler(connTracker{p}),
		// Keepalive pings are per hop: the clients' end here, and the
		// proxy must not refuse a rate the target might accept (gRPC's
		// default policy sends GOAWAY too_many_pings to a client pinging
		// more often than every 5 minutes).
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Nanosecond, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(math.MaxInt32),
		grpc.MaxSendMsgSize(math.MaxInt32),
		// Stop waits for the handlers, so no forward starts after it.
		grpc.WaitForHandlers(true),
		// Handlers run on reused goroutines, whose stacks have grown
		// already, instead of a new goroutine per call (the pool is
		// not a bound: a call finding every worker busy gets its own).
		grpc.NumStreamWorkers(uint32(4*runtime.GOMAXPROCS(0))),
	)
	go func() {
		defer close(p.served)
		_ = p.srv.Serve(lis) // returns when Stop closes the listener
	}()
	return p, nil
}

// connTracker opens a client connection's upstream connection when the
// client connects and closes it when the client's connection ends.
type connTracker struct{ p *Proxy }

func (t connTracker) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	u := &upstream{}
	u.cc, u.err = grpc.NewClient("passthrough:///"+t.p.up, t.p.dial...)
	if u.err != nil {
		u.err = fmt.Errorf("proxy: dial %s: %w", t.p.up, u.err)
	} else {
		t.p.mu.Lock()
		t.p.conns[u] = true
		t.p.mu.Unlock()
	}
	return context.WithValue(ctx, upstreamKey{}, u)
}

func (t connTracker) HandleConn(ctx context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnEnd); !ok {
		return
	}
	if u, ok := ctx.Value(upstreamKey{}).(*upstream); ok {
		t.p.closeUpstream(u)
	}
}

func (connTracker) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (connTracker) HandleRPC(context.Context, stats.RPCStats)                       {}

// closeUpstream closes u's connection, once.
func (p *Proxy) closeUpstream(u *upstream) {
	p.mu.Lock()
	open := p.conns[u]
	delete(p.conns, u)
	p.mu.Unlock()
	if open {
		_ = u.cc.Close()
	}
}

// Addr is the host:port the proxy serves at.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Stop stops the proxy: it lets calls in flight end by themselves for up
// to grace, then cancels them (their clients see Unavailable, the upstream
// a cancel), closes the upstream connection and waits for every goroutine
// it started. Idempotent.
func (p *Proxy) Stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.srv.GracefulStop()
		}()
		t := time.NewTimer(grace)
		select {
		case <-done:
		case <-t.C:
			p.srv.Stop()
			<-done
		}
		t.Stop()
		<-p.served
		p.forwards.Wait()
		p.mu.Lock()
		left := make([]*upstream, 0, len(p.conns))
		for u := range p.conns {
			left = append(left, u)
		}
		p.mu.Unlock()
		for _, u := range left {
			p.closeUpstream(u)
		}
	})
}

// errUpstreamEnded says the client-to-server loop stopped because the
// upstream call ended; its status is the server-to-client loop's to tell.
var errUpstreamEnded = errors.New("upstream call ended")

// handle forwards one call. Its own goroutine is the server-to-client
// direction (the only one writing to the client's stream: header,
// messages, trailer and status); one more goroutine forwards the
// client's messages upstream. Returning cancels the upstream call.
func (p *Proxy) handle(_ any, ss grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Error(codes.Internal, "proxy: the stream names no method")
	}
	u, ok := ss.Context().Value(upstreamKey{}).(*upstream)
	if !ok {
		return status.Error(codes.Internal, "proxy: the stream's connection has no upstream")
	}
	if u.err != nil {
		return status.Error(codes.Unavailable, u.err.Error())
	}
	in, _ := metadata.FromIncomingContext(ss.Context())
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(ss.Context(), forwarded(in)))
	defer cancel()
	opts := []grpc.CallOption{grpc.ForceCodecV2(codec{})}
	if sub := contentSubtype(in); sub != "" {
		opts = append(opts, grpc.CallContentSubtype(sub))
	}
	cs, err := u.cc.NewStream(ctx, bidi, method, opts...)
	if err != nil {
		return err
	}
	up := make(chan error, 1)
	p.forwards.Add(1)
	go func() {
		defer p.forwards.Done()
		err := clientToServer(ss, cs)
		up <- err
		if err != nil && err != errUpstreamEnded {
			cancel() // the client's side failed: so does the upstream call
		}
	}()
	// A client-side failure (a fault's abort while receiving, the client
	// gone) is the call's end, whatever the upstream then says.
	clientFailed := func() error {
		select {
		case err := <-up:
			if err != nil && err != errUpstreamEnded {
				return err
			}
			up <- err // keep it for a later look
		default:
		}
		return nil
	}
	// The upstream's response header goes out as soon as it arrives
	// (a server may send it long before its first message).
	if md, err := cs.Header(); err == nil && len(md) > 0 {
		if err := ss.SendHeader(md); err != nil {
			return err
		}
	}
	for {
		f := &frame{}
		if err := cs.RecvMsg(f); err != nil {
			ss.SetTrailer(cs.Trailer())
			if cerr := clientFailed(); cerr != nil {
				return cerr
			}
			if err == io.EOF {
				return nil
			}
			return err // the upstream's status, as it sent it
		}
		if err := ss.SendMsg(f); err != nil {
			f.free()
			return err
		}
	}
}

// clientToServer forwards the client's messages upstream until the client
// half-closes (nil), the client's side fails (its error), or the upstream
// call ends (errUpstreamEnded).
func clientToServer(ss grpc.ServerStream, cs grpc.ClientStream) error {
	for {
		f := &frame{}
		if err := ss.RecvMsg(f); err != nil {
			f.free() // a fault may refuse a message it received
			if err == io.EOF {
				return cs.CloseSend()
			}
			return err
		}
		if err := cs.SendMsg(f); err != nil {
			f.free()
			return errUpstreamEnded
		}
	}
}

// hop are the headers of the client's call that are not the call's
// metadata but its transport's (gRPC sets its own upstream).
var hop = map[string]bool{
	"content-type":      true,
	"user-agent":        true,
	"te":                true,
	"grpc-timeout":      true, // the deadline travels in the context
	"grpc-encoding":     true,
	"connection":        true,
	"keep-alive":        true,
	"proxy-connection":  true,
	"transfer-encoding": true,
	"upgrade":           true,
}

// forwarded is the client's metadata without pseudo and hop headers.
func forwarded(in metadata.MD) metadata.MD {
	out := make(metadata.MD, len(in))
	for k, v := range in {
		if strings.HasPrefix(k, ":") || hop[k] {
			continue
		}
		out[k] = v
	}
	return out
}

// contentSubtype is the client's content-subtype ("proto" of
// application/grpc+proto; "" for plain application/grpc).
func contentSubtype(in metadata.MD) string {
	v := in.Get("content-type")
	if len(v) == 0 {
		return ""
	}
	ct := strings.ToLower(v[0])
	if !strings.HasPrefix(ct, "application/grpc") {
		return ""
	}
	rest := ct[len("application/grpc"):]
	if len(rest) > 1 && (rest[0] == '+' || rest[0] == ';') {
		return rest[1:]
	}
	return ""
}
