// Command gate measures streambench's regression gate itself: how often
// `streambench compare` calls a regression between runs of the same code
// (A/A, goal 0) and how often it catches a planted slowdown (A/B).
//
// It builds streambench, runs the scenario in blocks of `run --count K`
// (correct target: pool A; `--faulty BUG`: pool B), alternating A and B
// blocks so that machine drift falls on both, then forms the comparisons
// from the pools with a seeded random generator:
//
//   - sets A/A: -comparisons times, a random permutation of pool A, the
//     first K runs as base and the next K as head;
//   - sets A/B: -comparisons times, K random runs of pool A as base and K
//     random runs of pool B as head;
//   - single A/A: every ordered pair of distinct pool-A runs, report vs
//     report (the single-run compare and its noise floor);
//   - single A/B: pool-A run i vs pool-B run i.
//
// Comparisons share runs, so they are not independent trials. With -docs
// it writes the figures between the gate markers of that file.
//
// Run it from the repository root:
//
//	go run ./bench/gate -docs docs/reports.md     # ~3 min: 25 runs of 3 s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/streambench/streambench/reports"
)

type config struct {
	scenario    string
	duration    time.Duration
	k           int
	blocksA     int
	blocksB     int
	comparisons int
	bug         string
	work        string
	docs        string
	seed        uint64
	reuse       bool
}

func main() {
	var c config
	flag.StringVar(&c.scenario, "scenario", "scenarios/smoke.yaml", "scenario to run")
	flag.DurationVar(&c.duration, "duration", 3*time.Second, "run --duration of every run")
	flag.IntVar(&c.k, "k", 5, "runs a side in each set comparison (and runs per block)")
	flag.IntVar(&c.blocksA, "blocks-a", 3, "blocks of K runs against the correct target (pool A)")
	flag.IntVar(&c.blocksB, "blocks-b", 2, "blocks of K runs against the planted bug (pool B)")
	flag.IntVar(&c.comparisons, "comparisons", 20, "set comparisons of each kind (A/A, A/B)")
	flag.StringVar(&c.bug, "bug", "pow_slow_20pct", "planted bug of pool B (streambench list)")
	flag.StringVar(&c.work, "work", "", "folder for the binary and the runs (default: a new temporary folder, removed at the end)")
	flag.StringVar(&c.docs, "docs", "", "write the figures between the gate markers of this markdown file")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the generator that forms the comparisons")
	flag.BoolVar(&c.reuse, "reuse", false, "with -work: reuse the blocks already in it (re-analyse without running)")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "gate:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.k < 1 || c.blocksA < 1 || c.blocksB < 1 || c.comparisons < 1 || c.blocksA*c.k < 2*c.k {
		return fmt.Errorf("need -k >= 1, -blocks-a >= 2, -blocks-b >= 1, -comparisons >= 1")
	}
	if c.work == "" {
		dir, err := os.MkdirTemp("", "streambench-gate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.work = dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now().UTC()
	loadBefore := loadavg()
	bin := filepath.Join(c.work, "streambench")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/streambench").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	var poolA, poolB []string // report files
	for b := 0; b < max(c.blocksA, c.blocksB); b++ {
		for _, blk := range []struct {
			pool *[]string
			n    int
			name string
			bug  string
		}{{&poolA, c.blocksA, "a", ""}, {&poolB, c.blocksB, "b", c.bug}} {
			if b >= blk.n {
				continue
			}
			out := filepath.Join(c.work, fmt.Sprintf("%s%d", blk.name, b+1))
			if side, err := reports.LoadSide(filepath.Join(out, reports.SetFileName)); err == nil && c.reuse && len(side.Files) == c.k {
				*blk.pool = append(*blk.pool, side.Files...)
				continue
			}
			args := []string{"run", "--no-progress", "--count", fmt.Sprint(c.k), "--duration", c.duration.String(), "--out", out}
			if blk.bug != "" {
				args = append(args, "--faulty", blk.bug)
			}
			args = append(args, c.scenario)
			fmt.Fprintf(os.Stderr, "gate: %s %s\n", bin, strings.Join(args, " "))
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Stdout, cmd.Stderr = nil, nil
			if out, err := cmd.CombinedOutput(); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 { // 1: an assertion failed, still a measurement
					return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 2000))
				}
			}
			side, err := reports.LoadSide(out)
			if err != nil {
				return err
			}
			*blk.pool = append(*blk.pool, side.Files...)
		}
	}
	loadAfter := loadavg()
	a, err := loadAll(poolA)
	if err != nil {
		return err
	}
	b, err := loadAll(poolB)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(c.seed, 0x9a7e))
	var res results
	res.config = c
	res.start, res.elapsed = start, time.Since(start)
	res.loadBefore, res.loadAfter = loadBefore, loadAfter
	res.poolA, res.poolB = len(poolA), len(poolB)
	for i := 0; i < c.comparisons; i++ {
		p := rng.Perm(len(poolA))
		cmp, err := compare(pick(poolA, a, p[:c.k]), pick(poolA, a, p[c.k:2*c.k]))
		if err != nil {
			return err
		}
		res.aa.add(cmp)
	}
	for i := 0; i < c.comparisons; i++ {
		pa, pb := rng.Perm(len(poolA))[:c.k], rng.Perm(len(poolB))[:c.k]
		cmp, err := compare(pick(poolA, a, pa), pick(poolB, b, pb))
		if err != nil {
			return err
		}
		res.ab.add(cmp)
	}
	res.maxChange = map[string]float64{}
	for i := range a {
		for j := range a {
			if i == j {
				continue
			}
			cmp, err := reports.Compare(a[i], a[j], nil)
			if err != nil {
				return err
			}
			res.singleAA.add(cmp)
			for _, g := range cmp.Groups {
				for _, m := range g.Metrics {
					if m.Unit != "ratio" && !math.IsNaN(m.Change) && m.BaseN >= reports.MinSamples {
						res.maxChange[m.Metric] = math.Max(res.maxChange[m.Metric], math.Abs(m.Change))
					}
				}
			}
		}
	}
	for i := 0; i < min(len(a), len(b)); i++ {
		cmp, err := reports.Compare(a[i], b[i], nil)
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

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func loadAll(files []string) ([]*reports.Report, error) {
	var out []*reports.Report
	for _, f := range files {
		r, err := reports.Load(f)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func pick(files []string, reps []*reports.Report, idx []int) *reports.Side {
	var fs []string
	var rs []*reports.Report
	for _, i := range idx {
		fs, rs = append(fs, files[i]), append(rs, reps[i])
	}
	return reports.SetSide("pool", fs, rs)
}

func compare(base, head *reports.Side) (*reports.Comparison, error) {
	return reports.CompareSides(base, head, reports.CompareOptions{})
}

// tally counts comparisons and which metrics moved.
type tally struct {
	n, regressed, improved int
	metrics                map[string]int // "group.metric" -> comparisons where it regressed
}

func (t *tally) add(c *reports.Comparison) {
	t.n++
	if t.metrics == nil {
		t.metrics = map[string]int{}
	}
	switch c.Verdict() {
	case reports.Regressed:
		t.regressed++
	case reports.Improved:
		t.improved++
	}
	for _, g := range c.Groups {
		for _, m := range g.Metrics {
			if m.Verdict == reports.Regressed {
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
	poolA, poolB          int
	aa, ab                tally
	singleAA, singleAB    tally
	maxChange             map[string]float64
}

func (r *results) markdown() string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Measured %s UTC on %s (%d cores, %s, %s/%s, %s), %s wall time.\n",
		r.start.Format("2006-01-02 15:04"), cpuModel(), runtime.NumCPU(), host, runtime.GOOS, runtime.GOARCH, runtime.Version(), r.elapsed.Round(time.Second))
	fmt.Fprintf(&b, "Load average before/after: %s / %s. The machine was shared with other engineers' builds and tests while this ran.\n\n", r.loadBefore, r.loadAfter)
	fmt.Fprintf(&b, "```sh\ngo run ./bench/gate -scenario %s -duration %s -k %d -blocks-a %d -blocks-b %d -comparisons %d -bug %s -seed %d -docs docs/reports.md\n```\n\n",
		r.scenario, r.duration, r.k, r.blocksA, r.blocksB, r.comparisons, r.bug, r.seed)
	fmt.Fprintf(&b, "Pools: A = %d runs against the correct target, B = %d runs with `--faulty %s`, made in blocks of `run --count %d --duration %s`, alternating A and B blocks.\n\n",
		r.poolA, r.poolB, r.bug, r.k, r.duration)
	fmt.Fprintln(&b, "| comparison | how formed | comparisons | verdict REGRESSED | metrics that regressed (in how many comparisons) |")
	fmt.Fprintln(&b, "|---|---|--:|--:|---|")
	fmt.Fprintf(&b, "| sets A/A (goal 0) | a random permutation of pool A: first %d runs base, next %d head | %d | **%d** | %s |\n", r.k, r.k, r.aa.n, r.aa.regressed, r.aa.which())
	fmt.Fprintf(&b, "| sets A/B (goal >= %d) | %d random runs of pool A vs %d random runs of pool B | %d | **%d** | %s |\n", r.comparisons-r.comparisons/20, r.k, r.k, r.ab.n, r.ab.regressed, r.ab.which())
	fmt.Fprintf(&b, "| single A/A | every ordered pair of distinct pool-A runs | %d | **%d** | %s |\n", r.singleAA.n, r.singleAA.regressed, r.singleAA.which())
	fmt.Fprintf(&b, "| single A/B | pool-A run i vs pool-B run i | %d | **%d** | %s |\n\n", r.singleAB.n, r.singleAB.regressed, r.singleAB.which())
	keys := make([]string, 0, len(r.maxChange))
	for k := range r.maxChange {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", k, 100*r.maxChange[k]))
	}
	fmt.Fprintf(&b, "Largest single-run A/A change per metric (any group, any pair, at least %d values): %s.\n", reports.MinSamples, strings.Join(parts, ", "))
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

func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
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
