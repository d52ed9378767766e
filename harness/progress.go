package harness

import (
	"sort"
	"strings"
	"time"

	"github.com/streambench/streambench/reports"
)

// liveFaults follows the run's fault events for Progress. The sampler's
// goroutine owns it; it reads only the events added since its last look.
type liveFaults struct {
	// seen is how many of the run's events it has read.
	seen int
	// active maps a fault occurrence's name to the offset it began at.
	active map[string]float64
}

// instantShown is how long an instant fault (sever) stays in Progress.Faults
// after it fired: long enough for a live view that redraws every second to
// show it.
const instantShown = time.Second

// update reads events added since the last call and returns the faults
// active at offset now, sorted by start. instant reports whether an
// occurrence's fault kind is over as soon as applied.
func (l *liveFaults) update(evs []reports.Event, now time.Duration, instant func(name string) bool) []string {
	if l.active == nil {
		l.active = map[string]float64{}
	}
	for _, e := range evs {
		switch e.Kind {
		case "fault_start":
			l.active[e.Fault] = e.Offset
		case "fault_end":
			delete(l.active, e.Fault)
		}
	}
	l.seen += len(evs)
	type started struct {
		name string
		at   float64
	}
	var live []started
	for name, at := range l.active {
		if instant(name) {
			if now-time.Duration(at*float64(time.Second)) > instantShown {
				delete(l.active, name)
				continue
			}
		}
		live = append(live, started{name, at})
	}
	sort.Slice(live, func(i, j int) bool {
		if live[i].at != live[j].at {
			return live[i].at < live[j].at
		}
		return live[i].name < live[j].name
	})
	out := make([]string, len(live))
	for i, s := range live {
		out[i] = s.name
	}
	return out
}

// instantFault reports whether the fault occurrence named name (a
// fault.Occurrence's Name: "faults[0] sever", "faults[2] latency #3") is of
// an instant kind.
func (r *run) instantFault(name string) bool {
	for _, s := range r.specs {
		if n := s.Name(); name == n || strings.HasPrefix(name, n+" #") {
			return s.Kind.Instant
		}
	}
	return false
}

// lastWindows returns each group's latest per-second window (by group
// name) and the seconds it spans. window appends one entry per group each
// time, so the latest set is the last len(groups) entries.
func (r *run) lastWindows() (map[string]reports.Window, float64) {
	n := len(r.groups)
	if n == 0 || len(r.windows) < n {
		return nil, 0
	}
	latest := r.windows[len(r.windows)-n:]
	out := make(map[string]reports.Window, n)
	for _, w := range latest {
		out[w.Group] = w
	}
	return out, latest[0].Span()
}
