package main

import (
	"strings"
	"testing"
)

func TestParseTotal(t *testing.T) {
	tests := []struct {
		name, out string
		want      float64 // bytes
		bad       bool
	}{
		{"MB", "Showing nodes accounting for 220.54MB, 95.61% of 230.66MB total\n", 230.66 * (1 << 20), false},
		{"kB", "Showing nodes accounting for 10kB, 50% of 20kB total", 20 << 10, false},
		{"GB", "Showing nodes accounting for 1GB, 50% of 1.5GB total", 1.5 * (1 << 30), false},
		{"bytes", "of 512B total", 512, false},
		{"accounting figure is not the total", "Showing nodes accounting for 220.54MB", 0, true},
		{"empty", "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTotal([]byte(tc.out))
			if tc.bad {
				if err == nil {
					t.Fatalf("parseTotal(%q) = %d, want an error", tc.out, got)
				}
				return
			}
			if want := uint64(tc.want); err != nil || got != want {
				t.Fatalf("parseTotal(%q) = %d, %v; want %d", tc.out, got, err, want)
			}
		})
	}
}

// TestPairedRatios: the ratio column is the median of per-repetition
// ratios to plain, and a failed run drops its pair rather than counting.
func TestPairedRatios(t *testing.T) {
	runs := []run{
		{Client: "plain", Streams: 5000, Rep: 0, EstablishSeconds: 1},
		{Client: "streambench", Streams: 5000, Rep: 0, EstablishSeconds: 2},
		{Client: "plain", Streams: 5000, Rep: 1, EstablishSeconds: 2},
		{Client: "streambench", Streams: 5000, Rep: 1, EstablishSeconds: 2},
		{Client: "plain", Streams: 5000, Rep: 2, EstablishSeconds: 1},
		{Client: "streambench", Streams: 5000, Rep: 2, EstablishSeconds: 9, Error: "killed"},
		{Client: "plain", Streams: 5000, Rep: 3, EstablishSeconds: 4},
		{Client: "streambench", Streams: 5000, Rep: 3, EstablishSeconds: 6},
	}
	var b strings.Builder
	printTable(&b, []int{5000}, []string{"plain", "streambench"}, runs)
	var row string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "| 5000 | establish") {
			row = l
		}
	}
	// Pairs 0, 1, 3: ratios 2, 1, 1.5 → median 1.5; pair 2 failed.
	if !strings.HasSuffix(row, " 1.50× (~ n<4) |") {
		t.Fatalf("establish row %q, want the paired median 1.50×", row)
	}
	if !strings.Contains(b.String(), "FAILED streambench 5000 rep 2: killed") {
		t.Fatalf("the failed run is not reported:\n%s", b.String())
	}
	if got := median([]float64{3, 1, 2, 10}); got != 2.5 {
		t.Fatalf("median = %v, want 2.5", got)
	}
}

// TestDrainLine: each streambench run says how long its drain took and how
// many subscribers it left to the hard stop.
func TestDrainLine(t *testing.T) {
	var b strings.Builder
	printTable(&b, []int{100000}, []string{"plain", "streambench"}, []run{
		{Client: "streambench", Streams: 100000, Rep: 1, DrainSeconds: 15.2, HardStopped: 99676},
	})
	if want := "streambench 100000 rep 1: drained in 15.2 s, 99676 of 100000 subscribers not ended by Unsubscribe"; !strings.Contains(b.String(), want) {
		t.Fatalf("no drain line %q in\n%s", want, b.String())
	}
}
