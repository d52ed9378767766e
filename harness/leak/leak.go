// Package leak proves that everything a run started has ended: goroutines
// back to a baseline, file descriptors back to a baseline, the target's own
// registries and channelz at zero, heap after GC within a bound. It is the
// evidence behind the `leaks: none` assertion, and a helper for tests that
// run a scenario twice in one process and check nothing grows.
//
// Usage:
//
//	base := leak.TakeBaseline()
//	... start the target, run clients, tear everything down ...
//	evidence := leak.Check(ctx, base, leak.Options{}, leak.RegistryProbe(srv.Subscribers))
//
// Check polls with backoff (1 ms doubling to 100 ms, like goleak) for at
// most Options.Settle, because goroutines and sockets wind down
// asynchronously after Close and Stop return.
package leak

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/streambench/streambench/harness/clock"
	"github.com/streambench/streambench/reports"
)

// Defaults for zero Options fields.
const (
	// DefaultSettle is how long Check waits for things to wind down.
	DefaultSettle = 5 * time.Second
	// DefaultHeapSlack is the fixed part of the default heap bound.
	DefaultHeapSlack = 32 << 20
	// DefaultHeapFraction is the proportional part of the default heap
	// bound: baseline/DefaultHeapFraction (10%).
	DefaultHeapFraction = 10
	// GoroutineDescriptorBytes is what the Go runtime keeps, for good, of
	// every goroutine the process ever had alive at once: it never frees a
	// goroutine's descriptor, it reuses it. Measured with Go 1.26 on
	// linux/amd64: 390–490 bytes each after 10,000–50,000 goroutines ended
	// (TestGoroutineDescriptorBytes keeps this figure honest). A 100,000
	// stream run peaks near 300,000 goroutines: ~150 MiB that is not a leak.
	GoroutineDescriptorBytes = 512
	// probeGrace is the least time the goroutine and fd check gets after
	// the last probe call, so the probes' own connections wind down.
	probeGrace = 250 * time.Millisecond
	// firstPoll and maxPoll are the polling backoff's bounds.
	firstPoll = time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// Options tune Check. The zero value is ready to use.
type Options struct {
	// Settle bounds how long Check polls for things to wind down
	// (0 = DefaultSettle).
	Settle time.Duration
	// HeapBound is the allowed growth of heap in use after GC over the
	// baseline, in bytes (0 = DefaultHeapSlack + baseline/10: 32 MiB plus
	// 10%, room for gRPC's and the runtime's caches and a report's
	// histograms).
	HeapBound uint64
	// PeakGoroutines is the most goroutines the run had alive at once. The
	// default bound grows by GoroutineDescriptorBytes for each one above
	// the baseline's count (an explicit HeapBound is used as given).
	PeakGoroutines int
	// LateBytes is heap the run's code is known to let go of only seconds
	// after teardown (closed in-memory connections' buffers, which
	// grpc-go keeps reachable for a while); the default bound grows by it.
	LateBytes uint64
	// Target, when set, is an external target's figures before load:
	// Inspect samples them again after the probes and judges their growth
	// (see Bound).
	Target *TargetBaseline
	// AfterTarget, when set, is called once the target's view (probes and
	// Target) is taken and before this process's goroutines and fds are
	// compared: the harness stops a command target's process there, whose
	// watchers and output pipes are its own.
	AfterTarget func()
	// Ignore are function-name prefixes: a goroutine with any frame (or
	// its creator) starting with one of them is not a leak, e.g. the
	// harness's own long-lived goroutines.
	Ignore []string
}

func (o Options) settle() time.Duration {
	if o.Settle > 0 {
		return o.Settle
	}
	return DefaultSettle
}

func (o Options) heapBound(b Baseline) uint64 {
	if o.HeapBound > 0 {
		return o.HeapBound
	}
	descriptors := uint64(max(o.PeakGoroutines-b.count, 0)) * GoroutineDescriptorBytes
	return DefaultHeapSlack + b.heap/DefaultHeapFraction + descriptors + o.LateBytes
}

// Baseline is the state of the process before a run: which goroutines
// exist, which file descriptors are open, how much heap is in use.
type Baseline struct {
	goroutines map[int64]bool
	count      int
	fds        map[int]string // nil when fds are unavailable
	heap       uint64
}

// TakeBaseline records the process's goroutines, open file descriptors
// (/proc/self/fd; unavailable elsewhere) and heap in use after GC. Take it
// before the target and the clients start.
func TakeBaseline() Baseline {
	initPoller()
	b := Baseline{goroutines: map[int64]bool{}}
	for _, g := range Goroutines() {
		b.goroutines[g.ID] = true
	}
	b.count = len(b.goroutines)
	if fds, err := openFDs(); err == nil {
		b.fds = fds
	}
	b.heap = heapAfterGC()
	return b
}

// Goroutines is how many goroutines existed at the baseline.
func (b Baseline) Goroutines() int { return b.count }

// FDs is how many file descriptors were open at the baseline (-1 when not
// available on this platform).
func (b Baseline) FDs() int {
	if b.fds == nil {
		return -1
	}
	return len(b.fds)
}

// HeapBytes is heap in use after GC at the baseline.
func (b Baseline) HeapBytes() uint64 { return b.heap }

// heapAfterGC returns HeapAlloc (bytes of reachable heap objects) after two
// full collections: the second empties sync.Pool victim caches, which
// survive one. HeapAlloc rather than HeapInuse: HeapInuse counts whole
// spans and moves with fragmentation, HeapAlloc after GC is the live data.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Check polls until the goroutines and file descriptors are back to base
// and every probe reports zero, or Settle expires or ctx ends, then fills
// the evidence: leaked goroutines grouped by identifying function (count
// and one full stack each), leaked descriptors with their targets, heap
// after GC against its bound, and the probes' view (summed when there are
// several). Clean is true when nothing leaked. See Inspect for probe
// errors.
func Check(ctx context.Context, base Baseline, opts Options, probes ...Probe) *reports.Leaks {
	l, _ := Inspect(ctx, base, opts, probes...)
	return l
}

// Inspect is Check that also returns the probes' errors: a probe that never
// answered makes the evidence unclean (nothing proves the target clean)
// and its last error is returned; a probe whose error wraps ErrUnsupported
// is left out (its error is returned too, the evidence can still be clean).
// A cancelled ctx ends the polling early and is returned as well.
func Inspect(ctx context.Context, base Baseline, opts Options, probes ...Probe) (*reports.Leaks, error) {
	start := time.Now()
	deadline := start.Add(opts.settle())
	var errs []error

	// Phase 1: the target's view. Probes dial and close connections of
	// their own, so they are polled before the goroutines and fds are.
	server, probeErrs, unchecked := pollProbes(ctx, deadline, probes)
	errs = append(errs, probeErrs...)
	target := pollTarget(ctx, deadline, opts.Target)
	if opts.AfterTarget != nil {
		opts.AfterTarget()
	}

	// Phase 2: goroutines and fds, with at least probeGrace to let the
	// probes' connections end.
	if len(probes) > 0 {
		if min := time.Now().Add(probeGrace); min.After(deadline) {
			deadline = min
		}
	}
	var (
		leaked []Goroutine
		after  int
		fds    map[int]string
		fdErr  error
	)
	delay := firstPoll
	for {
		leaked, after = newGoroutines(base, opts.Ignore)
		fds, fdErr = openFDs()
		clean := len(leaked) == 0 && (base.fds == nil || fdErr != nil || len(newFDs(base.fds, fds)) == 0)
		if clean || !sleep(ctx, deadline, &delay) {
			break
		}
	}
	settled := time.Since(start)

	l := &reports.Leaks{SettleSeconds: settled.Seconds(), Server: server, Unchecked: unchecked, Target: target}
	l.Goroutines = reports.GoroutineLeaks{Baseline: base.count, After: after, Leaked: group(leaked)}
	l.FDs = reports.FDLeaks{Baseline: -1, After: -1}
	if base.fds != nil && fdErr == nil {
		l.FDs = reports.FDLeaks{Baseline: len(base.fds), After: len(fds), Leaked: newFDs(base.fds, fds)}
	}
	// The heap is polled too: grpc-go lets go of a closed connection's
	// buffers only seconds after Close.
	bound := opts.heapBound(base)
	heap := heapAfterGC()
	for heap > base.heap && heap-base.heap > bound && sleep(ctx, deadline, &delay) {
		heap = heapAfterGC()
	}
	l.Heap = reports.HeapCheck{
		BaselineBytes: base.heap, AfterBytes: heap, BoundBytes: bound,
		Exceeded: heap > base.heap && heap-base.heap > bound,
	}
	l.Clean = len(l.Goroutines.Leaked) == 0 && len(l.FDs.Leaked) == 0 && !l.Heap.Exceeded && len(unchecked) == 0 &&
		(server == nil || (server.Subscribers == 0 && server.InFlightCalls == 0 && server.Sockets == 0)) &&
		(target == nil || !target.Leaked)
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("leak check: %w", err))
	}
	return l, errors.Join(errs...)
}

// pollProbes polls the probes until all report zero or the deadline. It
// returns their summed last answers (nil when no probe answered), the
// errors of probes that never answered or are unsupported, and what the
// supported probes that never answered said (their last error), for the
// report.
func pollProbes(ctx context.Context, deadline time.Time, probes []Probe) (*reports.ServerLeaks, []error, []string) {
	if len(probes) == 0 {
		return nil, nil, nil
	}
	last := make([]*reports.ServerLeaks, len(probes))
	lastErr := make([]error, len(probes))
	skip := make([]bool, len(probes))
	delay := firstPoll
	for {
		zero := true
		for i, p := range probes {
			if skip[i] {
				continue
			}
			pctx, cancel := context.WithDeadline(ctx, later(deadline, time.Now().Add(time.Second)))
			s, err := p.Probe(pctx)
			cancel()
			switch {
			case errors.Is(err, ErrUnsupported):
				skip[i], lastErr[i], last[i] = true, err, nil
			case err != nil:
				lastErr[i], zero = err, false
			default:
				last[i], lastErr[i] = &s, nil
				zero = zero && s.Subscribers == 0 && s.InFlightCalls == 0 && s.Sockets == 0
			}
		}
		if zero || !sleep(ctx, deadline, &delay) {
			break
		}
	}
	var (
		sum       *reports.ServerLeaks
		errs      []error
		unchecked []string
	)
	var sources []string
	for i := range probes {
		if lastErr[i] != nil {
			errs = append(errs, lastErr[i])
		}
		if last[i] == nil {
			if !skip[i] {
				why := "no answer"
				if lastErr[i] != nil {
					why = lastErr[i].Error()
				}
				unchecked = append(unchecked, why)
			}
			continue
		}
		if sum == nil {
			sum = &reports.ServerLeaks{}
		}
		s := last[i]
		if !contains(sources, s.Source) {
			sources = append(sources, s.Source)
		}
		sum.Subscribers += s.Subscribers
		sum.InFlightCalls += s.InFlightCalls
		sum.Sockets += s.Sockets
	}
	if sum != nil {
		sum.Source = strings.Join(sources, "+")
	}
	return sum, errs, unchecked
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// sleep waits *delay (capped by the deadline) and doubles *delay up to
// maxPoll. It returns false, without sleeping, once the deadline passed or
// ctx ended.
func sleep(ctx context.Context, deadline time.Time, delay *time.Duration) bool {
	left := time.Until(deadline)
	if left <= 0 || ctx.Err() != nil {
		return false
	}
	d := min(*delay, left)
	*delay = min(2**delay, maxPoll)
	return clock.Sleep(ctx, d)
}

// newGoroutines returns the goroutines that did not exist at the baseline,
// leaving out the caller's own, those matching ignore and those of the
// runtime itself, and the total count of goroutines now.
func newGoroutines(base Baseline, ignore []string) ([]Goroutine, int) {
	all := Goroutines()
	var out []Goroutine
	for i, g := range all {
		if i == 0 || base.goroutines[g.ID] || ignored(g, ignore) {
			continue // runtime.Stack lists the calling goroutine first
		}
		out = append(out, g)
	}
	return out, len(all)
}

// defaultIgnore are goroutines the runtime and standard library start on
// demand and keep: they are not the run's.
var defaultIgnore = []string{
	"os/signal.signal_recv",
	"os/signal.loop",
	"runtime.ensureSigM",
}

func ignored(g Goroutine, ignore []string) bool {
	if strings.HasPrefix(g.CreatedBy, "runtime.") || strings.HasPrefix(g.CreatedBy, "os/signal.") {
		return true
	}
	all := true
	for _, f := range g.Frames {
		if hasAnyPrefix(f, ignore) || hasAnyPrefix(f, defaultIgnore) {
			return true
		}
		all = all && pkgPath(f) == "runtime"
	}
	if g.CreatedBy != "" && hasAnyPrefix(g.CreatedBy, ignore) {
		return true
	}
	return all && len(g.Frames) > 0 // a runtime-only stack (GC workers with GOTRACEBACK=system)
}

// group groups goroutines by identifying function: count and the stack of
// the oldest one, largest groups first.
func group(gs []Goroutine) []reports.LeakedFunction {
	if len(gs) == 0 {
		return nil
	}
	byFn := map[string]*reports.LeakedFunction{}
	oldest := map[string]int64{}
	var order []string
	for _, g := range gs {
		lf := byFn[g.Function]
		if lf == nil {
			lf = &reports.LeakedFunction{Function: g.Function}
			byFn[g.Function] = lf
			order = append(order, g.Function)
		}
		lf.Count++
		if id, ok := oldest[g.Function]; !ok || g.ID < id {
			oldest[g.Function] = g.ID
			lf.Stack = g.Stack
		}
	}
	out := make([]reports.LeakedFunction, 0, len(order))
	for _, fn := range order {
		out = append(out, *byFn[fn])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Function < out[j].Function
	})
	return out
}

// Error is Wait's error: the evidence of what did not end.
type Error struct {
	Leaks *reports.Leaks
}

// Error summarises the evidence on one line per kind of leak.
func (e *Error) Error() string { return "leak check: " + Describe(e.Leaks) }

// Wait is Check for tests: nil when everything ended within Settle (and
// the heap stayed within its bound), else an *Error with the evidence (and
// any probe error joined to it).
func Wait(ctx context.Context, base Baseline, opts Options, probes ...Probe) error {
	l, err := Inspect(ctx, base, opts, probes...)
	if l.Clean {
		return err
	}
	return errors.Join(&Error{Leaks: l}, err)
}

// Describe renders evidence as text: "none" when clean, else one line per
// leak with the stacks of leaked goroutines.
func Describe(l *reports.Leaks) string {
	if l == nil {
		return "no evidence"
	}
	if l.Clean {
		return fmt.Sprintf("none (settled in %.3fs, heap %+d bytes)", l.SettleSeconds, int64(l.Heap.AfterBytes)-int64(l.Heap.BaselineBytes))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "not settled after %.3fs", l.SettleSeconds)
	if n := len(l.Goroutines.Leaked); n > 0 {
		fmt.Fprintf(&b, "\n  goroutines: %d at baseline, %d after", l.Goroutines.Baseline, l.Goroutines.After)
		for _, f := range l.Goroutines.Leaked {
			fmt.Fprintf(&b, "\n    %d x %s", f.Count, f.Function)
		}
	}
	if len(l.FDs.Leaked) > 0 {
		fmt.Fprintf(&b, "\n  file descriptors: %d at baseline, %d after", l.FDs.Baseline, l.FDs.After)
		for _, fd := range l.FDs.Leaked {
			fmt.Fprintf(&b, "\n    %s", fd)
		}
	}
	if l.Heap.Exceeded {
		fmt.Fprintf(&b, "\n  heap after GC: %d bytes, baseline %d, bound +%d", l.Heap.AfterBytes, l.Heap.BaselineBytes, l.Heap.BoundBytes)
	}
	if s := l.Server; s != nil {
		fmt.Fprintf(&b, "\n  server (%s): %d subscribers, %d calls in flight, %d sockets", s.Source, s.Subscribers, s.InFlightCalls, s.Sockets)
	}
	for _, line := range l.Target.Grown() {
		fmt.Fprintf(&b, "\n  target %s", line)
	}
	for _, f := range l.Goroutines.Leaked {
		fmt.Fprintf(&b, "\n\n%d x %s, e.g.:\n%s", f.Count, f.Function, f.Stack)
	}
	return b.String()
}
