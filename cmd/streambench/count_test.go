package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
)

// TestRunCount: run --count K writes run-1..K and a set.json listing them
// with their identity, and the set's markdown summary; a run that fails an
// assertion makes the set exit 1 with every run still written; a bad K is
// exit 2.
func TestRunCount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	md := filepath.Join(dir, "summary.md")
	code, out, errs := cli(t, "run", "--no-progress", "--duration", "1s", "--count", "2", "--out", dir, "--summary-md", md, mini)
	if code != ExitPass {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	side, err := reports.LoadSide(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !side.Set || len(side.Reports) != 2 || side.Files[1] != filepath.Join(dir, "run-2", "report.json") {
		t.Fatalf("set: %v, files %v", side.Set, side.Files)
	}
	raw, err := os.ReadFile(filepath.Join(dir, reports.SetFileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"schema": "streambench/set/v1"`, `"report": "run-1/report.json"`, `"source_sha256"`, `"seed": 7`, `"duration_seconds": 1`, `"client_scale": 1`, `"streambench": "devel"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("set.json lacks %s:\n%s", want, raw)
		}
	}
	if !strings.Contains(out, "set: "+filepath.Join(dir, "set.json")+" (2 runs, 2 passed)") {
		t.Errorf("output does not name the set:\n%s", out)
	}
	for _, p := range []string{"run-1/report.html", "run-2/junit.xml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	sum, _ := os.ReadFile(md)
	if !strings.Contains(string(sum), "`mini`: 2 runs with seed 7, 2 passed") {
		t.Errorf("set summary:\n%s", sum)
	}

	// Two runs a side can never be significant: compare says so and exits 0.
	code, out, errs = cli(t, "compare", dir, filepath.Join(dir, "set.json"))
	if code != ExitPass || !strings.Contains(out, "TOO FEW RUNS") || !strings.Contains(out, "need >=4 runs a side") {
		t.Fatalf("compare of 2+2 runs: exit %d\n%s\n%s", code, out, errs)
	}

	failing := t.TempDir()
	code, out, errs = cli(t, "run", "--no-progress", "--duration", "1s", "--count", "2", "--out", failing, "--faulty", "pow_early_eof", mini)
	if code != ExitFail || !strings.Contains(errs, "2 of 2 runs failed an assertion") {
		t.Fatalf("faulty set: exit %d, want 1\n%s\n%s", code, out, errs)
	}
	if side, err := reports.LoadSide(failing); err != nil || len(side.Reports) != 2 {
		t.Fatalf("faulty set: %v", err)
	}

	// A run that ends in 2 (here: an unwritable profile) stops the set with
	// that code before any run, and no set file is written.
	stopped := t.TempDir()
	code, _, errs = cli(t, "run", "--no-progress", "--duration", "1s", "--count", "3", "--out", stopped, "--cpuprofile", filepath.Join(stopped, "missing", "cpu.pprof"), mini)
	if code != ExitBadInput || !strings.Contains(errs, "--cpuprofile") {
		t.Fatalf("set with a bad run: exit %d, stderr %q; want 2", code, errs)
	}
	if _, err := os.Stat(filepath.Join(stopped, reports.SetFileName)); !os.IsNotExist(err) {
		t.Fatalf("set.json written for a set that never ran: %v", err)
	}

	for _, bad := range []string{"0", "-1", "101", "x"} {
		code, _, errs := cli(t, "run", "--count", bad, mini)
		if code != ExitBadInput || !strings.Contains(errs, "count") {
			t.Errorf("--count %s: exit %d, stderr %q; want 2 naming --count", bad, code, errs)
		}
	}
}

// copySet writes k copies of rep as a set under dir, each changed by edit.
func copySet(t *testing.T, dir string, rep *reports.Report, k int, edit func(i int, r *reports.Report)) string {
	t.Helper()
	var files []string
	var reps []*reports.Report
	for i := range k {
		r := *rep
		r.Groups = append([]reports.Group(nil), rep.Groups...)
		edit(i, &r)
		f := filepath.Join(dir, fmt.Sprintf("run-%d", i+1), "report.json")
		if err := reports.WriteFile(f, r.WriteJSON); err != nil {
			t.Fatal(err)
		}
		files, reps = append(files, f), append(reps, &r)
	}
	set, err := reports.NewSet(dir, files, reps)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, reports.SetFileName)
	if err := reports.WriteFile(p, set.WriteJSON); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCompareSets drives compare with sets built from one real report:
// unchanged copies are "~" (exit 0), a tripled p99 in every head run is a
// regression (exit 1), a different seed is refused (exit 2) unless
// --allow-mismatch, and a set against a single report is too few runs.
func TestCompareSets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, out, errs := cli(t, "run", "--no-progress", "--duration", "1s", "--out", dir, mini); code != ExitPass {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
	}
	rep, err := reports.Load(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	jitter := func(i int, r *reports.Report) {
		for g := range r.Groups {
			l := r.Groups[g].Latency
			l.P99MS *= 1 + float64(i%3)/100
			r.Groups[g].Latency = l
		}
	}
	base := copySet(t, t.TempDir(), rep, 5, jitter)
	same := copySet(t, t.TempDir(), rep, 5, func(i int, r *reports.Report) { jitter(4-i, r) })
	slow := copySet(t, t.TempDir(), rep, 5, func(i int, r *reports.Report) {
		jitter(i, r)
		l := r.Groups[0].Latency
		l.P50MS *= 3 // a median: a 1 s run's p99 has too few values to be judged
		r.Groups[0].Latency = l
	})
	seeded := copySet(t, t.TempDir(), rep, 5, func(_ int, r *reports.Report) { r.Seed = 99 })
	single := filepath.Join(dir, "report.json")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"A/A sets are unchanged", []string{"compare", base, same}, ExitPass, []string{"UNCHANGED", "~ not significant (p=", "n=5+5", "Mann-Whitney"}},
		{"a real shift regresses", []string{"compare", base, filepath.Dir(slow)}, ExitFail, []string{"REGRESSED", rep.Groups[0].Name, "p=0.008 n=5+5"}},
		{"different seed is refused", []string{"compare", base, seeded}, ExitBadInput, []string{"seed: 7 vs 99", base, "--allow-mismatch"}},
		{"--allow-mismatch compares with a warning", []string{"compare", "--allow-mismatch", base, seeded}, ExitPass, []string{"WARNING: not like for like (--allow-mismatch): base vs head: seed: 7 vs 99"}},
		{"set vs one report is too few runs", []string{"compare", base, single}, ExitPass, []string{"too few runs: n=5+1"}},
		{"a folder without reports", []string{"compare", base, t.TempDir()}, ExitBadInput, []string{"head:", "without set.json or report.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", w, out, errs)
				}
			}
		})
	}
}

// TestFormatJSON: --format json puts the report (with --count, the set) on
// stdout for a pipeline, and what a person reads on stderr.
func TestFormatJSON(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs a scenario")
	}
	out := t.TempDir()
	code, so, se := cli(t, "run", "--no-progress", "--format", "json", "--out", out, mini)
	var rep reports.Report
	if err := json.Unmarshal([]byte(so), &rep); err != nil || rep.Schema != reports.Schema {
		t.Fatalf("exit %d: stdout is not the report: %v\n%s", code, err, so)
	}
	if !strings.Contains(se, "report: "+filepath.Join(out, "report.json")) {
		t.Errorf("the summary is not on stderr:\n%s", se)
	}
	code, so, _ = cli(t, "run", "--no-progress", "--format", "json", "--count", "2", "--out", out, mini)
	var set struct{ Runs []json.RawMessage }
	if err := json.Unmarshal([]byte(so), &set); err != nil || len(set.Runs) != 2 {
		t.Errorf("exit %d: stdout is not the set of 2 runs: %v\n%s", code, err, so)
	}
	if code, _, se := cli(t, "run", "--format", "yaml", "../../scenarios/smoke.yaml"); code != ExitBadInput || !strings.Contains(se, "valid choices: text or json") {
		t.Errorf("--format yaml: exit %d: %s", code, se)
	}
}
