package assert

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// leaks is `leaks: none`: everything the run started has ended —
// goroutines and file descriptors back to the baseline, heap within its
// bound, and no live stream or call left on the server. Its settings
// ({settle: 5s, heap: 64MiB}) tune how the harness takes the evidence
// (see LeakSettings); the verdict is the same.
type leaks struct {
	text string
	opts leak.Options
}

// DefaultLeakSettle is how long the leak check waits for things to wind
// down after teardown when `leaks` gives no settle.
const DefaultLeakSettle = 5 * time.Second

// UnjudgedLeakSettle is how long the leak check waits when no `leaks`
// assertion judges its evidence. A run alone in its process winds down in
// milliseconds (the check polls, 1 ms doubling to 100 ms), so the wait
// matters only where it never settles — runs side by side in one process,
// such as a library user's parallel tests, where the full DefaultLeakSettle
// added 5 s to every run for evidence nothing judged.
const UnjudgedLeakSettle = time.Second

var leaksCheck = Check{
	Name:    "leaks",
	Doc:     "none: after teardown no goroutine, fd, heap or server-side stream is left",
	Arg:     "none",
	Example: "leaks: {settle: 10s, heap: 64MiB}",
	Settings: []Setting{
		{Name: "settle", Default: "5s", Doc: "how long the check polls for goroutines, fds and the server view to return to the baseline; a Go duration > 0"},
		{Name: "heap", Default: "32 MiB + 10% of the baseline heap", Doc: "the allowed heap growth; a size (`64MiB`) > 0"},
	},
	compile: compileLeaks,
}

func compileLeaks(in input) (Assertion, error) {
	c := &leaks{text: in.text, opts: leak.Options{Settle: DefaultLeakSettle}}
	if in.args == nil {
		if in.value != "none" {
			return nil, fmt.Errorf("want %q or settings {settle: 5s, heap: 64MiB}, got %q", "none", in.value)
		}
		return c, nil
	}
	// Both settings are read, so both problems are said at once.
	var bad []string
	if v, ok := in.args["settle"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad = append(bad, fmt.Sprintf("settle %q is not a positive duration (write it like 5s or 500ms)", v))
		}
		c.opts.Settle = d
	}
	if v, ok := in.args["heap"]; ok {
		sz, err := scenario.ParseSize(v)
		if err != nil || sz <= 0 {
			bad = append(bad, fmt.Sprintf("heap %q is not a size > 0 such as 64MiB", v))
		}
		c.opts.HeapBound = uint64(sz)
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "; "))
	}
	return c, nil
}

// LeakSettings returns the leak check's settings from the compiled
// assertions: those of their `leaks` check, or, when there is none, settle
// UnjudgedLeakSettle and the heap bound leak.Options derives. The leak
// evidence is taken on every run, asserted or not.
func LeakSettings(as []Assertion) leak.Options {
	for _, a := range as {
		if l, ok := a.(*leaks); ok {
			return l.opts
		}
	}
	return leak.Options{Settle: UnjudgedLeakSettle}
}

func (c *leaks) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: c.text, Expected: "no goroutine, fd, heap or server-side leak after teardown"}
	l := r.Leaks
	if l == nil {
		v.Actual, v.Detail = noData, "the report holds no leak evidence"
		return v
	}
	v.Actual, v.Detail = DescribeLeaks(l)
	v.Pass = l.Clean
	return v
}

// DescribeLeaks summarises leak evidence: a short actual and a detail
// naming every leaked function, fd and server figure.
func DescribeLeaks(l *reports.Leaks) (actual, detail string) {
	var parts, more []string
	if len(l.Goroutines.Leaked) > 0 {
		total := 0
		for _, f := range l.Goroutines.Leaked {
			total += f.Count
			more = append(more, fmt.Sprintf("%d× %s", f.Count, f.Function))
		}
		parts = append(parts, fmt.Sprintf("%d goroutines leaked", total))
	}
	if len(l.FDs.Leaked) > 0 {
		parts = append(parts, fmt.Sprintf("%d fds leaked", len(l.FDs.Leaked)))
		more = append(more, "fds: "+strings.Join(l.FDs.Leaked, ", "))
	}
	if l.Heap.Exceeded {
		parts = append(parts, fmt.Sprintf("heap grew %s (bound %s)", mb(l.Heap.AfterBytes-min(l.Heap.AfterBytes, l.Heap.BaselineBytes)), mb(l.Heap.BoundBytes)))
	}
	if s := l.Server; s != nil && (s.Subscribers > 0 || s.InFlightCalls > 0 || s.Sockets > 0) {
		parts = append(parts, fmt.Sprintf("server (%s): %d subscribers, %d calls in flight, %d sockets", s.Source, s.Subscribers, s.InFlightCalls, s.Sockets))
	}
	if len(l.Unchecked) > 0 {
		parts = append(parts, "server view not checked")
		more = append(more, "server view: "+strings.Join(l.Unchecked, "; "))
	}
	if grown := l.Target.Grown(); len(grown) > 0 {
		parts = append(parts, "target: "+strings.Join(grown, "; "))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("none (goroutines %d→%d, heap %s→%s)", l.Goroutines.Baseline, l.Goroutines.After, mb(l.Heap.BaselineBytes), mb(l.Heap.AfterBytes)), ""
	}
	return strings.Join(parts, "; "), strings.Join(more, "; ")
}

func mb(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
