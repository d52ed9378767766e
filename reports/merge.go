package reports

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// MaxShardSkew is how late a shard may start after the barrier (or after
// the earliest shard) before the merged report warns that its load did not
// overlap the others'.
const MaxShardSkew = time.Second

// Merge joins the reports of the shards of one sharded run (names are
// their files, for errors) into one report of the whole run: histograms
// merged exactly (HDR merge, not averaged percentiles), counters summed,
// per-second windows aligned on the earliest start, the timeline, fault
// windows and target-side evidence from shard 0. The result carries no
// verdicts: judge it like a single run's report. Reports of different
// runs (scenario, seed, shard count), a shard missing or given twice, or
// a report that is not a shard's are errors naming the files.
func Merge(shards []*Report, names []string) (*Report, error) {
	if len(shards) == 0 {
		return nil, errors.New("merge: no reports")
	}
	name := func(i int) string {
		if i < len(names) {
			return names[i]
		}
		return fmt.Sprintf("report %d", i+1)
	}
	byIndex := map[int]int{}
	first := shards[0].Shard
	for i, r := range shards {
		s := r.Shard
		switch {
		case s == nil:
			return nil, fmt.Errorf("merge: %s is not a shard's report (run with --shard i/n)", name(i))
		case s.Set != first.Set || s.Count != first.Count:
			return nil, fmt.Errorf("merge: %s is shard %d/%d of run %s, but %s is of run %s (%d shards): different scenario, seed, duration, client scale or shard count",
				name(i), s.Index, s.Count, s.Set, name(0), first.Set, first.Count)
		}
		if j, dup := byIndex[s.Index]; dup {
			return nil, fmt.Errorf("merge: shard %d/%d given twice: %s and %s", s.Index, s.Count, name(j), name(i))
		}
		byIndex[s.Index] = i
	}
	var missing []int
	for k := range first.Count {
		if _, ok := byIndex[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("merge: run %s has %d shards; missing shard(s) %v", first.Set, first.Count, missing)
	}
	order := make([]*Report, first.Count)
	files := make([]string, first.Count)
	for k := range first.Count {
		order[k], files[k] = shards[byIndex[k]], name(byIndex[k])
	}
	return merge(order, files)
}

// merge joins shard reports given in shard order.
func merge(shards []*Report, files []string) (*Report, error) {
	s0 := shards[0]
	out := &Report{
		Schema:      Schema,
		Scenario:    s0.Scenario,
		Seed:        s0.Seed,
		Target:      s0.Target,
		Link:        s0.Link,
		Proxy:       s0.Proxy,
		Environment: s0.Environment,
		Server:      s0.Server,
		Leaks:       mergeLeaks(shards),
	}
	out.Start, out.End = s0.Start, s0.End
	for _, r := range shards {
		if r.Start.Before(out.Start) {
			out.Start = r.Start
		}
		if r.End.After(out.End) {
			out.End = r.End
		}
		out.Interrupted = out.Interrupted || r.Interrupted
		out.DrainSeconds = max(out.DrainSeconds, r.DrainSeconds) // the slowest shard's drain is the set's
	}
	out.Elapsed = out.End.Sub(out.Start).Seconds()
	shift := func(r *Report) float64 { return r.Start.Sub(out.Start).Seconds() }
	for _, e := range s0.Events {
		e.Offset += shift(s0)
		out.Events = append(out.Events, e)
	}
	for _, f := range s0.Faults {
		f.Start += shift(s0)
		f.End += shift(s0)
		out.Faults = append(out.Faults, f)
	}
	var errs []error
	for i, r := range shards {
		sum := ShardSummary{Index: i, File: files[i], Start: r.Start, SkewSeconds: r.Shard.SkewSeconds, Resources: r.Resources, Errors: r.Errors}
		for _, g := range r.Groups {
			sum.Clients += g.Clients
		}
		out.Shards = append(out.Shards, sum)
		for _, e := range r.Errors {
			out.Errors = append(out.Errors, fmt.Sprintf("shard %d: %s", i, e))
		}
		late := r.Shard.SkewSeconds
		if r.Shard.StartAt.IsZero() {
			late = shift(r)
		}
		if late > MaxShardSkew.Seconds() {
			out.Warnings = append(out.Warnings, fmt.Sprintf("shard %d (%s) started %.2fs late: its load overlapped the others' for less than the whole run", i, files[i], late))
		}
	}
	out.Groups, errs = mergeGroups(shards, shift)
	out.Windows, errs = mergeWindows(shards, shift, errs)
	out.Backends = mergeBackends(shards, shift)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	return out, nil
}

// mergeGroups joins each group across the shards, in shard 0's order.
func mergeGroups(shards []*Report, shift func(*Report) float64) ([]Group, []error) {
	var errs []error
	var out []Group
	for gi, g0 := range shards[0].Groups {
		m := Group{Name: g0.Name, RPC: g0.RPC, StartSeconds: g0.StartSeconds, Read: g0.Read,
			Ends: map[string]uint64{}, Violations: map[string]uint64{}}
		var parts []*Group
		allOpen := 0.0
		for si, r := range shards {
			g := r.Group(g0.Name)
			if g == nil || (gi < len(r.Groups) && r.Groups[gi].Name != g0.Name) {
				errs = append(errs, fmt.Errorf("shard %d has no group %s where shard 0 has it", si, g0.Name))
				continue
			}
			parts = append(parts, g)
			m.Clients += g.Clients
			m.Connections += g.Connections
			m.Streams.Opened += g.Streams.Opened
			m.Streams.Established += g.Streams.Established
			m.Streams.Ended += g.Streams.Ended
			m.Streams.Failed += g.Streams.Failed
			m.Messages.Sent += g.Messages.Sent
			m.Messages.Received += g.Messages.Received
			m.Messages.DrainSent += g.Messages.DrainSent
			m.Messages.DrainReceived += g.Messages.DrainReceived
			m.Outages.Opened += g.Outages.Opened
			m.Outages.Recovered += g.Outages.Recovered
			m.Outages.Unrecovered += g.Outages.Unrecovered
			addCounts(m.Ends, g.Ends)
			addCounts(m.Violations, g.Violations)
			m.ConnStats = append(m.ConnStats, g.ConnStats...)
			m.Samples = append(m.Samples, g.Samples...)
			// Every client of the run had a stream at once only when
			// every shard's had, at the latest of those moments.
			if g.Clients > 0 {
				if g.AllOpenSeconds == 0 || allOpen < 0 {
					allOpen = -1
				} else {
					allOpen = max(allOpen, g.AllOpenSeconds+shift(r))
				}
			}
			m.OpenWait = mergeOpenWait(m.OpenWait, g.OpenWait)
		}
		if allOpen > 0 {
			m.AllOpenSeconds = allOpen
		}
		sort.SliceStable(m.ConnStats, func(i, j int) bool { return m.ConnStats[i].Index < m.ConnStats[j].Index })
		if len(m.Samples) > maxMergedSamples {
			m.Samples = m.Samples[:maxMergedSamples]
		}
		hist := func(pick func(*Group) *Histogram) Histogram {
			var hs []Histogram
			for _, g := range parts {
				if h := pick(g); h != nil {
					hs = append(hs, *h)
				}
			}
			h, err := MergeHistograms(hs...)
			if err != nil {
				errs = append(errs, fmt.Errorf("group %s: %w", g0.Name, err))
			}
			return h
		}
		m.Latency = hist(func(g *Group) *Histogram { return &g.Latency })
		m.StreamDuration = hist(func(g *Group) *Histogram { return &g.StreamDuration })
		m.Recovery = hist(func(g *Group) *Histogram { return &g.Recovery })
		m.LatencyCorrected = hist(func(g *Group) *Histogram { return &g.LatencyCorrected })
		if slices.ContainsFunc(parts, func(g *Group) bool { return g.Open != nil }) {
			h := hist(func(g *Group) *Histogram { return g.Open })
			m.Open = &h
		}
		if slices.ContainsFunc(parts, func(g *Group) bool { return g.Arrival != nil }) {
			a := &Arrival{}
			for _, g := range parts {
				if g.Arrival != nil {
					a.Scheduled += g.Arrival.Scheduled
					a.Started += g.Arrival.Started
					a.Dropped += g.Arrival.Dropped
					a.Unstarted += g.Arrival.Unstarted
					a.Late += g.Arrival.Late
				}
			}
			a.StartDelay = hist(func(g *Group) *Histogram {
				if g.Arrival == nil {
					return nil
				}
				return &g.Arrival.StartDelay
			})
			m.Arrival = a
		}
		out = append(out, m)
	}
	return out, errs
}

// maxMergedSamples bounds the example ends a merged group keeps.
const maxMergedSamples = 20

// mergeOpenWait joins two groups' open waits: calls and peaks add up (the
// shards waited at the same time, at worst), quantiles and the maximum
// are the larger of the two (the per-connection buckets they come from
// are not in the report).
func mergeOpenWait(a, b *OpenWait) *OpenWait {
	if b == nil {
		return a
	}
	if a == nil {
		c := *b
		return &c
	}
	return &OpenWait{PeakWaiting: a.PeakWaiting + b.PeakWaiting, Calls: a.Calls + b.Calls,
		P50MS: max(a.P50MS, b.P50MS), P99MS: max(a.P99MS, b.P99MS), MaxMS: max(a.MaxMS, b.MaxMS)}
}

func addCounts(into, from map[string]uint64) {
	for k, n := range from {
		into[k] += n
	}
}

// mergeWindows aligns every shard's windows on the earliest start and sums
// those of the same group whose ends round to the same second. A merged
// window spans from the earliest of its parts' starts to the latest of
// their ends (their real bounds, shifted onto the earliest start).
func mergeWindows(shards []*Report, shift func(*Report) float64, errs []error) ([]Window, []error) {
	type key struct {
		group  string
		second int
	}
	sums := map[key]*Window{}
	lat, corrected := map[key][]Histogram{}, map[key][]Histogram{}
	for _, r := range shards {
		for _, w := range r.Windows {
			start, end := w.Start+shift(r), w.Offset+shift(r)
			k := key{w.Group, int(math.Round(end))}
			m := sums[k]
			if m == nil {
				m = &Window{Start: start, Offset: end, Group: w.Group}
				sums[k] = m
			}
			m.Start, m.Offset = min(m.Start, start), max(m.Offset, end)
			m.Dropped += w.Dropped
			m.Saturated = m.Saturated || w.Saturated
			m.Started += w.Started
			m.Ended += w.Ended
			m.Failed += w.Failed
			m.Sent += w.Sent
			m.Received += w.Received
			m.MaxSeq = max(m.MaxSeq, w.MaxSeq)
			if len(w.Ends) > 0 {
				if m.Ends == nil {
					m.Ends = map[string]uint64{}
				}
				addCounts(m.Ends, w.Ends)
			}
			if w.Latency != nil {
				lat[k] = append(lat[k], *w.Latency)
			}
			if w.LatencyCorrected != nil {
				corrected[k] = append(corrected[k], *w.LatencyCorrected)
			}
		}
	}
	keys := slices.Collect(maps.Keys(sums))
	group := map[string]int{}
	for i, g := range shards[0].Groups {
		group[g.Name] = i
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].second != keys[j].second {
			return keys[i].second < keys[j].second
		}
		return group[keys[i].group] < group[keys[j].group]
	})
	out := make([]Window, 0, len(keys))
	for _, k := range keys {
		w := sums[k]
		for _, m := range []struct {
			from map[key][]Histogram
			to   **Histogram
		}{{lat, &w.Latency}, {corrected, &w.LatencyCorrected}} {
			if hs := m.from[k]; len(hs) > 0 {
				h, err := MergeHistograms(hs...)
				if err != nil {
					errs = append(errs, fmt.Errorf("window %s@%ds: %w", k.group, k.second, err))
				} else {
					*m.to = &h
				}
			}
		}
		out = append(out, *w)
	}
	return out, errs
}

// mergeLeaks joins the shards' leak evidence: the run is clean only when
// every shard was; the target's own view is shard 0's.
func mergeLeaks(shards []*Report) *Leaks {
	var out *Leaks
	for _, r := range shards {
		l := r.Leaks
		if l == nil {
			continue
		}
		if out == nil {
			c := *l
			c.Goroutines.Leaked = slices.Clone(l.Goroutines.Leaked)
			c.FDs.Leaked = slices.Clone(l.FDs.Leaked)
			out = &c
			continue
		}
		out.Clean = out.Clean && l.Clean
		out.SettleSeconds = max(out.SettleSeconds, l.SettleSeconds)
		out.Goroutines.Baseline += l.Goroutines.Baseline
		out.Goroutines.After += l.Goroutines.After
		out.Goroutines.Leaked = append(out.Goroutines.Leaked, l.Goroutines.Leaked...)
		out.FDs.Baseline += l.FDs.Baseline
		out.FDs.After += l.FDs.After
		out.FDs.Leaked = append(out.FDs.Leaked, l.FDs.Leaked...)
		out.Heap.BaselineBytes += l.Heap.BaselineBytes
		out.Heap.AfterBytes += l.Heap.AfterBytes
		out.Heap.BoundBytes += l.Heap.BoundBytes
		out.Heap.Exceeded = out.Heap.Exceeded || l.Heap.Exceeded
		if out.Server == nil {
			out.Server = l.Server
		}
	}
	return out
}

// MergeHistograms adds histograms together exactly: the merged
// histogram's percentiles are those of the union of the values.
func MergeHistograms(hs ...Histogram) (Histogram, error) {
	var sum *hdrhistogram.Histogram
	var clamped uint64
	for _, h := range hs {
		if h.HDR == "" && h.Count == 0 {
			continue // a histogram never recorded into (an old report's empty field)
		}
		d, err := h.Decode()
		if err != nil {
			return Histogram{}, err
		}
		clamped += h.Clamped
		if sum == nil {
			sum = d
			continue
		}
		if dropped := sum.Merge(d); dropped > 0 {
			return Histogram{}, fmt.Errorf("merge histograms: %d values outside the range", dropped)
		}
	}
	if sum == nil {
		return Histogram{}, nil
	}
	return FromHDR(sum, clamped)
}
