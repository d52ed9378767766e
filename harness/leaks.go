package harness

import (
	"context"
	"errors"
	"fmt"
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
	switch {
	case r.target != nil:
		probes = append(probes, leak.RegistryProbe(r.target.Subscribers))
	case r.address != "":
		probes = append(probes, leak.ChannelzProbe{Target: r.address})
	}
	opts := r.leakOpts
	opts.PeakGoroutines = r.resources.PeakGoroutines
	for _, g := range r.groups {
		opts.LateBytes += uint64(max(g.spec.Connections, 1)) * link.LateBytes(r.linkName)
	}
	l, err := leak.Inspect(ctx, r.base, opts, probes...)
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
