package harness

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSaturation: a second counts as busy when the process used at least
// 90% of its CPUs in it, and as starved when its threads waited 0.5 ms or
// more on average for a CPU each time they were ready to run (and 100 ms in
// all); the drain is not judged; a warning, for busy seconds only, needs
// half the sampled run and 3 s.
func TestSaturation(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		// share of the 2 CPUs used in each second, the milliseconds its
		// threads waited for a CPU in it (nil: unknown) over 1,000
		// timeslices, and whether the duration still lasted then.
		shares  []float64
		waits   []float64
		running int // the first running seconds are the duration's
		busy    float64
		starved float64
		warn    string
	}{
		{"saturated throughout", []float64{1, 0.95, 1, 0.92, 1}, nil, 5, 5, 0, "of its 2 CPUs"},
		{"half busy", []float64{0.5, 0.6, 0.5, 0.4, 0.5, 0.3}, nil, 6, 0, 0, ""},
		{"busy only while draining", []float64{0.2, 0.3, 0.1, 1, 1, 1, 1}, nil, 3, 0, 0, ""},
		{"busy, but under 3 s", []float64{1, 1, 0.1}, nil, 3, 2, 0, ""},
		{"busy a little under half", []float64{1, 1, 1, 0.1, 0.1, 0.1, 0.1}, nil, 7, 3, 0, ""},
		{"busy at half", []float64{1, 1, 1, 0.1, 0.1, 0.1}, nil, 6, 3, 0, "of its 2 CPUs"},
		{"starved throughout", []float64{0.2, 0.2, 0.2, 0.2}, []float64{600, 800, 500, 900}, 4, 0, 4, ""},
		{"waiting little per timeslice", []float64{0.4, 0.4, 0.4, 0.4}, []float64{200, 140, 300, 490}, 4, 0, 0, ""},
		{"idle: long waits, little in all", []float64{0.01, 0.01, 0.01, 0.01}, []float64{50, 90, 50, 50}, 4, 0, 0, ""},
		{"starved only while draining", []float64{0.2, 0.2, 0.2, 0.2, 0.2}, []float64{0, 0, 900, 900, 900}, 2, 0, 0, ""},
		{"starved at half", []float64{0.2, 0.2, 0.2, 0.2, 0.2, 0.2}, []float64{1000, 1000, 1000, 100, 100, 100}, 6, 0, 3, ""},
		{"busy and starved: busy said", []float64{1, 1, 1, 1}, []float64{2000, 2000, 2000, 2000}, 4, 4, 4, "of its 2 CPUs"},
		{"a thread exited: that second not counted", []float64{0.2, 0.2, 0.2, 0.2}, []float64{600, -3000, 600, 600}, 4, 0, 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cpu time.Duration
			var wait CPUWait
			s := saturation{cpu: func() time.Duration { return cpu }, procs: 2}
			if tc.waits != nil {
				s.wait = func() (CPUWait, bool) { return wait, true }
			}
			s.start(t0)
			for i, share := range tc.shares {
				cpu += time.Duration(share * 2 * float64(time.Second))
				if tc.waits != nil {
					wait.Waited += time.Duration(tc.waits[i] * float64(time.Millisecond))
					wait.Slices += 1000
				}
				s.sample(t0.Add(time.Duration(i+1)*time.Second), i < tc.running)
			}
			w := s.warning()
			if s.busy != tc.busy || s.starved != tc.starved || (w != "") != (tc.warn != "") || !strings.Contains(w, tc.warn) {
				t.Fatalf("busy %v s, starved %v s, warning %q; want %v s, %v s, warning with %q", s.busy, s.starved, w, tc.busy, tc.starved, tc.warn)
			}
		})
	}
	if processCPU() <= 0 {
		t.Fatal("getrusage reports no CPU time for a process that has run")
	}
}

// TestProcessWait: on Linux the threads' run-queue wait is read and never
// goes down while no thread exits; elsewhere it is unknown.
func TestProcessWait(t *testing.T) {
	w0, ok := processWait()
	if _, err := os.Stat("/proc/self/task"); err != nil || runtime.GOOS != "linux" {
		if ok {
			t.Fatalf("processWait = %v, true without /proc/self/task", w0)
		}
		t.Skip("no /proc/self/task: the wait is unknown here")
	}
	if !ok || w0.Waited < 0 || w0.Slices <= 0 {
		t.Fatalf("processWait = %v, %v on Linux", w0, ok)
	}
}
