package harness

import (
	"strings"

	"context"
	"errors"
	"fmt"
	"github.com/streambench/streambench/reports"
	"time"

	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/scenario"
)

// defaultLeakSettle bounds how long the leak check waits for things to
// wind down after teardown.
const defaultLeakSettle = 5 * time.Second

// leakOptions reads the leak check's settings from the scenario's leaks
// assertion ({settle: 5s, heap: 64MiB}), if any. A bad setting is a
// scenario.Errors at the assertion's position (every bad one, in file
// order).
func leakOptions(sc *scenario.Scenario) (leak.Options, error) {
	opts := leak.Options{Settle: defaultLeakSettle}
	var errs scenario.Errors
	for i, a := range sc.Assert {
		if a.Key != "leaks" {
			continue
		}
		bad := func(format string, args ...any) {
			errs = append(errs, &scenario.Error{File: sc.File, Pos: a.Pos, Field: fmt.Sprintf("assert[%d]", i), Msg: fmt.Sprintf(format, args...)})
		}
		for _, k := range []string{"settle", "heap"} {
			v, ok := a.Args[k]
			if !ok {
				continue
			}
			switch k {
			case "settle":
				d, err := time.ParseDuration(v)
				if err != nil || d <= 0 {
					bad("leaks: settle %q is not a positive duration such as 5s", v)
					continue
				}
				opts.Settle = d
			case "heap":
				sz, err := scenario.ParseSize(v)
				if err != nil || sz <= 0 {
					bad("leaks: heap %q is not a size such as 64MiB", v)
					continue
				}
				opts.HeapBound = uint64(sz)
			}
		}
	}
	if len(errs) > 0 {
		return opts, errs
	}
	return opts, nil
}

// targetBaseline samples an address or command target's figures before
// load: a command target's /proc figures, and a Go target's goroutines
// when the scenario gives its pprof URL. What it cannot have is noted as
// not available, with why. Nil for the builtin target.
func (r *run) targetBaseline() *leak.TargetBaseline {
	if r.p.target == TargetBuiltin {
		return nil
	}
	var gauges []leak.Gauge
	if r.cmd != nil {
		gauges = append(gauges, leak.ProcGauge{Pid: r.cmd.current().Pid()})
	}
	other := r.p.ov.Shard != nil && r.p.ov.Shard.Index > 0
	if u := r.sc.Target.Pprof; u != "" && !other {
		gauges = append(gauges, leak.PprofGauge{URL: u})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := leak.TakeTargetBaseline(ctx, gauges...)
	if r.cmd == nil {
		b.Unavailable("process", "an address target's process is not streambench's to read (a command target's is)")
	}
	switch {
	case other:
		b.Unavailable("pprof", "a sharded run's target is shard 0's to judge")
	case r.sc.Target.Pprof == "":
		b.Unavailable("pprof", "no target.pprof given (a Go target's net/http/pprof base URL)")
	}
	return b
}

// channelzSource says whether the target's channelz answered.
func channelzSource(probes []leak.Probe, server *reports.ServerLeaks, err error) reports.EvidenceSource {
	src := reports.EvidenceSource{Name: "channelz"}
	switch {
	case len(probes) == 0:
		src.Detail = "not available: not asked (the target was down, or another shard's)"
	case server != nil && strings.Contains(server.Source, "channelz"):
		src.Available = true
		if p, ok := probes[0].(leak.ChannelzProbe); ok {
			src.Detail = p.Target
		}
	case errors.Is(err, leak.ErrUnsupported):
		src.Detail = "not available: the target does not serve grpc.channelz.v1 (google.golang.org/grpc/channelz/service)"
	default:
		src.Detail = fmt.Sprintf("not available: %v", err)
	}
	return src
}

// checkLeaks runs after teardown: everything the run started must have
// ended. It returns the evidence for the report.
func (r *run) checkLeaks() {
	ctx, cancel := context.WithTimeout(context.Background(), r.leakOpts.Settle+10*time.Second)
	defer cancel()
	var probes []leak.Probe
	switch r.p.target {
	case TargetBuiltin:
		probes = append(probes, leak.RegistryProbe(r.target.Subscribers))
	case TargetAddress:
		// A sharded run's target is shard 0's to check: the other shards'
		// streams would still be in flight in its counters.
		// A target found down has nothing to ask either.
		if sh := r.p.ov.Shard; (sh == nil || sh.Index == 0) && !r.targetIsDown() {
			probes = append(probes, leak.ChannelzProbe{Target: r.p.Address(), DialOptions: r.p.tr.dialOptions(r.p.Address())})
		}
	case TargetCommand:
		// A process that died has nothing left to ask; its exit is the
		// run's error already.
		if r.cmd.alive() {
			probes = append(probes, leak.ChannelzProbe{Target: r.cmd.Addr(), DialOptions: r.p.tr.dialOptions(r.cmd.Addr())})
		}
	}
	opts := r.leakOpts
	opts.PeakGoroutines = r.resources.PeakGoroutines
	if r.targetBase != nil {
		if r.cmd != nil && r.cmd.restarted() > 0 {
			why := fmt.Sprintf("the process was restarted %d time(s) during the run; its figures before load belong to an earlier process", r.cmd.restarted())
			r.targetBase.Drop("process", why)
			r.targetBase.Drop("pprof", why)
		}
		opts.Target = r.targetBase
	}
	if r.cmd != nil {
		// The process's own view is taken; its watcher and output pipe
		// are not leaks of the run.
		opts.AfterTarget = func() { r.proc = r.cmd.Close() }
	}
	for _, g := range r.groups {
		opts.LateBytes += uint64(len(g.share.conns)) * link.LateBytes(r.p.link)
	}
	l, err := leak.Inspect(ctx, r.base, opts, probes...)
	if err != nil && !errors.Is(err, leak.ErrUnsupported) {
		r.errs = append(r.errs, fmt.Errorf("leak check: %w", err))
	}
	if l.Target != nil {
		l.Target.Sources = append([]reports.EvidenceSource{channelzSource(probes, l.Server, err)}, l.Target.Sources...)
	}
	r.leaks = l
	// Only now let planted leaks and skipped closes go, so the process
	// itself ends clean.
	if r.target != nil {
		r.target.Release()
	}
	r.closeConnsNow()
}
