package assert

import (
	"fmt"
	"strings"

	"github.com/streambench/streambench/reports"
)

// leaksCheck is `leaks: none`: everything the run started has ended —
// goroutines and file descriptors back to the baseline, heap within its
// bound, and no live stream or call left on the server. Settings
// ({settle: 5s, heap: 64MiB}) tune the check itself and are read by the
// harness; the verdict is the same.
type leaksCheck struct{ text string }

var leaksKeys = []string{"settle", "heap"}

func compileLeaks(text, value string, args map[string]string) (Assertion, error) {
	if args == nil && value != "none" {
		return nil, fmt.Errorf("leaks: want %q or settings {settle: 5s, heap: 64MiB}, got %q", "none", value)
	}
	for k := range args {
		if !contains(leaksKeys, k) {
			return nil, fmt.Errorf("leaks: unknown setting %q (settings: %s)", k, strings.Join(leaksKeys, ", "))
		}
	}
	return &leaksCheck{text: text}, nil
}

func (c *leaksCheck) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: c.text, Expected: "no goroutine, fd, heap or server-side leak after teardown"}
	l := r.Leaks
	if l == nil {
		v.Actual, v.Detail = "not checked", "the report holds no leak evidence"
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
	if grown := l.Target.Grown(); len(grown) > 0 {
		parts = append(parts, "target: "+strings.Join(grown, "; "))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("none (goroutines %d→%d, heap %s→%s)", l.Goroutines.Baseline, l.Goroutines.After, mb(l.Heap.BaselineBytes), mb(l.Heap.AfterBytes)), ""
	}
	return strings.Join(parts, "; "), strings.Join(more, "; ")
}

func mb(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
