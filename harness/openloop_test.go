package harness_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/testenv"
	"github.com/streambench/streambench/reports"
)

func runInline(t *testing.T, src string, opts ...harness.Option) *reports.Report {
	t.Helper()
	sc, err := scenario.Parse("inline.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := streambench.Run(ctx, sc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestOpenLoopCountsEverySlot runs open-loop.yaml compressed: every slot of
// the ramp and the constant rate is scheduled and started.
func TestOpenLoopCountsEverySlot(t *testing.T) {
	// open-loop.yaml asserts leaks: none, which judges the whole
	// process's goroutines (a run beside it in one process once left one
	// encoding its report): in a process of its own, beside the others.
	if testenv.Isolate(t) {
		return
	}
	rep := runScaled(t, loadScenario(t, "open-loop"), 0.2, 0.25)
	requirePassed(t, rep)
	// pow: 0→300/s over 2 s then 300/s for 4 s = 300 + 1200 slots;
	// sqrt: 100/s for 6 s = 600.
	for name, want := range map[string]uint64{"pow": 1500, "sqrt": 600} {
		a := rep.Group(name).Arrival
		if a == nil || a.Scheduled < want-2 || a.Scheduled > want+1 || a.Started+a.Dropped+a.Unstarted != a.Scheduled {
			t.Errorf("%s: arrival %+v, want ~%d slots, each started or dropped", name, a, want)
		}
	}
}

// TestOpenLoopDropsWhenClientsBusy: arrivals do not wait for the target; a
// slot due while every client is busy and the queue (clients slots) is full
// is dropped and counted, and the assertion on it fails.
func TestOpenLoopDropsWhenClientsBusy(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	rep := runInline(t, `name: overload
duration: 2s
graceful_stop: 2s
groups:
  - {name: pow, rpc: Math/Pow, clients: 2, messages: 10, interval: 50ms, arrival: {rate: 20/s}}
assert:
  - arrival.dropped == 0
`)
	a := rep.Group("pow").Arrival
	if a.Scheduled < 38 || a.Dropped == 0 || a.Started+a.Dropped+a.Unstarted != a.Scheduled {
		t.Fatalf("arrival %+v: want ~40 slots, most dropped (2 clients, 0.5 s streams)", a)
	}
	if rep.Passed {
		t.Fatal("arrival.dropped == 0 passed although slots were dropped")
	}
	var dropped uint64
	var in int
	for _, w := range rep.Windows {
		dropped += w.Dropped
		if w.Dropped > 0 {
			in++
		}
	}
	if dropped != a.Dropped || in < 2 {
		t.Errorf("the windows' dropped slots add up to %d in %d windows, the arrival's to %d: want every dropped slot in the window it fell due in", dropped, in, a.Dropped)
	}
}

// TestCorrectedLatencySeesStalls: a server that stalls mid-stream keeps its
// per-message latency low (each message is stamped when finally sent) but
// the corrected latency, measured from when each message was due, shows the
// stall — coordinated omission, corrected.
func TestCorrectedLatencySeesStalls(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	rep := runInline(t, `name: stall
duration: 2s
graceful_stop: 2s
groups:
  - {name: pow, rpc: Math/Pow, clients: 4, messages: 20, interval: 10ms, arrival: {rate: 8/s}}
faults:
  - {at: 0s, kind: stream_stall, stall: 300ms, after: 5}
assert:
  - pow.latency.p50 < 100ms
  - pow.latency_corrected.p90 > 250ms
`)
	requirePassed(t, rep)
}

// TestClosedLoopStages ramps clients up then down: the run starts and ends
// with fewer streams in flight than its middle.
func TestClosedLoopStages(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	rep := runInline(t, `name: ramp
duration: 3s
graceful_stop: 1s
groups:
  - name: pow
    rpc: Math/Pow
    clients: 20
    messages: 5
    interval: 10ms
    stages:
      - {duration: 1s, target: 20}
      - {duration: 1s, target: 20}
      - {duration: 1s, target: 0}
`)
	var started []uint64
	for _, w := range rep.Windows {
		if w.Group == "pow" && w.Offset <= 3.2 {
			started = append(started, w.Started)
		}
	}
	if len(started) < 3 {
		t.Fatalf("windows: %v", started)
	}
	if !(started[0] < started[1] && started[len(started)-1] < started[1]) {
		t.Fatalf("streams started per second %v: want a ramp up then down", started)
	}
}

// TestOpenLoopBacklogShowsInCorrectedLatency is the coordinated-omission
// picture: at twice the target's capacity with an unbounded queue nothing is
// dropped, every slot waits its turn, and the corrected latency grows
// second by second while the raw one stays flat. The same load with the
// default queue drops instead, and its corrected latency stays bounded.
func TestOpenLoopBacklogShowsInCorrectedLatency(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	// 2 clients, streams of 5 messages 40 ms apart (~0.2 s): ~10 streams/s
	// of capacity against 20/s due.
	const src = `name: backlog
duration: 4s
graceful_stop: 1s
groups:
  - {name: pow, rpc: Math/Pow, clients: 2, messages: 5, interval: 40ms, arrival: {rate: 20/s%s}}
`
	perSecond := func(rep *reports.Report) (raw, corrected []float64) {
		for _, w := range rep.Windows {
			if w.Group != "pow" || w.Offset > 4.2 || w.LatencyCorrected == nil || w.Latency == nil {
				continue
			}
			raw = append(raw, w.Latency.P99MS)
			corrected = append(corrected, w.LatencyCorrected.P99MS)
		}
		return raw, corrected
	}

	rep := runInline(t, fmt.Sprintf(src, ", queue: unbounded"))
	a := rep.Group("pow").Arrival
	if a.Dropped != 0 || a.Scheduled < 79 || a.Started+a.Unstarted != a.Scheduled || a.Unstarted < 20 {
		t.Fatalf("unbounded queue: arrival %+v, want ~80 slots, none dropped, a backlog left unstarted", a)
	}
	raw, corrected := perSecond(rep)
	if len(corrected) < 3 {
		t.Fatalf("corrected latency in %d windows, want one a second", len(corrected))
	}
	first, last := corrected[0], corrected[len(corrected)-1]
	// Each second adds about half a second of backlog (7-10 slots more
	// due than done, at 10-12 done a second): by the last second the
	// schedule is over a second behind, while each message still takes
	// milliseconds — raw latency does not grow (a busy machine may spike
	// one second of it, so its growth is judged first to last).
	if last < first+800 || last < 3*first || raw[len(raw)-1]-raw[0] > 200 {
		t.Fatalf("unbounded queue: corrected p99 per second %v ms, raw %v ms: want corrected growing by seconds, raw flat", corrected, raw)
	}
	backlog := last

	rep = runInline(t, fmt.Sprintf(src, ""))
	a = rep.Group("pow").Arrival
	if a.Dropped < 20 || a.Started+a.Dropped+a.Unstarted != a.Scheduled || a.Unstarted > 2 {
		t.Fatalf("default queue: arrival %+v, want about half the slots dropped", a)
	}
	if _, corrected := perSecond(rep); len(corrected) == 0 || corrected[len(corrected)-1] > backlog/2 {
		t.Fatalf("default queue: corrected p99 per second %v ms, want it bounded by the queue (2 slots, ~0.2 s), well under the unbounded run's %v ms", corrected, backlog)
	}
}

// TestStarvedRunIsCounted: a run whose threads waited a millisecond for a
// CPU each time they were ready to run counts those seconds in its
// resources, and warns of nothing (the wait injected, as the CPU clock is
// below).
func TestStarvedRunIsCounted(t *testing.T) {
	t.Parallel()
	start := time.Now()
	starved := func() (harness.CPUWait, bool) {
		d := time.Since(start)
		return harness.CPUWait{Waited: d / 2, Slices: int64(d / (2 * time.Millisecond))}, true
	}
	idle := func() time.Duration { return 0 }
	rep := runInline(t, `name: starved
duration: 4s
graceful_stop: 1s
groups:
  - {name: pow, rpc: Math/Pow, clients: 2, messages: 5, interval: 10ms}
`, harness.WithCPUTime(idle), harness.WithCPUWait(starved))
	if rep.Resources == nil || rep.Resources.CPUStarvedSeconds < 3 || rep.Resources.CPUBusySeconds != 0 {
		t.Fatalf("resources %+v: want about 4 starved seconds, none busy", rep.Resources)
	}
	for _, w := range rep.Warnings {
		if strings.Contains(w, "CPU") {
			t.Fatalf("a warning about CPUs for a starved, not busy, run: %q", w)
		}
	}
}

// TestSaturatedRunIsSaid: a run whose process used all its CPUs says so in
// its resources and its warnings (the CPU clock injected: a real
// saturation cannot be made to order on a shared machine).
func TestSaturatedRunIsSaid(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	start := time.Now()
	procs := float64(runtime.GOMAXPROCS(0))
	saturated := func() time.Duration { return time.Duration(procs * float64(time.Since(start))) }
	rep := runInline(t, `name: saturated
duration: 4s
graceful_stop: 1s
groups:
  - {name: pow, rpc: Math/Pow, clients: 2, messages: 5, interval: 10ms}
`, harness.WithCPUTime(saturated))
	if rep.Resources == nil || rep.Resources.CPUBusySeconds < 3 {
		t.Fatalf("resources %+v: want about 4 busy seconds", rep.Resources)
	}
	var said bool
	for _, w := range rep.Warnings {
		said = said || strings.Contains(w, "was saturated")
	}
	if !said {
		t.Fatalf("warnings %q do not say the process was saturated", rep.Warnings)
	}
}
