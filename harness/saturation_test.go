package harness

import (
	"strings"
	"testing"
	"time"
)

// TestSaturation: a second counts as busy when the process used at least
// 90% of its CPUs in it; the drain is not judged; the warning needs half
// the sampled run and 3 s.
func TestSaturation(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		// share of the 2 CPUs used in each second, and whether the
		// duration still lasted then.
		shares  []float64
		running int // the first running seconds are the duration's
		busy    float64
		warn    bool
	}{
		{"saturated throughout", []float64{1, 0.95, 1, 0.92, 1}, 5, 5, true},
		{"half busy", []float64{0.5, 0.6, 0.5, 0.4, 0.5, 0.3}, 6, 0, false},
		{"busy only while draining", []float64{0.2, 0.3, 0.1, 1, 1, 1, 1}, 3, 0, false},
		{"busy, but under 3 s", []float64{1, 1, 0.1}, 3, 2, false},
		{"busy a little under half", []float64{1, 1, 1, 0.1, 0.1, 0.1, 0.1}, 7, 3, false},
		{"busy at half", []float64{1, 1, 1, 0.1, 0.1, 0.1}, 6, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cpu time.Duration
			s := saturation{cpu: func() time.Duration { return cpu }, procs: 2}
			s.start(t0)
			for i, share := range tc.shares {
				cpu += time.Duration(share * 2 * float64(time.Second))
				s.sample(t0.Add(time.Duration(i+1)*time.Second), i < tc.running)
			}
			w := s.warning()
			if s.busy != tc.busy || (w != "") != tc.warn {
				t.Fatalf("busy %v s, warning %q; want %v s, warning %v", s.busy, w, tc.busy, tc.warn)
			}
			if tc.warn && !strings.Contains(w, "of its 2 CPUs") {
				t.Fatalf("warning %q", w)
			}
		})
	}
	if processCPU() <= 0 {
		t.Fatal("getrusage reports no CPU time for a process that has run")
	}
}
