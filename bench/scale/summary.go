package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/streambench/streambench/bench/internal/sig"
)

// metric is one figure of a run, and whether lower is better (all are).
type metric struct {
	name string
	get  func(run) float64
	unit string
}

var metrics = []metric{
	{"establish", func(r run) float64 { return r.EstablishSeconds }, "s"},
	{"heap/stream", func(r run) float64 { return r.HeapPerStreamBytes / 1024 }, "KiB"},
	{"live heap/stream", func(r run) float64 { return r.LiveHeapPerStream / 1024 }, "KiB"},
	{"RSS/stream", func(r run) float64 { return r.RSSPerStreamBytes / 1024 }, "KiB"},
	{"goroutines/stream", func(r run) float64 { return r.GoroutinesPerStream }, ""},
	{"stack/stream", func(r run) float64 { return r.StackPerStreamBytes / 1024 }, "KiB"},
	{"lag p50", func(r run) float64 { return r.LagP50MS }, "ms"},
	{"lag p99", func(r run) float64 { return r.LagP99MS }, "ms"},
	{"CPU (whole process)", func(r run) float64 { return r.CPUSeconds }, "s"},
	{"drain", func(r run) float64 { return r.DrainSeconds }, "s"},
	{"server process RSS", func(r run) float64 { return float64(r.ServerRSSBytes) / (1 << 20) }, "MiB"},
	{"server process CPU", func(r run) float64 { return r.ServerCPUSeconds }, "s"},
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// find returns the successful run of client at n and rep.
func find(runs []run, client string, n, rep int) (run, bool) {
	for _, r := range runs {
		if r.Client == client && r.Streams == n && r.Rep == rep && r.Error == "" {
			return r, true
		}
	}
	return run{}, false
}

// printTable prints, per count, each client's median of every metric, and
// the paired ratios to plain (the median of per-repetition ratios).
func printTable(w io.Writer, counts []int, clients []string, runs []run) {
	for _, r := range runs {
		if r.Error != "" {
			fmt.Fprintf(w, "FAILED %s %d rep %d: %s\n", r.Client, r.Streams, r.Rep, r.Error)
		}
	}
	fmt.Fprintln(w)
	header := "| streams | metric |"
	sep := "|---|---|"
	for _, c := range clients {
		header += " " + c + " |"
		sep += "---:|"
	}
	for _, c := range clients {
		if c != "plain" {
			header += " **" + c + "/plain** |"
			sep += "---:|"
		}
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, sep)
	for _, n := range counts {
		for _, m := range metrics {
			if !slices.ContainsFunc(runs, func(r run) bool { return r.Streams == n && m.get(r) != 0 }) {
				continue // a figure no run has (the server process's, in process)
			}
			row := fmt.Sprintf("| %d | %s |", n, m.name)
			if m.unit != "" {
				row = fmt.Sprintf("| %d | %s (%s) |", n, m.name, m.unit)
			}
			for _, c := range clients {
				var xs []float64
				for _, r := range runs {
					if r.Client == c && r.Streams == n && r.Error == "" {
						xs = append(xs, m.get(r))
					}
				}
				row += fmt.Sprintf(" %.3g (n=%d) |", median(xs), len(xs))
			}
			for _, c := range clients {
				if c == "plain" {
					continue
				}
				var ratios []float64
				for rep := 0; ; rep++ {
					a, okA := find(runs, c, n, rep)
					b, okB := find(runs, "plain", n, rep)
					if !okA && !okB && !hasRep(runs, n, rep) {
						break
					}
					if okA && okB && m.get(b) > 0 {
						ratios = append(ratios, m.get(a)/m.get(b))
					}
				}
				row += fmt.Sprintf(" %.2f× %s |", median(ratios), sig.Of(values(runs, c, n, m), values(runs, "plain", n, m)))
			}
			fmt.Fprintln(w, row)
		}
	}
	fmt.Fprintln(w)
	for _, r := range runs {
		if r.Error == "" && r.DrainSeconds > 0 {
			fmt.Fprintf(w, "%s %d rep %d: drained in %.1f s, %d of %d subscribers not ended by Unsubscribe\n",
				r.Client, r.Streams, r.Rep, r.DrainSeconds, r.HardStopped, r.Streams)
		}
	}
}

// values are a metric's values over client's successful runs at n.
func values(runs []run, client string, n int, m metric) []float64 {
	var out []float64
	for _, r := range runs {
		if r.Client == client && r.Streams == n && r.Error == "" {
			out = append(out, m.get(r))
		}
	}
	return out
}

func hasRep(runs []run, n, rep int) bool {
	for _, r := range runs {
		if r.Streams == n && r.Rep == rep {
			return true
		}
	}
	return false
}
