package reporttest

import (
	"fmt"

	"github.com/streambench/streambench/reports"
)

// WithBackends gives r (a Fixture) the figures of a target of several
// backends: three backends holding the subscribers evenly, a fourth that
// joins at 2s and gets its share by 4s.
func WithBackends(r *reports.Report) *reports.Report {
	rows := [][]int64{{14, 13, 13, -1}, {14, 13, 13, 0}, {13, 12, 12, 3}, {10, 10, 10, 10}, {10, 10, 10, 10}, {10, 10, 10, 10}}
	b := &reports.Backends{Balancing: "l4 round robin", Names: []string{"b0", "b1", "b2", "b3"}}
	for i, row := range rows {
		for j, n := range row {
			b.Windows = append(b.Windows, reports.BackendWindow{Offset: float64(i + 1), Backend: fmt.Sprintf("b%d", j),
				Up: n >= 0, Active: max(n, 0), Opened: uint64(max(n, 0)), Messages: uint64(100 * max(n, 0))})
		}
	}
	b.Spread = reports.SpreadOf(b.Windows)
	r.Backends = b
	r.Events = append(r.Events, reports.Event{Offset: 2, Kind: "backend_join", Fault: "faults[1] backend_join", Detail: "b3"})
	return r
}
