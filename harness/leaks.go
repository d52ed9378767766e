package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/reports"
)

// leakOptions is the leak check's settings: those of the scenario's
// compiled leaks assertion, if any (assert owns them).
func leakOptions(checks []assert.Assertion) leak.Options { return assert.LeakSettings(checks) }

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
// ended. It returns the evidence for the report. A command target's
// process is still running: its own evidence (channelz, /proc, pprof) is
// taken first, then it is stopped and the link in front of it closed
// (closeCommand), and only then are this process's goroutines and fds
// compared with the baseline.
func (r *run) checkLeaks() {
	ctx, cancel := context.WithTimeout(context.Background(), r.leakOpts.Settle+10*time.Second)
	defer cancel()
	var probes []leak.Probe
	switch r.p.target {
	case TargetBuiltin:
		probes = append(probes, leak.RegistryProbe(r.target.Subscribers))
	case TargetAddress:
		// A sharded run's target is shard 0's to check: the other shards'
		// streams would still be in flight in its counters. A target
		// found down has nothing to ask either.
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
		// The process's own view is taken: stop it, then the link.
		opts.AfterTarget = r.closeCommand
	}
	for _, g := range r.groups {
		opts.LateBytes += uint64(len(g.share.conns)) * link.LateBytes(r.p.link)
	}
	// An embedded toxiproxy strands the pipes of connections whose
	// upstream a server fault killed under it: left out, and said.
	stranded := r.cmd != nil && r.cmd.restarted() > 0 && r.p.link == link.KindToxiproxy &&
		(r.sc.Link.Toxiproxy == nil || r.sc.Link.Toxiproxy.Address == "")
	if stranded {
		opts.Ignore = append(opts.Ignore, link.Stranded...)
	}
	l, err := leak.Inspect(ctx, r.base, opts, probes...)
	if err != nil && !errors.Is(err, leak.ErrUnsupported) {
		r.errs = append(r.errs, fmt.Errorf("leak check: %w", err))
	}
	if stranded {
		if n := countFrames(leak.Goroutines(), link.Stranded); n > 0 {
			r.warnings = append(r.warnings, fmt.Sprintf("toxiproxy stranded %d goroutines of connections whose upstream, the target process, was restarted (%s): a toxiproxy issue, left out of the leak check", n, strings.Join(link.Stranded, ", ")))
		}
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

// countFrames counts the goroutines with a frame in one of funcs.
func countFrames(gs []leak.Goroutine, funcs []string) int {
	n := 0
	for _, g := range gs {
		for _, f := range g.Frames {
			if slices.Contains(funcs, f) {
				n++
				break
			}
		}
	}
	return n
}
