package harness

import (
	"fmt"
	"time"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/reports"
)

// effectSlack is how long after a fault's end its effects still count as
// its own in FaultWindow.Ends (streams severed at the end of a window end a
// moment later).
const effectSlack = 2 * time.Second

// watchdogEnds are the ends a timing fault can cause.
var watchdogEnds = map[string]bool{"deadline": true, "idle_timeout": true}

// canCause reports whether a fault of kind can cause an end of class key:
// a kind that only slows or stops data (fault.Kind.Slows) ends a stream
// only through the client's own watchdogs (a stream_timeout's deadline, an
// idle timeout); every other kind breaks streams and can cause any failed
// end; a kind that ends no stream (fault.Kind.EndsNone: backend_join)
// causes none. Ends that are not failures (complete, canceled) are no
// fault's doing, and are charged to none.
func canCause(kind fault.Kind, key string) bool {
	if key == "complete" || key == "canceled" || kind.EndsNone {
		return false
	}
	return !kind.Slows || watchdogEnds[key]
}

// faultWindows turns what the timeline applied into report windows, with
// the stream ends each caused (per-second resolution). An end in a second
// that falls inside several fault windows ([start, end + effectSlack]) is
// charged to one: the latest-started of them whose kind can cause that end
// (a latency window is not charged with the Unavailable ends of a
// server_restart that began inside it). An end no containing fault can
// cause is charged to none. Windows whose spans overlap name each other in
// Overlaps.
func faultWindows(applied []fault.Applied, windows []reports.Window) []reports.FaultWindow {
	out := make([]reports.FaultWindow, len(applied))
	for i, a := range applied {
		out[i] = reports.FaultWindow{
			Name:  a.Name(),
			Kind:  a.Spec.Kind.Name,
			Start: a.Began.Seconds(),
			End:   a.Ended.Seconds(),
			Scope: a.Scope,
		}
		if a.Err != nil {
			out[i].Scope += fmt.Sprintf(" (not applied: %v)", a.Err)
		}
	}
	until := func(f reports.FaultWindow) float64 { return f.End + effectSlack.Seconds() }
	// A window [Start, Offset] belongs to a fault window when it ends
	// after the fault started and starts before its effects end.
	contains := func(f reports.FaultWindow, w reports.Window) bool {
		return w.Offset > f.Start && w.Start <= until(f)
	}
	for _, w := range windows {
		for key, n := range w.Ends {
			if n == 0 {
				continue
			}
			best := -1
			for i, f := range out {
				if !contains(f, w) || !canCause(applied[i].Spec.Kind, key) {
					continue
				}
				if best < 0 || f.Start >= out[best].Start {
					best = i
				}
			}
			if best < 0 {
				continue
			}
			if out[best].Ends == nil {
				out[best].Ends = map[string]uint64{}
			}
			out[best].Ends[key] += n
		}
	}
	for i := range out {
		for j := range out {
			if i != j && out[i].Start <= until(out[j]) && out[j].Start <= until(out[i]) {
				out[i].Overlaps = append(out[i].Overlaps, out[j].Name)
			}
		}
	}
	return out
}
