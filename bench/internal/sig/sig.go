// Package sig says whether two sets of benchmark runs differ, the way
// benchstat says it, for the bench commands' tables.
package sig

import (
	"fmt"

	"golang.org/x/perf/benchmath"
)

// Of says whether a and b differ by a Mann–Whitney U test as benchstat
// runs it (golang.org/x/perf/benchmath, alpha 0.05): "(p=0.008)" when they
// do, "(~ p=0.40)" when not, "(~ n<4)" when a side has too few runs for
// any difference to reach significance.
func Of(a, b []float64) string {
	th := &benchmath.Thresholds{CompareAlpha: 0.05}
	if len(a) < 4 || len(b) < 4 {
		return "(~ n<4)"
	}
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(a, th), benchmath.NewSample(b, th))
	if c.P <= th.CompareAlpha {
		return fmt.Sprintf("(p=%.3f)", c.P)
	}
	return fmt.Sprintf("(~ p=%.2f)", c.P)
}
