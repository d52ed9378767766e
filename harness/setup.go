package harness

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
)

// wiring is what setup builds and teardown takes apart: the run's target,
// the link in front of it, the groups and their connections, and the
// figures the leak check compares the end with.
type wiring struct {
	// target is this run's target (the plan's kind); reach is how its
	// clients reach it once started, and link the link in front of it
	// (nil once closed).
	target  target.Target
	started bool
	reach   target.Reach
	link    link.Link
	stopped bool           // the target was stopped (stopTarget)
	streams *fault.Streams // the stream faults' interceptor (nil: the target hosts none)

	groups []*group

	base leak.Baseline
	// targetBase is a Gauged target's figures before load (nil for other
	// targets).
	targetBase *leak.TargetBaseline
}

// setup starts the target and dials every group's connections.
func (r *run) setup() error {
	if err := r.startTarget(); err != nil {
		return err
	}
	r.targetBase = r.targetBaseline()
	r.bk = newBackendStats(r.link)
	for gi, gs := range r.sc.Groups {
		sh := &r.p.shares[gi]
		g := &group{spec: gs, share: sh, rec: record.New(shardCount(len(sh.clients)), r.cfg.now)}
		g.rec.WatchAllOpen(len(sh.clients))
		r.groups = append(r.groups, g)
		extra := append(r.p.tr.dialOptions(r.reach.Authority), r.dialOptions(gs)...)
		for _, i := range sh.conns {
			opts := r.link.DialOptionsFor(link.Label{Group: gs.Name, Conn: i})
			st := &connStat{}
			g.stats = append(g.stats, st)
			opts = append(append([]grpc.DialOption(nil), opts...), extra...)
			opts = append(opts, grpc.WithChainStreamInterceptor(st.interceptor()))
			if r.bk != nil {
				opts = append(opts, grpc.WithChainStreamInterceptor(r.bk.interceptor()))
			}
			dial := r.link.Target()
			cc, err := grpc.NewClient(dial, opts...)
			if err != nil {
				return fmt.Errorf("group %s: dial %s: %w", gs.Name, dial, err)
			}
			g.conns = append(g.conns, cc)
		}
	}
	if err := r.connect(); err != nil {
		return err
	}
	return r.prepareGroups()
}

// startTarget starts the run's target and takes the link in front of it. A
// target that hosts stream faults gets the run's interceptor first; one
// that hosts them through a proxy (fault.StreamProxy) only when the plan
// has stream faults, so other runs keep reaching it directly; the plan's
// kinds tell it which proxy can carry them.
func (r *run) startTarget() error {
	_, viaProxy := r.target.(fault.StreamProxy)
	if h, ok := r.target.(fault.StreamHost); ok && (!viaProxy || r.p.streamFaults()) {
		r.streams = fault.NewStreams(r.seed)
		for _, sp := range r.p.specs {
			r.streams.Expect(sp.Kind)
		}
		h.HostStreams(r.streams)
	}
	env := target.Env{
		Link:      r.p.link,
		Creds:     r.p.tr.creds,
		Artifacts: r.cfg.artifacts,
		Event:     func(kind, fault, detail string) { r.events.add(kind, fault, detail) },
		Crashed: func(why string) {
			r.crashMu.Lock()
			defer r.crashMu.Unlock()
			if r.crash == nil {
				r.crash = fmt.Errorf("%w: %s", ErrTarget, why)
			}
		},
		Elapsed: func() time.Duration {
			if r.start.IsZero() {
				return 0
			}
			return r.cfg.now().Sub(r.start)
		},
	}
	if t := r.sc.Link.Toxiproxy; t != nil {
		env.Toxiproxy = t.Address
	}
	if r.sc.File != "" {
		env.Home = filepath.Dir(r.sc.File)
	}
	r.started = true
	reach, err := r.target.Start(context.Background(), env)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTarget, err)
	}
	r.reach, r.link = reach, reach.Link
	return nil
}

// setupWait bounds an RPC entry's setup of a group (a method resolved over
// server reflection).
const setupWait = 30 * time.Second

// prepareGroups runs each group's RPC entry setup once, over one of its
// connections.
func (r *run) prepareGroups() error {
	dir := ""
	if r.sc.File != "" {
		dir = filepath.Dir(r.sc.File)
	}
	for gi, g := range r.groups {
		e, _ := r.p.rpcs.Lookup(g.spec.RPC)
		if e.Setup == nil || len(g.conns) == 0 {
			continue
		}
		bad := func(field, msg string) error {
			path := fmt.Sprintf("groups[%d].%s", gi, field)
			return scenario.Errors{{File: r.sc.File, Pos: r.sc.PosOf(path), Field: path, Msg: msg}}
		}
		ctx, cancel := context.WithTimeout(ownStreams(context.Background()), setupWait)
		res, err := e.Setup(ctx, g.spec, dir, bad, g.conns[0])
		cancel()
		if err != nil {
			if _, ok := scenario.AsErrors(err); ok {
				return err
			}
			return fmt.Errorf("%w: group %s: %w", ErrTarget, g.spec.Name, err)
		}
		g.setup = res
	}
	return r.linkGroups()
}

// stopWaves bounds how many of a group's stop-time calls (a subscriber's
// Unsubscribe) are in flight at once: 8 per connection, at least 128 and at
// most 1,024. Enough to keep every connection's calls pipelined (20,000
// subscribers leave in about a second), few enough that 100,000 leaving at
// once do not bury the updates still being delivered to the others (with
// no bound the drain added 4–8 s to their p99; measured on 2 cores).
func stopWaves(connections int) int { return min(max(8*connections, 128), 1024) }

// connectWait bounds how long setup waits for the ClientConns to connect.
const connectWait = 10 * time.Second

// unreachableAfter is how long setup lets a target refuse every connection
// before it says the target is unreachable (exit 3) instead of running
// against nothing.
const unreachableAfter = 3 * time.Second

// connect brings every ClientConn up before the clock starts, so thousands
// of clients opening their first stream at once do not also race their
// connections' dials (at 100,000 streams that storm timed the dials out).
// A target that refuses every connection for unreachableAfter is an
// ErrTarget; a conn that is merely slow is left to connect on demand after
// connectWait: its streams then fail and are classified like any other.
func (r *run) connect() error {
	var all []*grpc.ClientConn
	for _, g := range r.groups {
		for _, cc := range g.conns {
			cc.Connect()
			all = append(all, cc)
		}
	}
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		ready, failing := 0, 0
		for _, cc := range all {
			switch cc.GetState() {
			case connectivity.Ready:
				ready++
			case connectivity.TransientFailure:
				failing++
			}
		}
		elapsed := time.Since(start)
		switch {
		case ready == len(all):
			return nil
		case ready == 0 && failing > 0 && elapsed >= unreachableAfter:
			return fmt.Errorf("%w: %s is unreachable: %s", ErrTarget, r.target.Name(), r.probeTarget())
		case elapsed >= connectWait:
			return nil
		}
	}
	return nil
}

// probeTarget says why the target cannot be reached, from one bounded TCP
// dial of an address target (gRPC keeps its connection errors to itself).
func (r *run) probeTarget() string {
	a := r.reach.Addr
	if a == "" {
		return "no connection became ready"
	}
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		return err.Error()
	}
	c.Close()
	if why := r.p.tr.why(a); why != "" {
		return why
	}
	if r.p.TLS() {
		return "it accepts TCP connections and TLS handshakes but no gRPC connection became ready (not a gRPC server?)"
	}
	return "it accepts TCP connections but no gRPC connection became ready (not a gRPC server, or TLS expected: target.tls instead of insecure?)"
}

// shardCount picks a recorder shard count: enough that clients rarely
// share a lock (four per processor, and one per clientsPerShard clients,
// up to maxShards: a fan-out to 100,000 subscribers delivers 100,000
// messages in a burst), few enough that merging stays cheap (a shard's
// histograms are about 1.3 MB).
func shardCount(clients int) int {
	n := max(4*runtime.GOMAXPROCS(0), min(clients/clientsPerShard, maxRecorderShards))
	return min(n, max(clients, 1))
}

const (
	clientsPerShard   = 2000
	maxRecorderShards = 64
)

// closeConns closes every ClientConn, unless a planted bug makes the
// client leak them (then checkLeaks closes them after looking).
func (r *run) closeConns() {
	if r.cfg.variant != nil && r.cfg.variant.LeakConns {
		return
	}
	r.closeConnsNow()
}

func (r *run) closeConnsNow() {
	for _, g := range r.groups {
		for _, cc := range g.conns {
			_ = cc.Close()
		}
		g.conns = nil
	}
}

// stopTarget stops the target, bounded by the graceful stop and the
// settle time, then closes the link in front of it. Idempotent.
func (r *run) stopTarget() {
	if r.stopped {
		return
	}
	r.stopped = true
	defer r.closeLink()
	if !r.started {
		return
	}
	done := make(chan error, 1)
	go func() { done <- r.target.Stop(r.grace) }()
	limit := time.NewTimer(r.grace + r.cfg.settle)
	defer limit.Stop()
	select {
	case err := <-done:
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: stop: %w", r.target.Name(), err))
		}
	case <-limit.C:
		r.errs = append(r.errs, fmt.Errorf("%w: %s still stopping after %v", ErrStuck, r.target.Name(), r.grace+r.cfg.settle))
	}
}

// release lets a Resident target go of what it kept for the leak check.
func (r *run) release() {
	if t, ok := r.target.(target.Resident); ok && r.started {
		t.Release()
	}
}

// closeLink closes the link (after the clients and the target).
func (r *run) closeLink() {
	if r.link != nil {
		if err := r.link.Close(); err != nil {
			r.errs = append(r.errs, fmt.Errorf("link: close: %w", err))
		}
		r.link = nil
	}
}
