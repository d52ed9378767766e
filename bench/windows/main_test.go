package main

import (
	"io"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
)

// TestCheck: a report whose windows hold passes; a late first window, a
// stretched window, a gap between windows and windows that do not add up
// each fail, named.
func TestCheck(t *testing.T) {
	good := func() *reports.Report {
		r := &reports.Report{Groups: []reports.Group{{Name: "g", Messages: reports.MessageCounts{Received: 30}, Streams: reports.StreamCounts{Ended: 3}}}}
		for i := range 3 {
			r.Windows = append(r.Windows, reports.Window{Start: float64(i), Offset: float64(i + 1), Group: "g", Received: 10, Ended: 1})
		}
		r.Windows[2].Offset = 9 // the last, cut at the end, may be long
		return r
	}
	for _, tc := range []struct {
		name  string
		plant func(*reports.Report)
		want  string
	}{
		{"good", func(*reports.Report) {}, ""},
		{"late first", func(r *reports.Report) { r.Windows[0].Offset, r.Windows[1].Start = 1.7, 1.7 }, "the first window ends at 1.700s"},
		{"stretched", func(r *reports.Report) { r.Windows[1].Offset, r.Windows[2].Start = 3.5, 3.5 }, "a window spans 2.500s"},
		{"gap", func(r *reports.Report) { r.Windows[1].Start = 1.2 }, "window 1 starts at 1.200s"},
		{"lost counts", func(r *reports.Report) { r.Windows[1].Received = 9 }, "windows add up to 29 received"},
		{"no windows", func(r *reports.Report) { r.Windows = nil }, "g: no windows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.plant(r)
			got := strings.Join(check(io.Discard, r, 1.5, 1.25), "; ")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("problems %q, want %q", got, tc.want)
			}
		})
	}
}
