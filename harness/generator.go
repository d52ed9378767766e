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

// Generator saturation. A group's window is marked generator_saturated
// when the generator's scheduling delay or oversleep p99 is at least
// genMarkFloor and at least reports.SaturatedShare of the window's latency
// p99: streambench's own waiting is then a large share of what it
// measured. A run gets one warning when at least genSlowShare of its
// duration's cuts (and genSlowMin) had a marked window. Measured on 2 cores
// in .ci/run, alone (p99 per window, median/max): a quiet run of 500
// subscribers, scheduling 2.6/6.3 ms, oversleep 1.5/2.2 ms (the timer's
// own slack here; a second run had three windows of 5.2–7.3 ms, the
// subscribers' opening burst among them, against a latency p99 of 6–10 ms
// — hence a floor above them); smoke.yaml 2.6/10.5 and 2.6/3.1 ms;
// network.yaml 0.26/0.79 and 1.3/2.6 ms, where Sum's latency p99 is 1.2 ms;
// fanout.yaml's 5,000 subscribers 25/59 ms against a latency p99 of 46 ms:
// each second's burst queues every goroutine, the builtin server's and the
// clients', for the process's two processors. Beside GOMAXPROCS+1 spinning
// goroutines (TestGeneratorSaturationWarned) every window is marked.
const (
	genMarkFloor = 10 * time.Millisecond
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
// a bottleneck of what it measured in enough of the run's cuts (those of
// its duration: a cut with a group window marked generator_saturated), or
// nothing.
func genWarning(ws []reports.GeneratorWindow, windows []reports.Window, duration float64) string {
	marked := map[float64]bool{}
	for _, w := range windows {
		if w.Saturated && w.Offset <= duration+0.5 {
			marked[w.Offset] = true
		}
	}
	var slow, all int
	var worstHiccup, worstSched float64
	for _, w := range ws {
		if w.Offset > duration+0.5 {
			continue // the drain
		}
		all++
		if marked[w.Offset] {
			slow++
			worstHiccup, worstSched = max(worstHiccup, w.HiccupP99MS), max(worstSched, w.SchedP99MS)
		}
	}
	if slow < genSlowMin || float64(slow) < genSlowShare*float64(all) {
		return ""
	}
	return fmt.Sprintf("streambench's own process was a bottleneck of what it measured in %d of %d windows: its goroutines "+
		"waited up to %.1f ms (p99 of a window) for a processor and a 1 ms timer overslept by up to %.1f ms, at least half "+
		"the latency p99 of the windows marked generator_saturated, so those latency, recovery and delivery figures "+
		"include streambench's own waiting (with a builtin target, its server's too: it shares the process); run fewer "+
		"clients, on a quieter machine, or shard the run (--shard)", slow, all, worstSched, worstHiccup)
}
