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
)

// leakOptions is the leak check's settings: those of the scenario's
// compiled leaks assertion, if any (assert owns them).
func leakOptions(checks []assert.Assertion) leak.Options { return assert.LeakSettings(checks) }

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
			probes = append(probes, leak.ChannelzProbe{Target: r.p.Address()})
		}
	case TargetCommand:
		// Asked before the process was stopped (teardownTarget); a
		// process that died has nothing left to ask, its exit is the
		// run's error already.
		if r.cmdView != nil {
			probes = append(probes, r.cmdView)
		}
	}
	opts := r.leakOpts
	opts.PeakGoroutines = r.resources.PeakGoroutines
	for _, g := range r.groups {
		opts.LateBytes += uint64(len(g.share.conns)) * link.LateBytes(r.p.link)
	}
	stranded := r.cmd != nil && r.cmd.restarted() && r.p.link == link.KindToxiproxy &&
		(r.sc.Link.Toxiproxy == nil || r.sc.Link.Toxiproxy.Address == "")
	if stranded {
		opts.Ignore = append(opts.Ignore, link.Stranded...)
	}
	l, err := leak.Inspect(ctx, r.base, opts, probes...)
	if stranded {
		if n := countFrames(leak.Goroutines(), link.Stranded); n > 0 {
			r.warnings = append(r.warnings, fmt.Sprintf("toxiproxy stranded %d goroutines of connections whose upstream, the target process, was restarted (%s): a toxiproxy issue, left out of the leak check", n, strings.Join(link.Stranded, ", ")))
		}
	}
	if err != nil && !errors.Is(err, leak.ErrUnsupported) {
		r.errs = append(r.errs, fmt.Errorf("leak check: %w", err))
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
