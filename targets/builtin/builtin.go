// Package builtin assembles the reference servers — the Longlived feed and
// Math — on one gRPC server, with the settings a scenario or `streambench
// serve` gives. The feed outlives the gRPC server, so a server restart keeps
// the seq numbering and the replay ring: resubscribers resume where they were.
package builtin

import (
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	channelzsvc "google.golang.org/grpc/channelz/service"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/longlived"
	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

// Config are the reference servers' settings.
type Config struct {
	// Feed configures the Longlived feed.
	Feed longlived.Config
	// MaxConcurrentStreams caps streams per connection (0 = grpc default).
	MaxConcurrentStreams uint32
	// KeepaliveTime and KeepaliveTimeout set server pings (0 = grpc default).
	KeepaliveTime, KeepaliveTimeout time.Duration
	// KeepaliveMinTime is the least client ping interval allowed (0 = grpc
	// default of 5 minutes).
	KeepaliveMinTime time.Duration
	// Introspection registers server reflection, the health service and
	// channelz, so grpcurl, ghz and streambench's leak checks can use the
	// server from another process.
	Introspection bool
	// WrapLonglived and WrapMath, when set, wrap the reference services
	// before they are registered (the self-checks plant bugs this way).
	WrapLonglived func(pb.LonglivedServer) pb.LonglivedServer
	WrapMath      func(pb.MathServer) pb.MathServer
	// MaxConnectionAge makes the server send GOAWAY to connections older
	// than this (0: never), giving them MaxConnectionAgeGrace to drain.
	MaxConnectionAge, MaxConnectionAgeGrace time.Duration
	// ServerOptions are appended to the options built from the fields above.
	ServerOptions []grpc.ServerOption
}

// Target is the running reference servers.
type Target struct {
	cfg  Config
	Feed *longlived.Server
	ll   pb.LonglivedServer
	math pb.MathServer

	// replica: the feed and services are another Target's (Replica);
	// Close leaves them to it.
	replica bool

	mu       sync.Mutex
	srv      *grpc.Server
	serveErr chan error
	closed   bool
}

// Replica returns another server of the same services and feed: one more
// backend of one shared log, so a subscriber that moves from one replica to
// another resumes by seq where it was (what replicas behind a balancer
// sharing a log do). It serves on a listener of its own (Serve); its Close
// stops its gRPC server only, the feed stays t's.
func (t *Target) Replica() *Target {
	t.mu.Lock()
	cfg := t.cfg
	t.mu.Unlock()
	return &Target{cfg: cfg, Feed: t.Feed, ll: t.ll, math: t.math, replica: true}
}

// New builds the servers and starts the feed. Call Serve to accept clients
// and Close to stop everything.
func New(cfg Config) *Target {
	feed := longlived.New(cfg.Feed)
	t := &Target{cfg: cfg, Feed: feed, ll: feed, math: mathsrv.New()}
	if cfg.WrapLonglived != nil {
		t.ll = cfg.WrapLonglived(t.ll)
	}
	if cfg.WrapMath != nil {
		t.math = cfg.WrapMath(t.math)
	}
	feed.Start()
	return t
}

func (t *Target) options() []grpc.ServerOption {
	var opts []grpc.ServerOption
	if t.cfg.MaxConcurrentStreams > 0 {
		opts = append(opts, grpc.MaxConcurrentStreams(t.cfg.MaxConcurrentStreams))
	}
	if t.cfg.KeepaliveTime > 0 || t.cfg.KeepaliveTimeout > 0 || t.cfg.MaxConnectionAge > 0 {
		opts = append(opts, grpc.KeepaliveParams(keepalive.ServerParameters{
			Time: t.cfg.KeepaliveTime, Timeout: t.cfg.KeepaliveTimeout,
			MaxConnectionAge: t.cfg.MaxConnectionAge, MaxConnectionAgeGrace: t.cfg.MaxConnectionAgeGrace,
		}))
	}
	if t.cfg.KeepaliveMinTime > 0 {
		opts = append(opts, grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime: t.cfg.KeepaliveMinTime, PermitWithoutStream: true,
		}))
	}
	return append(opts, t.cfg.ServerOptions...)
}

// SetMaxConnectionAge sets the max connection age (0: none) the server
// gets at its next Serve.
func (t *Target) SetMaxConnectionAge(age, grace time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cfg.MaxConnectionAge, t.cfg.MaxConnectionAgeGrace = age, grace
}

// Serve starts a gRPC server on lis in the background. After Stop it may be
// called again (a restart) with a new listener.
func (t *Target) Serve(lis net.Listener) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("builtin target: closed")
	}
	if t.srv != nil {
		return fmt.Errorf("builtin target: already serving")
	}
	srv := grpc.NewServer(t.options()...)
	pb.RegisterLonglivedServer(srv, t.ll)
	pb.RegisterMathServer(srv, t.math)
	if t.cfg.Introspection {
		reflection.Register(srv)
		hs := health.NewServer()
		healthpb.RegisterHealthServer(srv, hs)
		channelzsvc.RegisterChannelzServiceToServer(srv)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	t.srv, t.serveErr = srv, errc
	return nil
}

// Stop stops the gRPC server: GracefulStop (GOAWAY, in-flight streams
// drain) for at most grace, then a hard Stop. It returns whether the
// graceful stop finished in time. The feed keeps running.
func (t *Target) Stop(grace time.Duration) (graceful bool) {
	t.mu.Lock()
	srv, errc := t.srv, t.serveErr
	t.srv, t.serveErr = nil, nil
	t.mu.Unlock()
	if srv == nil {
		return true
	}
	graceful = true
	if grace > 0 {
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		timer := time.NewTimer(grace)
		select {
		case <-done:
		case <-timer.C:
			graceful = false
			srv.Stop()
			// GracefulStop returns once every handler has; a handler that
			// never returns (a leak) keeps it blocked. Wait a moment, then
			// leave it: the leak check names what is stuck.
			stuck := time.NewTimer(time.Second)
			select {
			case <-done:
			case <-stuck.C:
			}
			stuck.Stop()
		}
		timer.Stop()
	} else {
		srv.Stop()
	}
	<-errc
	return graceful
}

// Close stops the server (bounded by grace) and the feed. Idempotent.
func (t *Target) Close(grace time.Duration) bool {
	graceful := t.Stop(grace)
	t.mu.Lock()
	already := t.closed
	t.closed = true
	t.mu.Unlock()
	if !already && !t.replica {
		if c, ok := t.ll.(interface{ Close() error }); ok && t.ll != pb.LonglivedServer(t.Feed) {
			_ = c.Close()
		}
		t.Feed.Close()
	}
	return graceful
}

// Subscribers is the live Subscribe streams the servers know of: the
// registered Longlived server's own count when it keeps one (a planted bug
// strands handlers the feed no longer sees), else the feed's.
func (t *Target) Subscribers() int {
	if c, ok := t.ll.(interface{ Subscribers() int }); ok && t.ll != pb.LonglivedServer(t.Feed) {
		return c.Subscribers()
	}
	return t.Feed.Subscribers()
}

// Release ends whatever a planted leak still holds (call it after the leak
// check has looked). Idempotent; a no-op for the correct servers.
func (t *Target) Release() {
	for _, s := range []any{t.ll, t.math} {
		if l, ok := s.(interface{ Release() }); ok {
			l.Release()
		}
	}
}

// ConfigOf translates a scenario's builtin target settings (defaults
// applied) into the servers' configuration. `streambench serve` and the
// engine both build their servers through it.
func ConfigOf(b *scenario.Builtin) Config {
	if b == nil {
		b = &scenario.Builtin{}
	}
	return Config{
		ServerOptions: serverTransportOptions(b.Server),
		Feed: longlived.Config{
			Rate:    b.Feed.Rate.PerSecond(),
			Payload: int(b.Feed.Payload),
			Ring:    b.Feed.Ring,
			Queue:   b.Feed.Queue,
		},
		MaxConcurrentStreams: b.Server.MaxConcurrentStreams,
		KeepaliveTime:        b.Server.Keepalive.Time.D(),
		KeepaliveTimeout:     b.Server.Keepalive.Timeout.D(),
		KeepaliveMinTime:     b.Server.Keepalive.MinTime.D(),
	}
}

// serverTransportOptions are the server's window and buffer settings
// (gRPC's defaults where unset).
func serverTransportOptions(s scenario.Server) []grpc.ServerOption {
	var opts []grpc.ServerOption
	if w := int32(s.Window); w > 0 {
		opts = append(opts, grpc.InitialWindowSize(w), grpc.InitialConnWindowSize(w))
	}
	if s.Buffers.Write > 0 {
		opts = append(opts, grpc.WriteBufferSize(int(s.Buffers.Write)))
	}
	if s.Buffers.Read > 0 {
		opts = append(opts, grpc.ReadBufferSize(int(s.Buffers.Read)))
	}
	if s.Buffers.SharedWrite {
		opts = append(opts, grpc.SharedWriteBuffer(true))
	}
	return opts
}

// Stats are the feed's own measurements for the report (the stream-end
// counts come from the engine's interceptor).
func (t *Target) Stats() (*reports.ServerStats, error) {
	st := t.Feed.Stats(time.Second)
	out := &reports.ServerStats{
		Published: st.Published,
		FeedRate:  st.Rate,
		CutOff:    st.CutOff,
		MaxQueue:  st.MaxQueue,
	}
	var err error
	if out.SendBlocked, err = reports.FromHDR(st.SendBlocked, st.SendBlockedClamped); err != nil {
		err = fmt.Errorf("server stats: %w", err)
	}
	return out, err
}
