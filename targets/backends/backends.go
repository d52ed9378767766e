// Package backends is the target kind of several backends behind a
// balancer (target.backends): N replicas of the builtin target (each its
// own gRPC server and loopback listener, all serving one shared feed), N
// processes of a command target (each on its own {port}), or a list of
// running addresses. Each backend has a stable name — b0, b1, … for
// replicas, the address for a list — used by the faults, the per-backend
// measurements and the assertions.
//
// The balancer is streambench's own link (link.Balanced): l4 sends each
// new connection to the next backend in service, round robin; client gives
// every ClientConn a resolver listing the backends and lets gRPC's policy
// (round_robin, pick_first) pick. Replicas streambench runs can join,
// leave and restart as faults (fault.Backends); a list of addresses
// cannot.
//
// Replicas share one sequence, as replicas behind a balancer share a log:
// the builtin replicas serve one feed; command replicas get the same
// {epoch} (unix nanoseconds) in their argv and env, and `streambench serve
// --epoch` numbers its feed from it, so seq n is published at the same
// moment with the same payload by every process. A subscriber displaced
// from one backend to another resumes by seq (from_seq) without loss.
package backends

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/builtin"
	"github.com/streambench/streambench/targets/command"
)

// EpochToken is replaced in a command replica's argv and env by the
// replicas' shared epoch, in unix nanoseconds.
const EpochToken = "{epoch}"

// Kind is the target kind of several backends.
var Kind = target.Kind{
	Name: "backends",
	Doc:  "several backends behind a balancer (target.backends): replicas of the builtin or command target, or a list of addresses",
	New:  newTarget,
}

func newTarget(s target.Spec) (target.Target, error) {
	sc := s.Scenario
	b := sc.Target.Backends
	if b == nil {
		b = &scenario.Backends{} // a scenario without the block: `streambench list` asking what the kind can take
	}
	if sc.Link.Kind != "" && sc.Link.Kind != link.KindTCP {
		return nil, scenario.Errors{{File: sc.File, Pos: sc.PosOf("link"), Field: "link",
			Msg: fmt.Sprintf("a target of several backends is reached over tcp (its balancer is streambench's own tcp link), not %s", sc.Link.Kind)}}
	}
	set := &set{b: *b, sc: sc}
	switch {
	case len(b.Addresses) > 0:
		set.what = fmt.Sprintf("%d addresses", len(b.Addresses))
		return listed{set}, nil
	case len(sc.Target.Command) > 0:
		set.what = fmt.Sprintf("%d × command: %s", b.Replicas, strings.Join(sc.Target.Command, " "))
		return &owned{set: set}, nil
	}
	set.what = fmt.Sprintf("%d × builtin", b.Replicas)
	return &resident{owned: owned{set: set}}, nil
}

// server is one backend's server: started, stopped and served again on
// its address.
type server interface {
	// serve starts it (the first time) or serves it again on its
	// address, and returns the address.
	serve() (addr string, err error)
	// stop stops it, gracefully within grace (0: at once); it reports
	// whether it drained within grace.
	stop(grace time.Duration) bool
	// close stops it for good.
	close(grace time.Duration) error
}

// member is one backend.
type member struct {
	name, addr string
	up         bool
	srv        server
}

// set is a target of several backends: a list of addresses as it is; the
// owned and resident kinds below add what replicas streambench runs can do.
type set struct {
	b    scenario.Backends
	sc   *scenario.Scenario
	what string

	env  target.Env
	link *link.Balanced
	// newServer makes the next backend's server (nil for a list of
	// addresses, which cannot grow).
	newServer func(i int) (server, error)

	mu      sync.Mutex
	members []*member
}

func (s *set) Label() string { return target.Label("backends", s.what) }
func (s *set) Name() string  { return "the backends (" + s.what + ")" }

// Describe is the report's target line.
func (s *set) Describe() target.Description {
	return target.Description{Target: "backends: " + s.what + ", balancer " + s.linkBalancing()}
}

func (s *set) linkBalancing() string {
	if s.b.Balancer == scenario.BalancerClient {
		return "client " + s.b.Policy
	}
	return "l4 round robin"
}

// Start starts every backend and puts the balancer in front of them.
func (s *set) Start(_ context.Context, env target.Env) (target.Reach, error) {
	l, err := link.NewBalanced(s.b.Balancer, s.b.Policy)
	if err != nil {
		return target.Reach{}, err
	}
	s.env, s.link = env, l
	if len(s.b.Addresses) > 0 {
		for _, a := range s.b.Addresses {
			s.members = append(s.members, &member{name: a, addr: a, up: true})
			l.Add(a, a)
		}
		return target.Reach{Link: l, Authority: s.b.Addresses[0], Addr: s.b.Addresses[0]}, nil
	}
	for range s.b.Replicas {
		if _, err := s.join(); err != nil {
			_ = s.Stop(0)
			_ = l.Close()
			return target.Reach{}, err
		}
	}
	return target.Reach{Link: l, Addr: s.members[0].addr}, nil
}

// listed is a set of running addresses: every shard of a sharded run
// reaches the same ones (replicas streambench runs are each process's
// own, as a builtin target is, so they are not Shared).
type listed struct{ *set }

// SharedBy implements target.Shared.
func (l listed) SharedBy() string { return strings.Join(l.b.Addresses, ", ") }

var _ target.Shared = listed{}

// join starts one more backend and puts it in service.
func (s *set) join() (string, error) {
	s.mu.Lock()
	i := len(s.members)
	s.mu.Unlock()
	name := "b" + strconv.Itoa(i)
	srv, err := s.newServer(i)
	if err != nil {
		return "", fmt.Errorf("backend %s: %w", name, err)
	}
	addr, err := srv.serve()
	if err != nil {
		_ = srv.close(0)
		return "", fmt.Errorf("backend %s: %w", name, err)
	}
	s.mu.Lock()
	s.members = append(s.members, &member{name: name, addr: addr, up: true, srv: srv})
	s.mu.Unlock()
	s.link.Add(name, addr)
	return name, nil
}

// Stop stops every backend streambench runs, the newest first (the first
// replica owns what the others share). Idempotent.
func (s *set) Stop(grace time.Duration) error {
	s.mu.Lock()
	ms := slices.Clone(s.members)
	s.mu.Unlock()
	var errs []error
	for i := len(ms) - 1; i >= 0; i-- {
		if m := ms[i]; m.srv != nil {
			if err := m.srv.close(grace); err != nil {
				errs = append(errs, fmt.Errorf("backend %s: %w", m.name, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

// owned is a set of replicas streambench runs: they can join, leave and
// restart (fault.Backends).
type owned struct {
	*set
}

var (
	_ fault.Backends  = (*owned)(nil)
	_ fault.Restarter = (*owned)(nil)
)

// Start readies the command replicas' servers, then starts the set.
func (o *owned) Start(ctx context.Context, env target.Env) (target.Reach, error) {
	epoch := strconv.FormatInt(time.Now().UnixNano(), 10)
	o.newServer = func(i int) (server, error) { return o.commandServer(i, epoch) }
	return o.set.Start(ctx, env)
}

// JoinBackend implements fault.Backends.
func (o *owned) JoinBackend() (string, error) { return o.join() }

// LeaveBackend implements fault.Backends: out of the balancer first (no
// new connection goes to it), then stopped.
func (o *owned) LeaveBackend(name string, grace time.Duration) (string, bool, error) {
	o.mu.Lock()
	var m *member
	for i := len(o.members) - 1; i >= 0; i-- {
		if x := o.members[i]; x.up && (name == "" || x.name == name) {
			m = x
			break
		}
	}
	if m == nil {
		names := make([]string, 0, len(o.members))
		for _, x := range o.members {
			if x.up {
				names = append(names, x.name)
			}
		}
		o.mu.Unlock()
		if name == "" {
			return "", false, fmt.Errorf("no backend in service")
		}
		return "", false, fmt.Errorf("no backend %s in service (in service: %s)", name, strings.Join(names, ", "))
	}
	m.up = false
	o.mu.Unlock()
	o.link.Remove(m.name)
	return m.name, m.srv.stop(grace), nil
}

// RejoinBackend implements fault.Backends.
func (o *owned) RejoinBackend(name string) error {
	o.mu.Lock()
	i := slices.IndexFunc(o.members, func(m *member) bool { return m.name == name })
	o.mu.Unlock()
	if i < 0 {
		return fmt.Errorf("no backend %s", name)
	}
	m := o.members[i]
	addr, err := m.srv.serve()
	if err != nil {
		return fmt.Errorf("backend %s: %w", name, err)
	}
	o.mu.Lock()
	m.up, m.addr = true, addr
	o.mu.Unlock()
	o.link.Add(name, addr)
	return nil
}

// StopServer stops every backend in service at once (server_restart,
// graceful_restart), gracefully within grace; they stay in the balancer,
// as replicas of a rolling-restart-less deploy would. It reports whether
// all drained within grace.
func (o *owned) StopServer(grace time.Duration) bool {
	o.mu.Lock()
	var up []*member
	for _, m := range o.members {
		if m.up {
			up = append(up, m)
		}
	}
	o.mu.Unlock()
	drained := make(chan bool, len(up))
	for _, m := range up {
		go func() { drained <- m.srv.stop(grace) }()
	}
	all := true
	for range up {
		all = <-drained && all
	}
	return all
}

// StartServer serves every backend in service again on its address.
func (o *owned) StartServer() error {
	o.mu.Lock()
	var up []*member
	for _, m := range o.members {
		if m.up {
			up = append(up, m)
		}
	}
	o.mu.Unlock()
	for _, m := range up {
		if _, err := m.srv.serve(); err != nil {
			return fmt.Errorf("backend %s: %w", m.name, err)
		}
	}
	return nil
}

// commandServer is replica i of the command target: its own process on
// its own free port, its output in a folder of its own, the shared epoch
// in place of {epoch}.
func (o *owned) commandServer(i int, epoch string) (server, error) {
	sc := o.sc.Clone()
	r := strings.NewReplacer(EpochToken, epoch)
	for j, a := range sc.Target.Command {
		sc.Target.Command[j] = r.Replace(a)
	}
	for j, a := range sc.Target.Env {
		sc.Target.Env[j] = r.Replace(a)
	}
	sc.Target.Backends = nil
	t, err := command.Kind.New(target.Spec{Scenario: sc})
	if err != nil {
		return nil, err
	}
	env := o.env
	env.Link = link.KindTCP
	env.Toxiproxy = ""
	if env.Artifacts != "" {
		env.Artifacts = filepath.Join(env.Artifacts, "b"+strconv.Itoa(i))
	}
	return &commandServer{t: t, env: env}, nil
}

// commandServer is one command replica.
type commandServer struct {
	t       target.Target
	env     target.Env
	addr    string
	started bool
}

func (c *commandServer) serve() (string, error) {
	if c.started {
		r, ok := c.t.(fault.Restarter)
		if !ok {
			return "", fmt.Errorf("%s cannot restart", c.t.Name())
		}
		return c.addr, r.StartServer()
	}
	reach, err := c.t.Start(context.Background(), c.env)
	if err != nil {
		return "", err
	}
	// The process is reached through the balancer, not the link its kind
	// puts in front of it.
	_ = reach.Link.Close()
	c.addr, c.started = reach.Addr, true
	return c.addr, nil
}

func (c *commandServer) stop(grace time.Duration) bool {
	if r, ok := c.t.(fault.Restarter); ok {
		return r.StopServer(grace)
	}
	return false
}

func (c *commandServer) close(grace time.Duration) error { return c.t.Stop(grace) }

// resident is a set of builtin replicas: gRPC servers in streambench's own
// process, each on a loopback listener of its own, all serving the first
// replica's feed.
type resident struct {
	owned
	first *builtin.Target
}

// SetMaxConnectionAge sets every replica's max connection age for its
// next start (max_connection_age), and the age of replicas that join
// later.
func (r *resident) SetMaxConnectionAge(age, grace time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.members {
		m.srv.(*builtinServer).t.SetMaxConnectionAge(age, grace)
	}
}

var (
	_ fault.ConnectionAger = (*resident)(nil)
	_ target.Resident      = (*resident)(nil)
	_ target.Prober        = (*resident)(nil)
	_ target.Stats         = (*resident)(nil)
)

// Start makes the first replica's servers and feed, then starts the set.
func (r *resident) Start(ctx context.Context, env target.Env) (target.Reach, error) {
	cfg := builtin.ConfigOf(r.sc.Target.Builtin)
	cfg.MaxConnectionAge, cfg.MaxConnectionAgeGrace = r.b.MaxConnectionAge.D(), r.b.MaxConnectionAgeGrace.D()
	r.newServer = func(i int) (server, error) {
		if i == 0 {
			r.first = builtin.New(cfg)
			return &builtinServer{t: r.first}, nil
		}
		return &builtinServer{t: r.first.Replica()}, nil
	}
	return r.set.Start(ctx, env)
}

// Release ends what a planted leak still holds.
func (r *resident) Release() {
	if r.first != nil {
		r.first.Release()
	}
}

// Probes: the shared feed's registry of live subscriptions.
func (r *resident) Probes([]grpc.DialOption, bool) []leak.Probe {
	if r.first == nil {
		return nil
	}
	return []leak.Probe{leak.RegistryProbe(r.first.Subscribers)}
}

// Stats are the shared feed's own measurements.
func (r *resident) Stats() (*reports.ServerStats, error) {
	if r.first == nil {
		return nil, nil
	}
	return r.first.Stats()
}

// builtinServer is one builtin replica on a loopback listener of its own.
type builtinServer struct {
	t    *builtin.Target
	addr string
}

func (b *builtinServer) serve() (string, error) {
	addr := b.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	if err := b.t.Serve(lis); err != nil {
		lis.Close()
		return "", err
	}
	b.addr = lis.Addr().String()
	return b.addr, nil
}

func (b *builtinServer) stop(grace time.Duration) bool { return b.t.Stop(grace) }

func (b *builtinServer) close(grace time.Duration) error {
	b.t.Close(grace)
	return nil
}
