package render

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/format"
)

// WriteSummary writes a human summary of r: a table per group, how streams
// ended, and every verdict.
func WriteSummary(w io.Writer, r *reports.Report) {
	took := fmt.Sprintf("%.1fs", r.Elapsed)
	if r.DrainSeconds > 0 {
		// Rates are over the load; the drain is told apart.
		took += fmt.Sprintf(" (load %.1fs, drain %.1fs)", r.LoadSeconds(), r.DrainSeconds)
	}
	fmt.Fprintf(w, "\n%s — seed %d, %s, target %s over %s\n", r.Scenario.Name, r.Seed, took, r.Target, r.Link)
	writeShards(w, r)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\trpc\tclients\tstreams\tfailed\tmsgs\tmsgs/s\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, g := range r.Groups {
		rate, _ := r.LoadRate(&g)
		l := g.Latency
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n",
			g.Name, g.RPC, g.Clients, g.Streams.Opened, g.Streams.Failed, g.Messages.Received, rate,
			format.MS(l.P50MS, l.Count), format.MS(l.P90MS, l.Count), format.MS(l.P99MS, l.Count), format.MS(l.P999MS, l.Count), format.MS(l.MaxMS, l.Count))
	}
	tw.Flush()

	for _, g := range r.Groups {
		ends := formatCounts(g.Ends)
		viol := formatCounts(g.Violations)
		line := fmt.Sprintf("  %s ends: %s", g.Name, ends)
		if viol != "" {
			line += "; violations: " + viol
		}
		fmt.Fprintln(w, line)
		if m := g.Messages; m.DrainReceived > 0 || m.DrainSent > 0 {
			fmt.Fprintf(w, "  %s drain: %d received, %d sent in the %.1fs after the stop (not in msgs/s)\n", g.Name, m.DrainReceived, m.DrainSent, r.DrainSeconds)
		}
		if c := g.Covers; c != nil {
			h := c.WriteToWatch
			fmt.Fprintf(w, "  %s write→watch latency (ack to group %s → the watcher's receipt): p50 %s, p99 %s, max %s over %d events; %d writes, %d missing, %d duplicates, %d reorders\n",
				g.Name, c.Group, format.MS(h.P50MS, h.Count), format.MS(h.P99MS, h.Count), format.MS(h.MaxMS, h.Count), h.Count, c.Writes, c.Missing, c.Duplicates, c.Reorders)
		}
		if a := g.Arrival; a != nil {
			fmt.Fprintf(w, "  %s arrival: %d slots, %d started (%d late > 10ms), %d dropped, %d unstarted; start delay p99 %s\n",
				g.Name, a.Scheduled, a.Started, a.Late, a.Dropped, a.Unstarted, format.MS(a.StartDelay.P99MS, a.StartDelay.Count))
		}
		if g.Outages.Opened > 0 {
			writeOutages(w, g)
		}
		if c := g.LatencyCorrected; c.Count > 0 {
			line := fmt.Sprintf("  %s latency corrected (from intended send): p50 %s, p99 %s, max %s",
				g.Name, format.MS(c.P50MS, c.Count), format.MS(c.P99MS, c.Count), format.MS(c.MaxMS, c.Count))
			if first, last, ok := correctedTrend(r, g.Name); ok {
				line += fmt.Sprintf("; p99 per second %s (first) → %s (last)", format.MS(first.P99MS, first.Count), format.MS(last.P99MS, last.Count))
			}
			fmt.Fprintln(w, line)
		}
	}

	for _, f := range r.Faults {
		line := fmt.Sprintf("  %s %.1fs–%.1fs: ", f.Name, f.Start, f.End)
		if ends := formatCounts(f.Ends); ends != "" {
			line += "caused " + ends
		} else {
			line += "caused no stream end"
		}
		if len(f.Overlaps) > 0 {
			line += "; overlaps " + strings.Join(f.Overlaps, ", ")
		}
		fmt.Fprintln(w, line)
	}
	for _, l := range backendLines(r) {
		fmt.Fprintln(w, "  "+l)
	}
	if res := r.Resources; res != nil && res.PeakStreams > 0 {
		fmt.Fprintf(w, "  resources at peak: %d streams open, heap %.1f MiB (%.1f KiB/stream), %d goroutines (%.2f/stream)\n",
			res.PeakStreams, float64(res.PeakHeapBytes)/(1<<20), res.HeapPerStreamBytes/1024, res.PeakGoroutines, res.GoroutinesPerStream)
		if res.PeakStackBytes > 0 {
			fmt.Fprintf(w, "  goroutine stacks at peak: %.1f MiB (%.1f KiB/stream)\n", float64(res.PeakStackBytes)/(1<<20), res.StackPerStreamBytes/1024)
		}
	}
	if s := r.Sampler; s != nil && (s.OffWindows > 0 || s.SaturatedWindows > 0) {
		fmt.Fprintf(w, "  windows: %d of %d cut more than 10%% off the second (late up to %.0f ms); %d group windows marked generator_saturated\n",
			s.OffWindows, s.Cuts, s.LateMaxMS, s.SaturatedWindows)
	}
	for _, g := range r.Groups {
		writeOpening(w, g)
	}
	if len(r.Assertions) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\tassertion\texpected\tactual\t")
		for _, v := range r.Assertions {
			mark := "PASS"
			if !v.Pass {
				mark = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", mark, v.Name, v.Expected, v.Actual)
		}
		tw.Flush()
		for _, v := range r.Assertions {
			if !v.Pass && v.Detail != "" {
				fmt.Fprintf(w, "  %s: %s\n", v.Name, v.Detail)
			}
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "ERROR %s\n", e)
	}
	fmt.Fprintln(w)
	switch {
	case r.Interrupted:
		fmt.Fprintln(w, "INTERRUPTED: partial report")
	case r.Passed:
		fmt.Fprintf(w, "PASSED: %d/%d assertions\n", len(r.Assertions), len(r.Assertions))
	default:
		fmt.Fprintf(w, "FAILED: %d/%d assertions failed", len(r.Failed()), len(r.Assertions))
		if len(r.Errors) > 0 {
			fmt.Fprintf(w, ", %d harness errors", len(r.Errors))
		}
		fmt.Fprintln(w)
	}
}

func formatCounts(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// writeOpening prints how a group's streams got established: when all were,
// how long each took, the wait for a stream slot, and the spread between
// connections.
func writeOpening(w io.Writer, g reports.Group) {
	if g.AllOpenSeconds > 0 {
		fmt.Fprintf(w, "  %s: all %d clients had a stream established %.2fs after the start\n", g.Name, g.Clients, g.AllOpenSeconds)
	}
	if o := g.Open; o != nil && o.Count > 0 {
		line := fmt.Sprintf("  %s open: %d established, p50 %s, p99 %s, max %s", g.Name, o.Count,
			format.MS(o.P50MS, o.Count), format.MS(o.P99MS, o.Count), format.MS(o.MaxMS, o.Count))
		if ow := g.OpenWait; ow != nil {
			line += fmt.Sprintf("; in the open call (stream slot, connection) p99 %s, max %s, up to %d waiting at once",
				format.MS(ow.P99MS, int64(ow.Calls)), format.MS(ow.MaxMS, int64(ow.Calls)), ow.PeakWaiting)
		}
		fmt.Fprintln(w, line)
	}
	if len(g.ConnStats) > 1 {
		lo, hi := g.ConnStats[0], g.ConnStats[0]
		for _, c := range g.ConnStats[1:] {
			if c.P99MS < lo.P99MS {
				lo = c
			}
			if c.P99MS > hi.P99MS {
				hi = c
			}
		}
		if lo.P99MS == hi.P99MS {
			fmt.Fprintf(w, "  %s per connection (%d): latency p99 %s on every one\n", g.Name, len(g.ConnStats), format.MS(hi.P99MS, int64(hi.Messages)))
			return
		}
		fmt.Fprintf(w, "  %s per connection (%d): latency p99 from %s (conn %d) to %s (conn %d)\n", g.Name, len(g.ConnStats),
			format.MS(lo.P99MS, int64(lo.Messages)), lo.Index, format.MS(hi.P99MS, int64(hi.Messages)), hi.Index)
	}
}

// writeShards says which shard a report is, or which shards a merged one
// joins, and any warning.
func writeShards(w io.Writer, r *reports.Report) {
	if s := r.Shard; s != nil {
		fmt.Fprintf(w, "shard %d/%d of run %s", s.Index, s.Count, s.Set)
		if !s.StartAt.IsZero() {
			fmt.Fprintf(w, ", started %+.3fs from the barrier", s.SkewSeconds)
		}
		fmt.Fprintln(w, "; its assertions are judged on the merged report (streambench merge)")
	}
	if len(r.Shards) > 0 {
		fmt.Fprintf(w, "merged from %d shards:", len(r.Shards))
		for _, s := range r.Shards {
			fmt.Fprintf(w, " %d (%d clients, %+.3fs)", s.Index, s.Clients, s.SkewSeconds)
		}
		fmt.Fprintln(w)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "WARNING %s\n", warn)
	}
}

// writeOutages prints a group's outages: how many got back to live and
// how long that took, beside the time to the first message after a break.
func writeOutages(w io.Writer, g reports.Group) {
	o := g.Outages
	fmt.Fprintf(w, "  %s outages: %d, %d back to live, %d not back (%d receiving only stale messages)",
		g.Name, o.Opened, o.Recovered, o.Unrecovered, o.Resumed-min(o.Resumed, o.Recovered))
	if f := g.Freshness; f != nil {
		fmt.Fprintf(w, "; freshness bound %s", format.MS(f.BoundMS, 1))
		if !f.Explicit {
			fmt.Fprintf(w, " (max(%g × p99 %s before the first outage, %s))", f.Factor, format.MS(f.BaselineMS, 1), format.MS(f.FloorMS, 1))
		}
	}
	fmt.Fprintln(w)
	r, first := g.Recovery, g.RecoveryFirst
	fmt.Fprintf(w, "  %s recovery: back to live p50 %s, p99 %s, max %s; first message p50 %s, p99 %s, max %s\n", g.Name,
		format.MS(r.P50MS, r.Count), format.MS(r.P99MS, r.Count), format.MS(r.MaxMS, r.Count), format.MS(first.P50MS, first.Count), format.MS(first.P99MS, first.Count), format.MS(first.MaxMS, first.Count))
}

// correctedTrend returns a group's first and last per-second corrected
// latency: far apart when the schedule ran away from the target.
func correctedTrend(r *reports.Report, group string) (first, last *reports.Histogram, ok bool) {
	for _, w := range r.Windows {
		if w.Group != group || w.LatencyCorrected == nil || w.LatencyCorrected.Count == 0 {
			continue
		}
		if first == nil {
			first = w.LatencyCorrected
		}
		last = w.LatencyCorrected
	}
	return first, last, first != nil && first != last
}
