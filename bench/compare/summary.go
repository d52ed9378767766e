package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// stat is a figure that may be NaN (not measured); JSON writes NaN as null.
type stat float64

// MarshalJSON writes NaN and infinities as null.
func (s stat) MarshalJSON() ([]byte, error) {
	f := float64(s)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// toolSummary is the median of one client's repetitions of a workload.
type toolSummary struct {
	Tool      string `json:"tool"`
	Runs      int    `json:"runs"`
	CallsPS   stat   `json:"calls_per_s"`
	MsgsPS    stat   `json:"messages_per_s"`
	CPU       stat   `json:"client_cpu_s"`
	CPUPerMsg stat   `json:"client_cpu_us_per_message"`
	MaxRSSMiB stat   `json:"client_peak_rss_mib"`
	ServerCPU stat   `json:"server_cpu_s"`
	Errors    stat   `json:"errors"`
	Failed    int    `json:"failed_runs"`
	Note      string `json:"note,omitempty"`
}

// ratio is the median over repetitions of one client's figure (streambench's,
// or the generic driver's) divided by the other client's figure of the same
// repetition (NaN = not measured).
type ratio struct {
	CallsPS   stat `json:"calls_per_s"`
	MsgsPS    stat `json:"messages_per_s"`
	CPUPerMsg stat `json:"client_cpu_per_message"`
}

type workloadSummary struct {
	Workload workload      `json:"workload"`
	Tools    []toolSummary `json:"tools"`
	// VsPlain and VsGhz are streambench/plain and streambench/ghz.
	VsPlain *ratio `json:"streambench_vs_plain,omitempty"`
	VsGhz   *ratio `json:"streambench_vs_ghz,omitempty"`
	// GenericVsStubs and GenericVsGhz are the generic driver (dynamic
	// messages) against streambench's generated-stub drivers and ghz.
	GenericVsStubs *ratio `json:"generic_vs_streambench,omitempty"`
	GenericVsGhz   *ratio `json:"generic_vs_ghz,omitempty"`
}

func median(xs []float64) stat {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return stat(math.NaN())
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return stat(v[len(v)/2])
	}
	return stat((v[len(v)/2-1] + v[len(v)/2]) / 2)
}

// summarize groups the runs by workload (in the order they ran) and tool.
func summarize(runs []measurement, tools []string) []workloadSummary {
	var order []workload
	by := map[workload]map[string][]measurement{}
	for _, r := range runs {
		if by[r.Workload] == nil {
			by[r.Workload] = map[string][]measurement{}
			order = append(order, r.Workload)
		}
		by[r.Workload][r.Tool] = append(by[r.Workload][r.Tool], r)
	}
	var out []workloadSummary
	for _, w := range order {
		ws := workloadSummary{Workload: w}
		for _, t := range tools {
			rs := by[w][t]
			if len(rs) == 0 {
				continue
			}
			ts := toolSummary{Tool: t, Runs: len(rs), Note: rs[0].Note}
			var calls, msgs, cpu, cpm, rss, scpu, errs []float64
			for _, r := range rs {
				if r.Seconds == 0 {
					ts.Failed++
					continue
				}
				calls, msgs, cpu = append(calls, r.CallsPS), append(msgs, r.MsgsPS), append(cpu, r.CPUSeconds)
				cpm, rss, scpu = append(cpm, r.CPUPerMsg), append(rss, r.MaxRSSMiB), append(scpu, r.ServerCPU)
				errs = append(errs, r.Errors)
			}
			ts.CallsPS, ts.MsgsPS, ts.CPU, ts.CPUPerMsg = median(calls), median(msgs), median(cpu), median(cpm)
			ts.MaxRSSMiB, ts.ServerCPU, ts.Errors = median(rss), median(scpu), median(errs)
			ws.Tools = append(ws.Tools, ts)
		}
		ws.VsPlain = paired(by[w]["streambench"], by[w]["plain"])
		ws.VsGhz = paired(by[w]["streambench"], by[w]["ghz"])
		ws.GenericVsStubs = paired(by[w]["generic"], by[w]["streambench"])
		ws.GenericVsGhz = paired(by[w]["generic"], by[w]["ghz"])
		out = append(out, ws)
	}
	return out
}

// paired is the median over repetitions of a[rep]/b[rep].
func paired(a, b []measurement) *ratio {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	rep := map[int]measurement{}
	for _, m := range b {
		rep[m.Rep] = m
	}
	var calls, msgs, cpm []float64
	for _, x := range a {
		y, ok := rep[x.Rep]
		if !ok || x.Seconds == 0 || y.Seconds == 0 {
			continue
		}
		if x.Note == "" { // a note says calls/s do not compare
			calls = append(calls, x.CallsPS/y.CallsPS)
		}
		msgs = append(msgs, x.MsgsPS/y.MsgsPS)
		cpm = append(cpm, x.CPUPerMsg/y.CPUPerMsg)
	}
	return &ratio{CallsPS: median(calls), MsgsPS: median(msgs), CPUPerMsg: median(cpm)}
}

func num(s stat, format string) string {
	x := float64(s)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf(format, x)
}

// printTable prints one row per workload and client (medians over the
// repetitions) and the paired ratios.
func printTable(w io.Writer, sum []workloadSummary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tclient\tcalls/s\tmsgs/s\tclient CPU s\tCPU µs/msg\tpeak RSS MiB\tserver CPU s\terrors\t")
	for _, ws := range sum {
		for _, t := range ws.Tools {
			calls := num(t.CallsPS, "%.0f")
			if t.Note != "" {
				calls = "(" + calls + ")"
			}
			errs := num(t.Errors, "%.0f")
			if t.Failed > 0 {
				errs += fmt.Sprintf(" +%d failed runs", t.Failed)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", ws.Workload, t.Tool, calls, num(t.MsgsPS, "%.0f"),
				num(t.CPU, "%.2f"), num(t.CPUPerMsg, "%.2f"), num(t.MaxRSSMiB, "%.1f"), num(t.ServerCPU, "%.2f"), errs)
		}
		for _, p := range []struct {
			name string
			r    *ratio
		}{{"streambench/plain", ws.VsPlain}, {"streambench/ghz", ws.VsGhz}, {"generic/streambench", ws.GenericVsStubs}, {"generic/ghz", ws.GenericVsGhz}} {
			if p.r != nil {
				fmt.Fprintf(tw, "%s\t%s\t%s×\t%s×\t\t%s×\t\t\t\t\n", ws.Workload, p.name,
					num(p.r.CallsPS, "%.2f"), num(p.r.MsgsPS, "%.2f"), num(p.r.CPUPerMsg, "%.2f"))
			}
		}
	}
	tw.Flush()
}
