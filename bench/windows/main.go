// Command windows checks a run's per-second windows against what a reader
// of them is promised: each group's windows start where the previous one
// ended (the first at 0), the first ends within -first of the start, none
// but the last (cut at the run's end) spans more than -span, and they add
// up to the group's totals. It prints the figures and exits 1 when one
// does not hold (2 on bad input), so .ci/run can judge a report.json of
// scenarios/fanout.yaml at 100,000 subscribers:
//
//	go run ./bench/windows -first 1.5s -span 1.25s out/fanout-100k/report.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/streambench/streambench/reports"
)

func main() {
	first := flag.Duration("first", 1500*time.Millisecond, "the first window must end within this of the start")
	span := flag.Duration("span", 1250*time.Millisecond, "no window but the last may span more than this")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: windows [-first D] [-span D] REPORT.json")
		os.Exit(2)
	}
	r, err := reports.Load(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if problems := check(os.Stdout, r, first.Seconds(), span.Seconds()); len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("FAIL", p)
		}
		os.Exit(1)
	}
	fmt.Println("ok")
}

// check prints every group's window figures to w and returns what does
// not hold.
func check(w io.Writer, r *reports.Report, first, span float64) []string {
	var problems []string
	if s := r.Sampler; s != nil {
		fmt.Fprintf(w, "sampler: %d cuts, late max %.1f ms (p99 %.1f ms), cut max %.2f ms, %d off by more than 10%%\n",
			s.Cuts, s.LateMaxMS, s.LateP99MS, s.CutMaxMS, s.OffWindows)
	}
	for _, g := range r.Groups {
		var ws []reports.Window
		var received, ended uint64
		for _, win := range r.Windows {
			if win.Group == g.Name {
				ws = append(ws, win)
				received, ended = received+win.Received, ended+win.Ended
			}
		}
		if len(ws) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no windows", g.Name))
			continue
		}
		widest, at := 0.0, 0.0
		for i, win := range ws {
			prev := 0.0
			if i > 0 {
				prev = ws[i-1].Offset
			}
			if win.Start != prev {
				problems = append(problems, fmt.Sprintf("%s: window %d starts at %.3fs, the previous ended at %.3fs", g.Name, i, win.Start, prev))
			}
			if i < len(ws)-1 && win.Span() > widest {
				widest, at = win.Span(), win.Start
			}
		}
		fmt.Fprintf(w, "%s: %d windows, the first ends at %.3fs, the widest (but the last) spans %.3fs from %.3fs; received %d, ended %d\n",
			g.Name, len(ws), ws[0].Offset, widest, at, received, ended)
		if ws[0].Offset > first {
			problems = append(problems, fmt.Sprintf("%s: the first window ends at %.3fs, after %.3gs", g.Name, ws[0].Offset, first))
		}
		if widest > span {
			problems = append(problems, fmt.Sprintf("%s: a window spans %.3fs (from %.3fs), more than %.3gs", g.Name, widest, at, span))
		}
		if received != g.Messages.Received || ended != g.Streams.Ended {
			problems = append(problems, fmt.Sprintf("%s: windows add up to %d received and %d ended, the group counted %d and %d",
				g.Name, received, ended, g.Messages.Received, g.Streams.Ended))
		}
	}
	return problems
}
