// Command gate measures streambench's regression gate itself: how often
// `streambench compare` calls a regression between runs of the same code
// (A/A, goal 0) and how often it catches a planted slowdown (A/B).
//
// It builds streambench and makes N = comparisons + K - 1 triples of runs,
// each run one `streambench run --count 1 --duration D` invocation: A
// (correct target), B (`--faulty BUG`) and A' (correct target again), in an
// order that rotates from triple to triple, so that the three sequences see
// the same machine load. Comparison i (i = 0 … comparisons-1) takes the K
// consecutive triples i … i+K-1:
//
//   - sets A/A: the K A runs as base, the K A' runs as head;
//   - sets A/B: the K A runs as base, the K B runs as head;
//   - single A/A: in every triple, A vs A' and A' vs A (2N comparisons);
//   - single A/B: in every triple, A vs B (N comparisons).
//
// Neighbouring set comparisons share K-1 runs a side, so the comparisons
// are not independent trials. With -docs it writes the figures between the
// gate markers of that file.
//
// Run it from the repository root:
//
//	go run ./bench/gate -docs docs/reports.md     # ~5 min: 72 runs of 3 s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/streambench/streambench/bench/internal/machine"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/compare"
)

type config struct {
	scenario    string
	duration    time.Duration
	k           int
	comparisons int
	bug         string
	work        string
	docs        string
	reuse       bool
}

func main() {
	var c config
	flag.StringVar(&c.scenario, "scenario", "scenarios/smoke.yaml", "scenario to run")
	flag.DurationVar(&c.duration, "duration", 3*time.Second, "run --duration of every run")
	flag.IntVar(&c.k, "k", 5, "runs a side in each set comparison")
	flag.IntVar(&c.comparisons, "comparisons", 20, "set comparisons of each kind (A/A, A/B)")
	flag.StringVar(&c.bug, "bug", "pow_slow_20pct", "planted bug of the B runs (streambench list)")
	flag.StringVar(&c.work, "work", "", "folder for the binary and the runs (default: a new temporary folder, removed at the end)")
	flag.StringVar(&c.docs, "docs", "", "write the figures between the gate markers of this markdown file")
	flag.BoolVar(&c.reuse, "reuse", false, "with -work: reuse the runs already in it (re-analyse without running)")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "gate:", err)
		os.Exit(1)
	}
}

// kinds of run in a triple.
var kinds = []struct{ name, label string }{{"a", "A"}, {"b", "B"}, {"c", "A'"}}

func run(c config) error {
	if c.k < 1 || c.comparisons < 1 || c.duration <= 0 {
		return fmt.Errorf("need -k >= 1, -comparisons >= 1 and -duration > 0")
	}
	if c.work == "" {
		dir, err := os.MkdirTemp("", "streambench-gate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.work = dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	start := time.Now().UTC()
	loadBefore := machine.LoadAverage()
	bin := filepath.Join(c.work, "streambench")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/streambench").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	n := c.comparisons + c.k - 1
	runs := make([][]*reports.Report, len(kinds)) // runs[kind][triple]
	files := make([][]string, len(kinds))
	loads := make([]float64, n) // per triple: the highest 1-minute load average before its runs
	for t := range n {
		for j := range kinds {
			kind := (j + t) % len(kinds) // rotate the order
			out := filepath.Join(c.work, fmt.Sprintf("%s%02d", kinds[kind].name, t+1))
			if _, err := os.Stat(filepath.Join(out, reports.SetFileName)); err != nil || !c.reuse {
				if err := runOne(ctx, bin, out, kind == 1, c); err != nil {
					return err
				}
			}
			side, err := reports.LoadSide(out)
			if err != nil {
				return err
			}
			l, err := readLoad(out)
			if err != nil {
				return err
			}
			loads[t] = max(loads[t], l)
			files[kind] = append(files[kind], side.Files...)
			runs[kind] = append(runs[kind], side.Reports...)
		}
	}
	res := results{config: c, start: start, loadBefore: loadBefore, loadAfter: machine.LoadAverage(), triples: n, maxChange: map[string]float64{}}
	res.elapsed = time.Since(start)
	side := func(kind, i int) *reports.Side {
		return reports.SetSide(kinds[kind].label, files[kind][i:i+c.k], runs[kind][i:i+c.k])
	}
	for i := range c.comparisons {
		aa, err := compare.Sides(side(0, i), side(2, i), compare.Options{})
		if err != nil {
			return err
		}
		res.aa.add(aa)
		ab, err := compare.Sides(side(0, i), side(1, i), compare.Options{})
		if err != nil {
			return err
		}
		res.ab.add(ab)
		res.rows = append(res.rows, row{first: i + 1, last: i + c.k, load: slices.Max(loads[i : i+c.k]), aa: aa.Verdict(), ab: ab.Verdict()})
	}
	for t := range n {
		for _, pair := range [][2]int{{0, 2}, {2, 0}} {
			cmp, err := compare.Reports(runs[pair[0]][t], runs[pair[1]][t], nil)
			if err != nil {
				return err
			}
			res.singleAA.add(cmp)
			for _, g := range cmp.Groups {
				for _, m := range g.Metrics {
					enough := m.BaseN >= compare.MinSamples && m.HeadN >= compare.MinSamples
					if m.Unit == "msg/s" {
						enough = m.BaseN >= compare.MinWindows && m.HeadN >= compare.MinWindows
					}
					if m.Unit != "ratio" && enough && !math.IsNaN(m.Change) {
						res.maxChange[m.Metric] = math.Max(res.maxChange[m.Metric], math.Abs(m.Change))
					}
				}
			}
		}
		cmp, err := compare.Reports(runs[0][t], runs[1][t], nil)
		if err != nil {
			return err
		}
		res.singleAB.add(cmp)
	}
	text := res.markdown()
	fmt.Print(text)
	if c.docs != "" {
		return writeBetweenMarkers(c.docs, text)
	}
	return nil
}

// runOne makes one run (a set of one) into out.
func runOne(ctx context.Context, bin, out string, faulty bool, c config) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, loadFile), []byte(machine.LoadAverage()+"\n"), 0o644); err != nil {
		return err
	}
	args := []string{"run", "--no-progress", "--count", "1", "--duration", c.duration.String(), "--out", out}
	if faulty {
		args = append(args, "--faulty", c.bug)
	}
	args = append(args, c.scenario)
	fmt.Fprintf(os.Stderr, "gate: %s %s\n", bin, strings.Join(args, " "))
	if outb, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 { // 1: an assertion failed, still a measurement
			return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, tail(string(outb), 2000))
		}
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// tally counts comparisons and which metrics moved.
type tally struct {
	n, regressed, improved int
	metrics                map[string]int // "group.metric" -> comparisons where it regressed
}

func (t *tally) add(c *compare.Comparison) {
	t.n++
	if t.metrics == nil {
		t.metrics = map[string]int{}
	}
	switch c.Verdict() {
	case compare.Regressed:
		t.regressed++
	case compare.Improved:
		t.improved++
	}
	for _, g := range c.Groups {
		for _, m := range g.Metrics {
			if m.Verdict == compare.Regressed {
				t.metrics[g.Name+"."+m.Metric]++
			}
		}
	}
}

func (t *tally) which() string {
	if len(t.metrics) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(t.metrics))
	for k := range t.metrics {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if t.metrics[keys[i]] != t.metrics[keys[j]] {
			return t.metrics[keys[i]] > t.metrics[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("`%s` %d", k, t.metrics[k]))
	}
	return strings.Join(parts, ", ")
}

type results struct {
	config
	start                 time.Time
	elapsed               time.Duration
	loadBefore, loadAfter string
	triples               int
	aa, ab                tally
	singleAA, singleAB    tally
	maxChange             map[string]float64
	rows                  []row
}

// row is one set comparison: its triples, the highest load average before
// any of their runs, and the verdicts.
type row struct {
	first, last int
	load        float64
	aa, ab      compare.MetricVerdict
}

func (r *results) markdown() string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Measured %s UTC on %s (%d cores, %s, %s/%s, %s), %s wall time.\n",
		r.start.Format("2006-01-02 15:04"), cpuModel(), runtime.NumCPU(), host, runtime.GOOS, runtime.GOARCH, runtime.Version(), r.elapsed.Round(time.Second))
	fmt.Fprintf(&b, "Load average before/after: %s / %s. The machine was shared with other engineers' builds and tests while this ran.\n\n", r.loadBefore, r.loadAfter)
	fmt.Fprintf(&b, "```sh\ngo run ./bench/gate -scenario %s -duration %s -k %d -comparisons %d -bug %s -docs docs/reports.md\n```\n\n",
		r.scenario, r.duration, r.k, r.comparisons, r.bug)
	fmt.Fprintf(&b, "Runs: %d triples of `streambench run --count 1 --duration %s %s`: A (correct target), B (`--faulty %s`) and A' (correct target), the order rotating from triple to triple; %d runs in all. Set comparison i takes triples i … i+%d (neighbouring comparisons share %d runs a side).\n\n",
		r.triples, r.duration, r.scenario, r.bug, 3*r.triples, r.k-1, r.k-1)
	fmt.Fprintln(&b, "| comparison | how formed | comparisons | verdict REGRESSED | metrics that regressed (in how many comparisons) |")
	fmt.Fprintln(&b, "|---|---|--:|--:|---|")
	fmt.Fprintf(&b, "| sets A/A (goal 0) | %d A runs (base) vs the %d A' runs of the same triples (head) | %d | **%d** | %s |\n", r.k, r.k, r.aa.n, r.aa.regressed, r.aa.which())
	fmt.Fprintf(&b, "| sets A/B (goal >= %d) | %d A runs (base) vs the %d B runs of the same triples (head) | %d | **%d** | %s |\n", r.comparisons-r.comparisons/20, r.k, r.k, r.ab.n, r.ab.regressed, r.ab.which())
	fmt.Fprintf(&b, "| single A/A | in each triple, A vs A' and A' vs A | %d | **%d** | %s |\n", r.singleAA.n, r.singleAA.regressed, r.singleAA.which())
	fmt.Fprintf(&b, "| single A/B | in each triple, A vs B | %d | **%d** | %s |\n\n", r.singleAB.n, r.singleAB.regressed, r.singleAB.which())
	fmt.Fprintf(&b, "Per set comparison (load: the highest 1-minute load average sampled just before any of its %d runs; %d cores):\n\n", 3*r.k, runtime.NumCPU())
	fmt.Fprintln(&b, "| comparison | triples | load | A/A verdict | A/B verdict |")
	fmt.Fprintln(&b, "|--:|---|--:|---|---|")
	for i, w := range r.rows {
		fmt.Fprintf(&b, "| %d | %d–%d | %.1f | %s | %s |\n", i+1, w.first, w.last, w.load, w.aa, w.ab)
	}
	fmt.Fprintln(&b)
	keys := make([]string, 0, len(r.maxChange))
	for k := range r.maxChange {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", k, 100*r.maxChange[k]))
	}
	fmt.Fprintf(&b, "Largest single-run A/A change per metric (any group, A vs A' of a triple, at least %d values or %d per-second windows a side): %s.\n", compare.MinSamples, compare.MinWindows, strings.Join(parts, ", "))
	return b.String()
}

const (
	beginMarker = "<!-- gate:begin (written by go run ./bench/gate) -->"
	endMarker   = "<!-- gate:end -->"
)

func writeBetweenMarkers(path, text string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(raw)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %q … %q markers", path, beginMarker, endMarker)
	}
	s = s[:i+len(beginMarker)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// loadFile holds the load average sampled just before a run.
const loadFile = "loadavg.txt"

// readLoad returns the 1-minute load average recorded before the run in
// out.
func readLoad(out string) (float64, error) {
	raw, err := os.ReadFile(filepath.Join(out, loadFile))
	if err != nil {
		return 0, err
	}
	var one float64
	if _, err := fmt.Sscan(string(raw), &one); err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Join(out, loadFile), err)
	}
	return one, nil
}

func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
