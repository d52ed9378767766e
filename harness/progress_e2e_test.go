package harness_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"
)

// TestProgressEndToEnd runs a small scenario with a latency window and
// checks what the progress callback saw: last-second rate and p99 once the
// first window exists, the fault while it is applied, none at the end.
func TestProgressEndToEnd(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	sc, err := scenario.Parse("progress.yaml", []byte(`name: progress
seed: 1
duration: 3s
target:
  builtin:
    feed: {rate: 50/s, payload: 64B}
groups:
  - {name: subs, rpc: Longlived/Subscribe, clients: 4}
faults:
  - {at: 500ms, for: 2s, kind: latency, latency: 5ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		all []harness.Progress
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := streambench.Run(ctx, sc, harness.WithProgress(func(p harness.Progress) {
		mu.Lock()
		defer mu.Unlock()
		all = append(all, p)
	}, 100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var rated, faulted bool
	for _, p := range all {
		if p.Window == 0 && (p.Groups[0].Rate != 0 || p.Groups[0].P99 != 0) {
			t.Errorf("at %v: rate %v and p99 %v before any window", p.Elapsed, p.Groups[0].Rate, p.Groups[0].P99)
		}
		if p.Window > 0 && p.Groups[0].Rate > 0 && p.Groups[0].P99 > 0 {
			rated = true
		}
		if slices.Contains(p.Faults, "faults[0] latency") {
			faulted = true
		}
	}
	if !rated {
		t.Errorf("no progress had a last-second rate and p99: %+v", all)
	}
	if !faulted {
		t.Errorf("no progress listed the latency fault during its 2 s window")
	}
	if last := all[len(all)-1]; last.Phase != "done" || len(last.Faults) != 0 {
		t.Errorf("last progress: phase %q, faults %q; want done with none", last.Phase, last.Faults)
	}
}
