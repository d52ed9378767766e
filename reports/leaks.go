package reports

import "fmt"

// Leaks is the end-of-run evidence that everything a run started has
// ended: goroutines, file descriptors, heap, and the servers' own view.
type Leaks struct {
	// Clean is true when nothing leaked.
	Clean bool `json:"clean"`
	// SettleSeconds is how long the check waited for things to wind down.
	SettleSeconds float64 `json:"settle_seconds"`
	// Goroutines compares the count before and after, and groups leaked
	// goroutines by their identifying function.
	Goroutines GoroutineLeaks `json:"goroutines"`
	// FDs compares open file descriptors before and after.
	FDs FDLeaks `json:"fds"`
	// Heap compares heap in use after GC before and after.
	Heap HeapCheck `json:"heap"`
	// Server is the target's own view: live streams and sockets.
	Server *ServerLeaks `json:"server,omitempty"`
	// Unchecked names evidence that could not be taken — a server probe
	// that never answered, with its last error. Clean is false when any is.
	Unchecked []string `json:"unchecked,omitempty"`
	// Target is the evidence of an address or command target's own
	// process (nil for the builtin target).
	Target *TargetLeaks `json:"target,omitempty"`
}

// GoroutineLeaks is the goroutine part of Leaks.
type GoroutineLeaks struct {
	Baseline int              `json:"baseline"`
	After    int              `json:"after"`
	Leaked   []LeakedFunction `json:"leaked,omitempty"`
}

// LeakedFunction is a group of leaked goroutines sharing an identifying
// function, with one full stack as an example.
type LeakedFunction struct {
	Function string `json:"function"`
	Count    int    `json:"count"`
	Stack    string `json:"stack"`
}

// FDLeaks is the file-descriptor part of Leaks.
type FDLeaks struct {
	Baseline int `json:"baseline"`
	After    int `json:"after"`
	// Leaked names what the extra descriptors point at.
	Leaked []string `json:"leaked,omitempty"`
}

// HeapCheck is the heap part of Leaks.
type HeapCheck struct {
	BaselineBytes uint64 `json:"baseline_bytes"`
	AfterBytes    uint64 `json:"after_bytes"`
	// BoundBytes is the allowed growth; Exceeded is true past it.
	BoundBytes uint64 `json:"bound_bytes"`
	Exceeded   bool   `json:"exceeded"`
}

// ServerLeaks is the target's own view after the run.
type ServerLeaks struct {
	// Source is "registry" (the builtin servers' own bookkeeping) or
	// "channelz" (an external target queried over gRPC).
	Source string `json:"source"`
	// Subscribers is live Subscribe streams still registered.
	Subscribers int `json:"subscribers"`
	// InFlightCalls is calls started but not finished (the inspecting
	// call itself excluded).
	InFlightCalls int64 `json:"in_flight_calls"`
	// Sockets is open server sockets.
	Sockets int `json:"sockets"`
}

// TargetLeaks is the evidence a target streambench did not write gives of
// itself: which sources there were (channelz, the process's /proc figures,
// a Go target's pprof goroutine count) and, for the figures, their value
// before load and after teardown against an allowed growth.
type TargetLeaks struct {
	// Sources says what evidence the check had, and why not where it had
	// none ("not available: ...").
	Sources []EvidenceSource `json:"sources"`
	// Figures are the before-load and after-teardown figures.
	Figures []TargetFigure `json:"figures,omitempty"`
	// Leaked is true when a judged figure grew beyond its bound.
	Leaked bool `json:"leaked"`
}

// EvidenceSource is one kind of evidence of a target: "channelz",
// "process" or "pprof".
type EvidenceSource struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	// Detail says where the evidence came from (an address, a pid, a URL)
	// or why it was not available.
	Detail string `json:"detail"`
}

// TargetFigure is one figure of a target's process before load and after
// teardown.
type TargetFigure struct {
	// Source is "process" (/proc/<pid>) or "pprof".
	Source string `json:"source"`
	// Name is "threads", "fds", "rss_bytes" or "goroutines".
	Name   string `json:"name"`
	Before int64  `json:"before"`
	After  int64  `json:"after"`
	// Bound is the growth (After - Before) allowed; -1 when the figure is
	// reported but not judged (RSS: allocators keep freed memory).
	Bound int64 `json:"bound"`
	// Exceeded is true when the growth passed Bound.
	Exceeded bool `json:"exceeded"`
}

// Grown renders the figures that grew past their bound, one line each:
// "pprof goroutines: 12 before load, 112 after teardown (allowed growth
// 10)". A nil t has none.
func (t *TargetLeaks) Grown() []string {
	if t == nil {
		return nil
	}
	var out []string
	for _, f := range t.Figures {
		if f.Exceeded {
			out = append(out, fmt.Sprintf("%s %s: %d before load, %d after teardown (allowed growth %d)", f.Source, f.Name, f.Before, f.After, f.Bound))
		}
	}
	return out
}
