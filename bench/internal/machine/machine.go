// Package machine describes the machine a benchmark runs on, for the
// figures it writes down beside its results.
package machine

import (
	"os"
	"strings"
)

// LoadAverage returns the 1-, 5- and 15-minute load averages as
// /proc/loadavg gives them ("0.52 1.04 1.63"), or "unknown" where the
// system does not say. Benchmarks on shared machines print it before and
// after their runs: a busy neighbour shows there.
func LoadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
