package builtin

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/reports"
)

// Kind is the builtin target kind: the reference servers in this process,
// serving on a listener of the link (bufconn by default). plant, when set,
// changes their configuration before they start (a planted bug's wrapped
// services; package selfcheck). It can restart (server_restart,
// graceful_restart, max_connection_age), hosts the stream faults, and
// gives the leak check its stream registry.
func Kind(plant func(*Config)) target.Kind {
	return target.Kind{
		Name:      "builtin",
		Doc:       "the reference servers (Longlived, Math) in streambench's own process, reached over bufconn by default",
		InProcess: true,
		New: func(s target.Spec) (target.Target, error) {
			return &kind{b: s.Scenario.Target.Builtin, plant: plant}, nil
		},
	}
}

// kind is the builtin target of one run.
type kind struct {
	b     *scenario.Builtin
	plant func(*Config)

	interceptor grpc.StreamServerInterceptor
	srv         *Target
	link        link.Link
}

var (
	_ fault.ConnectionAger = (*kind)(nil)
	_ fault.StreamHost     = (*kind)(nil)
	_ target.Resident      = (*kind)(nil)
	_ target.Prober        = (*kind)(nil)
	_ target.Stats         = (*kind)(nil)
)

func (k *kind) Label() string { return target.Label("builtin", "") }
func (k *kind) Name() string  { return "the builtin target" }

// HostStreams runs the stream faults' interceptor on the servers.
func (k *kind) HostStreams(s *fault.Streams) { k.interceptor = s.Interceptor() }

// Start builds the servers and serves them on a listener of the link.
func (k *kind) Start(_ context.Context, env target.Env) (target.Reach, error) {
	var l link.Link
	var err error
	if env.Toxiproxy != "" {
		l, err = link.NewToxiproxy(env.Toxiproxy)
	} else {
		l, err = link.New(env.Link)
	}
	if err != nil {
		return target.Reach{}, fmt.Errorf("link: %w", err)
	}
	cfg := ConfigOf(k.b)
	if k.interceptor != nil {
		cfg.ServerOptions = append(cfg.ServerOptions, grpc.ChainStreamInterceptor(k.interceptor))
	}
	if k.plant != nil {
		k.plant(&cfg)
	}
	k.srv, k.link = New(cfg), l
	if err := k.StartServer(); err != nil {
		k.srv.Close(0)
		_ = l.Close()
		return target.Reach{}, fmt.Errorf("builtin target: %w", err)
	}
	return target.Reach{Link: l}, nil
}

// StartServer serves on a new listener of the link (a restart).
func (k *kind) StartServer() error {
	lis, err := k.link.Listen()
	if err != nil {
		return err
	}
	if err := k.srv.Serve(lis); err != nil {
		lis.Close()
		return err
	}
	return nil
}

// StopServer stops the servers, gracefully within grace; the feed goes on.
func (k *kind) StopServer(grace time.Duration) bool { return k.srv.Stop(grace) }

// SetMaxConnectionAge sets the servers' max connection age for their next
// start.
func (k *kind) SetMaxConnectionAge(age, grace time.Duration) { k.srv.SetMaxConnectionAge(age, grace) }

// Stop stops the servers and the feed. Idempotent.
func (k *kind) Stop(grace time.Duration) error {
	if k.srv != nil {
		k.srv.Close(grace)
	}
	return nil
}

// Release ends what a planted leak still holds.
func (k *kind) Release() {
	if k.srv != nil {
		k.srv.Release()
	}
}

// Probes: the servers' own registry of live subscriptions.
func (k *kind) Probes([]grpc.DialOption, bool) []leak.Probe {
	if k.srv == nil {
		return nil
	}
	return []leak.Probe{leak.RegistryProbe(k.srv.Subscribers)}
}

// Stats are the servers' own measurements.
func (k *kind) Stats() (*reports.ServerStats, error) { return k.srv.Stats() }

func (k *kind) Describe() target.Description { return target.Description{Target: "builtin"} }
