package reports

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
