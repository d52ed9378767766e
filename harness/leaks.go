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
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/reports"
)

// leakOptions is the leak check's settings: those of the scenario's
// compiled leaks assertion, if any (assert owns them).
func leakOptions(checks []assert.Assertion) leak.Options { return assert.LeakSettings(checks) }

// targetBaseline samples a Gauged target's figures before load (a
// process's /proc figures, a Go target's goroutines over pprof); what it
// cannot have is noted as not available, with why. Nil for other targets.
func (r *run) targetBaseline() *leak.TargetBaseline {
	g, ok := r.target.(target.Gauged)
	if !ok {
		return nil
	}
	gauges, unavailable := g.Gauges(r.shard0())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := leak.TakeTargetBaseline(ctx, gauges...)
	for _, u := range unavailable {
		b.Unavailable(u.Source, u.Why)
	}
	return b
}

// shard0 reports whether this run judges the target: it is not a shard of
// a sharded run other than the first.
func (r *run) shard0() bool { sh := r.p.ov.Shard; return sh == nil || sh.Index == 0 }

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
	// A target found down has nothing to ask.
	if p, ok := r.target.(target.Prober); ok && !r.targetIsDown() {
		probes = p.Probes(r.p.tr.dialOptions(r.reach.Authority), r.shard0())
	}
	opts := r.leakOpts
	opts.PeakGoroutines = r.resources.PeakGoroutines
	restarts := 0
	if g, ok := r.target.(target.Gauged); ok {
		restarts = g.Restarts()
	}
	if r.targetBase != nil {
		if restarts > 0 {
			why := fmt.Sprintf("the process was restarted %d time(s) during the run; its figures before load belong to an earlier process", restarts)
			r.targetBase.Drop("process", why)
			r.targetBase.Drop("pprof", why)
		}
		opts.Target = r.targetBase
	}
	if _, ok := r.target.(target.Resident); !ok {
		// The target's own view is taken: stop it, then the link.
		opts.AfterTarget = r.stopTarget
	}
	for _, g := range r.groups {
		opts.LateBytes += uint64(len(g.share.conns)) * link.LateBytes(r.p.link)
	}
	// An embedded toxiproxy strands the pipes of connections whose
	// upstream a server fault killed under it: left out, and said.
	stranded := restarts > 0 && r.p.link == link.KindToxiproxy &&
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
	r.release()
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
