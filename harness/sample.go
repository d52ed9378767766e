package harness

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/reports"
)

// sampling is what the sampler measures while the run goes on.
type sampling struct {
	resources reports.Resources
	resMu     sync.Mutex // guards resources until the run's end
	sat       saturation // touched by the sampler only
	windows   []reports.Window
	live      liveFaults // the faults Progress shows (the sampler's)
	mlive     liveFaults // the faults the live metrics show (livemetrics.go)
	// bk counts per backend behind a balancing link (nil otherwise), and
	// bkWindows are its per-second figures (backends.go).
	bk        *backendStats
	bkWindows []reports.BackendWindow
	// gen measures streambench's own process (generator.go); genWindows
	// are its windows and cutLate how late each cut ran.
	gen        *genMeter
	genWindows []reports.GeneratorWindow
	cutLate    []time.Duration
	cutMax     time.Duration
	offWindows int
}

// samplePeriod is how long a window lasts.
const samplePeriod = time.Second

// cutBatch is one window of every group, cut at one moment.
type cutBatch struct {
	// start and end bound the window: end is the moment of the cut, start
	// the previous cut's end.
	start, end time.Time
	late       time.Duration // end behind its deadline
	took       time.Duration // how long the cut took
	// running: the run's duration still lasted at the cut.
	running bool
	final   bool
	cuts    []record.Cut // one per group, in r.groups order
	dropped []int        // open-loop slots dropped so far, per group
	bk      []reports.BackendWindow
	bkTotal []snapshot
	gen     genCut
}

// cutter cuts every group's window at absolute deadlines (the run's start
// + k × samplePeriod) and hands each cut to the merger on out, until done
// closes: then it cuts the last window and closes out. It does nothing
// else, so that a saturated machine delays it as little as possible: a
// goroutine that a timer wakes runs next on its processor, while one that
// works long is preempted to the back of the run queue, behind every
// client (at 100,000 subscribers the first window ended 9.7 s late when
// the sampler also merged). A deadline missed by a whole period is
// skipped: the window is longer, and says so.
func (r *run) cutter(done, stop <-chan struct{}, out chan<- *cutBatch, free <-chan *cutBatch) {
	defer close(out)
	timer := time.NewTimer(samplePeriod)
	defer timer.Stop()
	prev := r.start
	due := r.start.Add(samplePeriod)
	for {
		final := false
		select {
		case <-done:
			final = true
		case <-timer.C:
		}
		var b *cutBatch
		select {
		case b = <-free:
		default:
			b = &cutBatch{cuts: make([]record.Cut, len(r.groups)), dropped: make([]int, len(r.groups)), gen: genCut{hiccups: record.NewHistogram()}}
		}
		now := r.cutAll(b)
		b.took = r.cfg.now().Sub(now)
		b.start, b.end, b.final = prev, now, final
		b.late = max(now.Sub(due), 0)
		select {
		case <-stop:
		default:
			b.running = true
		}
		prev = now
		out <- b
		if final {
			return
		}
		for !due.After(now) {
			due = due.Add(samplePeriod)
		}
		timer.Reset(due.Sub(r.cfg.now()))
	}
}

// cutAll cuts every group's recorder, the backends and the generator's
// meter into b, and returns the moment of the cut.
func (r *run) cutAll(b *cutBatch) time.Time {
	now := r.cfg.now()
	for i, g := range r.groups {
		g.rec.Cut(&b.cuts[i])
		if o := g.open; o != nil {
			_, b.dropped[i] = o.slots.Tally(min(o.offset(), o.end))
		}
	}
	b.bk, b.bkTotal = nil, nil
	if r.bk != nil {
		b.bk, b.bkTotal = r.bk.window(now.Sub(r.start).Seconds())
	}
	if r.gen != nil {
		r.gen.cut(&b.gen)
	}
	return now
}

// sample merges the cutter's windows and reports progress until the
// cutter closes cuts. Each batch goes back to free for the cutter.
func (r *run) sample(cuts <-chan *cutBatch, free chan<- *cutBatch, stop context.Context) {
	tick := time.NewTicker(r.cfg.progressEvery)
	defer tick.Stop()
	var prevGen genCut
	if r.gen != nil {
		prevGen.sched = append(prevGen.sched, r.gen.base.sched...)
		prevGen.mutex = r.gen.base.mutex
	}
	for {
		select {
		case b, ok := <-cuts:
			if !ok {
				r.emit("done")
				return
			}
			r.window(b, &prevGen)
			if !b.final {
				r.noteResources()
				r.sat.sample(b.end, b.running)
			}
			select {
			case free <- b:
			default:
			}
		case <-tick.C:
			phase := "running"
			if stop.Err() != nil {
				phase = "draining"
			}
			r.emit(phase)
		}
	}
}

// window merges batch b into the report's windows. prevGen is the previous
// batch's generator readings (b's replace them).
func (r *run) window(b *cutBatch, prevGen *genCut) {
	start, off := b.start.Sub(r.start).Seconds(), b.end.Sub(r.start).Seconds()
	span := b.end.Sub(b.start)
	r.cutLate = append(r.cutLate, b.late)
	r.cutMax = max(r.cutMax, b.took)
	if !b.final && math.Abs(float64(span-samplePeriod)) > 0.1*float64(samplePeriod) {
		r.offWindows++
	}
	var gw reports.GeneratorWindow
	if r.gen != nil {
		gw = r.gen.window(prevGen, &b.gen, start, off)
		r.genWindows = append(r.genWindows, gw)
		prevGen.sched = append(prevGen.sched[:0], b.gen.sched...)
		prevGen.mutex = b.gen.mutex
	}
	genP99 := max(gw.SchedP99MS, gw.HiccupP99MS)
	smp := r.metricsSample()
	for i, g := range r.groups {
		w := &g.merged
		g.rec.Merge(&b.cuts[i], w, span)
		smp.add(g, w, b.dropped[i])
		c := w.Counters
		win := reports.Window{
			Start:    start,
			Offset:   off,
			Group:    g.spec.Name,
			Started:  c.Started - g.last.Started,
			Ended:    c.Ended - g.last.Ended,
			Failed:   c.Failed - g.last.Failed,
			Sent:     c.Sent - g.last.Sent,
			Received: c.Received - g.last.Received,
			MaxSeq:   w.MaxSeq,
			Dropped:  uint64(max(b.dropped[i]-g.lastDropped, 0)),
		}
		if g.lastEnds == nil {
			g.lastEnds = map[string]uint64{}
		}
		for k, n := range w.Ends {
			if d := n - g.lastEnds[k]; d > 0 {
				if win.Ends == nil {
					win.Ends = map[string]uint64{}
				}
				win.Ends[k] = d
			}
			g.lastEnds[k] = n
		}
		win.Latency = windowHistogram(w.Latency)
		win.LatencyCorrected = windowHistogram(w.Corrected)
		if win.Latency != nil && genP99 >= ms(genMarkFloor) && genP99 >= reports.SaturatedShare*win.Latency.P99MS {
			win.Saturated = true
		}
		r.windows = append(r.windows, win)
		g.last, g.lastDropped = c, b.dropped[i]
	}
	if r.bk != nil {
		r.bkWindows = append(r.bkWindows, b.bk...)
		smp.addBackends(b.bk, b.bkTotal)
	}
	r.observeMetrics(smp)
}

// samplerReport is the report's account of how the windows were cut.
func (r *run) samplerReport() *reports.Sampler {
	s := &reports.Sampler{PeriodSeconds: samplePeriod.Seconds(), Cuts: len(r.cutLate), OffWindows: r.offWindows,
		CutMaxMS: ms(r.cutMax), Generator: r.genWindows}
	if len(r.cutLate) > 0 {
		late := slices.Clone(r.cutLate)
		slices.Sort(late)
		s.LateMaxMS = ms(late[len(late)-1])
		s.LateP99MS = ms(late[max(int(math.Ceil(0.99*float64(len(late))))-1, 0)])
	}
	for _, w := range r.windows {
		if w.Saturated {
			s.SaturatedWindows++
		}
	}
	return s
}

// windowHistogram is h as a report's window carries it: nil when empty.
func windowHistogram(h *hdrhistogram.Histogram) *reports.Histogram {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	out, err := reports.FromHDR(h, 0)
	if err != nil {
		return nil
	}
	return &out
}

func (r *run) emit(phase string) {
	if r.cfg.progress == nil {
		return
	}
	p := Progress{Elapsed: r.cfg.now().Sub(r.start), Duration: r.duration, Phase: phase}
	last, span := r.lastWindows()
	p.Window = time.Duration(span * float64(time.Second))
	for _, g := range r.groups {
		c := g.rec.Counters()
		gp := GroupProgress{
			Name: g.spec.Name, Active: c.Started - c.Ended,
			Opened: c.Started, Failed: c.Failed, Received: c.Received,
		}
		if w, ok := last[g.spec.Name]; ok && span > 0 {
			gp.Rate = float64(w.Received) / span
			if w.Latency != nil {
				gp.P99 = time.Duration(w.Latency.P99MS * float64(time.Millisecond))
			}
		}
		p.Groups = append(p.Groups, gp)
	}
	p.Faults = r.live.update(r.events.from(r.live.seen), p.Elapsed, r.instantFault)
	r.cfg.progress(p)
}

// noteResources samples the process's heap and goroutines, keeping the
// peak and the streams open then. The sampler and the run's goroutine (at
// stop) call it.
func (r *run) noteResources() {
	r.resMu.Lock()
	defer r.resMu.Unlock()
	r.noteResourcesLocked()
}

func (r *run) noteResourcesLocked() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var open uint64
	for _, g := range r.groups {
		c := g.rec.Counters()
		open += c.Started - min(c.Started, c.Ended)
	}
	res := &r.resources
	if ms.HeapInuse > res.PeakHeapBytes {
		res.PeakHeapBytes, res.PeakStreams = ms.HeapInuse, max(res.PeakStreams, open)
	}
	res.PeakGoroutines = max(res.PeakGoroutines, runtime.NumGoroutine())
	res.PeakStackBytes = max(res.PeakStackBytes, ms.StackInuse)
	res.PeakStreams = max(res.PeakStreams, open)
}
