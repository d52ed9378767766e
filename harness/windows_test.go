package harness_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/reports"
)

// windowsScenario is a small run whose windows the tests below read.
const windowsScenario = `name: windows
seed: 1
duration: 4s
graceful_stop: 2s
target:
  builtin:
    feed: {rate: 100/s, payload: 64B}
groups:
  - {name: subs, rpc: Longlived/Subscribe, clients: 20}
  - {name: pow, rpc: Math/Pow, clients: 4}
`

// TestWindowsCutOnTime: the windows are cut at their deadlines even while
// whatever reads them (here the progress callback, stuck for 2.5 s) is
// held up; each starts where the previous one ended, the first at 0; and
// they add up to the run's totals. A sampler that cut and merged in one
// loop made the first window 3.5 s long here (and 9.7 s at 100,000
// subscribers, where the loop waited behind the clients).
func TestWindowsCutOnTime(t *testing.T) {
	t.Parallel()
	var once sync.Once
	rep := runInline(t, windowsScenario, harness.WithProgress(func(harness.Progress) {
		once.Do(func() { time.Sleep(2500 * time.Millisecond) })
	}, 100*time.Millisecond))
	if rep.Sampler == nil || rep.Sampler.Cuts < 5 {
		t.Fatalf("sampler %+v: want at least 5 cuts (4 s and the drain)", rep.Sampler)
	}
	for _, g := range rep.Groups {
		var ws []reports.Window
		var received, ended, started uint64
		for _, w := range rep.Windows {
			if w.Group == g.Name {
				ws = append(ws, w)
				received, ended, started = received+w.Received, ended+w.Ended, started+w.Started
			}
		}
		if len(ws) != rep.Sampler.Cuts {
			t.Errorf("%s: %d windows, %d cuts", g.Name, len(ws), rep.Sampler.Cuts)
		}
		for i, w := range ws {
			prev := 0.0
			if i > 0 {
				prev = ws[i-1].Offset
			}
			if w.Start != prev {
				t.Errorf("%s window %d: starts at %.3fs, the previous ended at %.3fs", g.Name, i, w.Start, prev)
			}
			if w.Offset <= rep.Scenario.DurationSeconds && w.Span() > 1.6 {
				t.Errorf("%s window %d spans %.3fs (%.3f..%.3f): cut late", g.Name, i, w.Span(), w.Start, w.Offset)
			}
		}
		if received != g.Messages.Received || ended != g.Streams.Ended || started != g.Streams.Opened {
			t.Errorf("%s: windows add up to %d received, %d started, %d ended; the run counted %d, %d, %d",
				g.Name, received, started, ended, g.Messages.Received, g.Streams.Opened, g.Streams.Ended)
		}
	}
	if gw := rep.Sampler.Generator; len(gw) != rep.Sampler.Cuts || gw[0].Hiccups == 0 {
		t.Errorf("generator windows %+v, want one per cut with the hiccup meter's wake-ups", gw)
	}
}

// TestGeneratorSaturationWarned: beside goroutines that keep every
// processor busy, streambench's own goroutines wait for one, and the run
// says so once, with figures; the windows carry the scheduling delay.
// (The quiet side — a 500-client run warns of nothing — is .ci/run's,
// alone on the machine: beside the other packages' tests no run here is
// quiet.)
func TestGeneratorSaturationWarned(t *testing.T) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := 0; !stop.Load(); x++ {
				_ = x * x
			}
		}()
	}
	rep := runInline(t, windowsScenario)
	stop.Store(true)
	wg.Wait()
	var warned []string
	for _, w := range rep.Warnings {
		if strings.Contains(w, "own process was a bottleneck") {
			warned = append(warned, w)
		}
	}
	if len(warned) != 1 {
		t.Fatalf("warnings %q: want one saying streambench's own process was the bottleneck", rep.Warnings)
	}
	var worst float64
	for _, g := range rep.Sampler.Generator {
		worst = max(worst, g.SchedP99MS, g.HiccupP99MS)
	}
	if worst < 5 {
		t.Errorf("generator windows %+v: no scheduling delay or oversleep p99 of 5 ms or more beside the burners", rep.Sampler.Generator)
	}
}
