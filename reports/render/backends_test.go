package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/reporttest"
)

func TestBackendLines(t *testing.T) {
	rep := func(rows ...[]int64) *reports.Report {
		var ws []reports.BackendWindow
		for i, row := range rows {
			for j, n := range row {
				ws = append(ws, reports.BackendWindow{Offset: float64(i + 1), Backend: "b" + string(rune('0'+j)), Up: true, Active: n})
			}
		}
		return &reports.Report{Backends: &reports.Backends{Balancing: "l4 round robin", Names: []string{"b0", "b1"}, Windows: ws, Spread: reports.SpreadOf(ws)}}
	}
	for _, tc := range []struct {
		name string
		r    *reports.Report
		want []string
	}{
		{"single target", &reports.Report{}, nil},
		{"even at the end, worst before", rep([]int64{200, 0}, []int64{100, 100}),
			[]string{"streams at 2s: b0 100, b1 100; max/min 1.00, CV 0.00, Jain 1.000", "worst second 1s: b1 held 0 of 200, b0 held 200; max/min ∞"}},
		{"nothing open", rep([]int64{0, 0}), []string{"no second with streams open"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := backendLines(tc.r)
			if len(got) != len(tc.want) {
				t.Fatalf("lines %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("line %d %q lacks %q", i, got[i], w)
				}
			}
		})
	}
}

func TestBackendChart(t *testing.T) {
	r := reporttest.WithBackends(reporttest.Fixture(t, 1))
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`data-chart="backend-streams"`, "b3 joins (even in 2s)", ">b3</li>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	b.Reset()
	if err := WriteHTML(&b, reporttest.Fixture(t, 1)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "backend-streams") {
		t.Error("a single target's report has a per-backend chart")
	}
}
