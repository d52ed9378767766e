package harness

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

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
}

// sample records per-second windows and reports progress until done closes.
func (r *run) sample(done <-chan struct{}, stop context.Context) {
	tick := time.NewTicker(r.cfg.progressEvery)
	defer tick.Stop()
	second := time.NewTicker(time.Second)
	defer second.Stop()
	for {
		select {
		case <-done:
			r.window()
			r.emit("done")
			return
		case <-second.C:
			r.window()
			r.noteResources()
			r.sat.sample(r.cfg.now(), stop.Err() == nil)
		case <-tick.C:
			phase := "running"
			if stop.Err() != nil {
				phase = "draining"
			}
			r.emit(phase)
		}
	}
}

func (r *run) window() {
	off := r.cfg.now().Sub(r.start).Seconds()
	// The backends' figures first, at once: they are a snapshot (who is in
	// service, how many streams each holds) and must be read at off. The
	// groups' windows below merge every shard's histograms, which on a
	// loaded machine under -race took seconds: read after them, a backend
	// that joined meanwhile showed in a second labelled before its join,
	// in service and empty (balance failed with max/min ∞ on CI).
	var bk []reports.BackendWindow
	if r.bk != nil {
		bk = r.bk.window(off)
	}
	smp := r.metricsSample()
	for _, g := range r.groups {
		w := g.rec.Window()
		smp.add(g, w)
		c := w.Counters
		win := reports.Window{
			Offset:   off,
			Group:    g.spec.Name,
			Started:  c.Started - g.last.Started,
			Ended:    c.Ended - g.last.Ended,
			Failed:   c.Failed - g.last.Failed,
			Sent:     c.Sent - g.last.Sent,
			Received: c.Received - g.last.Received,
			MaxSeq:   w.MaxSeq,
		}
		for k, n := range w.Ends {
			if d := n - g.lastEnds[k]; d > 0 {
				if win.Ends == nil {
					win.Ends = map[string]uint64{}
				}
				win.Ends[k] = d
			}
		}
		win.Latency = windowHistogram(w.Latency)
		win.LatencyCorrected = windowHistogram(w.Corrected)
		r.windows = append(r.windows, win)
		g.last, g.lastEnds = c, w.Ends
	}
	if r.bk != nil {
		r.bkWindows = append(r.bkWindows, bk...)
		smp.addBackends(r.bk, bk)
	}
	r.observeMetrics(smp)
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
