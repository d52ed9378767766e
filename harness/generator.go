package harness

import (
	"fmt"
	"math"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/reports"
)

// The generator's own health, window by window: how long its goroutines
// waited for a processor (Go's scheduler, which the operating system's
// run-queue figures cannot see: a goroutine waiting for one of two Ps is
// not a thread waiting for a CPU), how long they waited on locks, and how
// far a 1 ms sleeper overslept (a hiccup meter, as jHiccup's: it sees both
// schedulers at once).
const (
	schedLatencies = "/sched/latencies:seconds"
	mutexWait      = "/sync/mutex/wait/total:seconds"
	// hiccupTick is the hiccup meter's sleep.
	hiccupTick = time.Millisecond
)

// Generator saturation: a window's hiccup or scheduling p99 at least
// genSlowP99 makes it a slow window for the generator, and a run whose
// slow windows are at least genSlowShare of its windows (and genSlowMin)
// gets one warning. Measured on 2 cores (go test, no -race): smoke.yaml
// alone had hiccup p99 0.1–1.1 ms and scheduling p99 0.03–0.5 ms a
// window; beside two busy processes (yes > /dev/null), hiccup p99 4–12 ms.
const (
	genSlowP99   = 5 * time.Millisecond
	genSlowShare = 0.3
	genSlowMin   = 3
)

// genMeter measures the generator's own health. The cutter calls cut at
// each window's end; the merger turns the cut into a report window.
type genMeter struct {
	now func() time.Time
	// samples are read at each cut; prev holds the previous cut's.
	samples []metrics.Sample
	// hiccups: the sleeper records into active; cut swaps it with spare.
	mu             sync.Mutex
	active         *hdrhistogram.Histogram
	stop, finished chan struct{}
	closeOnce      sync.Once
	// base is the runtime's figures when the meter started: the first
	// window's are taken against it, not against the process's start.
	base genCut
}

// genCut is one window's raw readings.
type genCut struct {
	sched   []uint64 // cumulative bucket counts
	buckets []float64
	mutex   float64 // cumulative seconds
	hiccups *hdrhistogram.Histogram
}

func newGenMeter(now func() time.Time) *genMeter {
	return &genMeter{
		now:     now,
		samples: []metrics.Sample{{Name: schedLatencies}, {Name: mutexWait}},
		active:  record.NewHistogram(),
	}
}

// start reads the runtime's figures as the first window's base and runs
// the hiccup sleeper until close.
func (g *genMeter) start() {
	g.base.hiccups = record.NewHistogram()
	g.cut(&g.base)
	g.base.hiccups = nil
	g.stop, g.finished = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(g.finished)
		t := time.NewTimer(hiccupTick)
		defer t.Stop()
		for {
			at := time.Now()
			t.Reset(hiccupTick)
			select {
			case <-g.stop:
				return
			case <-t.C:
			}
			over := time.Since(at) - hiccupTick
			g.mu.Lock()
			_ = g.active.RecordValue(min(max(int64(over/time.Microsecond), record.LowestUS), record.HighestUS))
			g.mu.Unlock()
		}
	}()
}

// close stops the sleeper and waits for it; it may be called again.
func (g *genMeter) close() {
	g.closeOnce.Do(func() {
		if g.stop != nil {
			close(g.stop)
			<-g.finished
		}
	})
}

// cut reads the runtime's figures and takes the sleeper's window into c
// (c.hiccups must be an empty histogram; it is replaced by the window's).
func (g *genMeter) cut(c *genCut) {
	metrics.Read(g.samples)
	if v := g.samples[0].Value; v.Kind() == metrics.KindFloat64Histogram {
		h := v.Float64Histogram()
		c.sched = append(c.sched[:0], h.Counts...)
		c.buckets = h.Buckets
	}
	if v := g.samples[1].Value; v.Kind() == metrics.KindFloat64 {
		c.mutex = v.Float64()
	}
	g.mu.Lock()
	g.active, c.hiccups = c.hiccups, g.active
	g.mu.Unlock()
}

// window turns the cut c, against the previous cut prev, into the report's
// window [start, end] (seconds). It resets c's hiccup histogram for reuse.
func (g *genMeter) window(prev, c *genCut, start, end float64) reports.GeneratorWindow {
	w := reports.GeneratorWindow{Start: start, Offset: end, MutexWaitMS: max(c.mutex-prev.mutex, 0) * 1e3}
	if len(c.sched) > 0 && len(prev.sched) == len(c.sched) {
		w.SchedP99MS, w.SchedMaxMS = bucketQuantiles(c.sched, prev.sched, c.buckets)
	} else if len(c.sched) > 0 {
		w.SchedP99MS, w.SchedMaxMS = bucketQuantiles(c.sched, nil, c.buckets)
	}
	if h := c.hiccups; h != nil && h.TotalCount() > 0 {
		w.Hiccups = uint64(h.TotalCount())
		w.HiccupP99MS = float64(h.ValueAtQuantile(99)) / 1e3
		w.HiccupMaxMS = float64(h.Max()) / 1e3
		h.Reset()
	}
	return w
}

// bucketQuantiles returns the p99 and the maximum (ms) of the counts
// recorded between two cumulative readings of a runtime/metrics histogram,
// each as the upper bound of its bucket (the lower bound for the last,
// unbounded one).
func bucketQuantiles(now, before []uint64, buckets []float64) (p99, maxMS float64) {
	var total uint64
	for i, n := range now {
		if before != nil {
			n -= before[i]
		}
		total += n
	}
	if total == 0 {
		return 0, 0
	}
	rank := uint64(math.Ceil(0.99 * float64(total)))
	var seen uint64
	upper := func(i int) float64 {
		if u := buckets[i+1]; !math.IsInf(u, 1) {
			return u * 1e3
		}
		return buckets[i] * 1e3
	}
	for i, n := range now {
		if before != nil {
			n -= before[i]
		}
		if n == 0 {
			continue
		}
		seen += n
		if p99 == 0 && seen >= rank {
			p99 = upper(i)
		}
		maxMS = upper(i)
	}
	return p99, maxMS
}

// genWarning says once, with figures, that streambench's own process was
// the bottleneck in enough of the run's windows (those of its duration),
// or nothing.
func genWarning(ws []reports.GeneratorWindow, duration float64) string {
	var slow, all int
	var worstHiccup, worstSched float64
	for _, w := range ws {
		if w.Offset > duration+0.5 {
			continue // the drain
		}
		all++
		p := max(w.HiccupP99MS, w.SchedP99MS)
		if p >= float64(genSlowP99)/float64(time.Millisecond) {
			slow++
		}
		worstHiccup, worstSched = max(worstHiccup, w.HiccupP99MS), max(worstSched, w.SchedP99MS)
	}
	if slow < genSlowMin || float64(slow) < genSlowShare*float64(all) {
		return ""
	}
	return fmt.Sprintf("streambench's own process was a bottleneck in %d of %d windows: a 1 ms timer overslept by up to "+
		"%.1f ms (p99 of a window) and goroutines waited up to %.1f ms (p99) for a processor, so latency, recovery and "+
		"delivery figures include streambench's own waiting; windows where that is a large share of the latency are "+
		"marked generator_saturated; run fewer clients, on a quieter machine, or shard the run (--shard)",
		slow, all, worstHiccup, worstSched)
}
