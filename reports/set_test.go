package reports_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/reporttest"
)

// TestSetFiles: a set written by NewSet reads back through LoadSide (as a
// file or its folder), a report through LoadSide is a single side, and a
// member report that is not the recorded run, a set without runs or a
// folder without either file is an error naming the file.
func TestSetFiles(t *testing.T) {
	dir := t.TempDir()
	reps := reporttest.RunsOf(10, 11, 12)
	var files []string
	for i, r := range reps {
		f := filepath.Join(dir, "run-"+string(rune('1'+i)), "report.json")
		if err := reports.WriteFile(f, r.WriteJSON); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	set, err := reports.NewSet(dir, files, reps)
	if err != nil {
		t.Fatal(err)
	}
	setPath := filepath.Join(dir, reports.SetFileName)
	if err := reports.WriteFile(setPath, set.WriteJSON); err != nil {
		t.Fatal(err)
	}
	if set.Runs[1].Report != "run-2/report.json" || set.Runs[1].Seed != 1 || set.Runs[1].SourceSHA256 == "" {
		t.Fatalf("set run 2: %+v", set.Runs[1])
	}
	for _, p := range []string{dir, setPath} {
		side, err := reports.LoadSide(p)
		if err != nil {
			t.Fatal(err)
		}
		if !side.Set || len(side.Reports) != 3 || side.Files[2] != files[2] || side.Reports[2].Groups[0].Latency.P50MS != 12 {
			t.Fatalf("LoadSide(%s): set %v, %d reports, files %v", p, side.Set, len(side.Reports), side.Files)
		}
	}
	single, err := reports.LoadSide(files[0])
	if err != nil || single.Set || len(single.Reports) != 1 {
		t.Fatalf("LoadSide(report): %+v, %v", single, err)
	}
	single, err = reports.LoadSide(filepath.Dir(files[0]))
	if err != nil || single.Set || single.Files[0] != files[0] {
		t.Fatalf("LoadSide(run folder): %+v, %v", single, err)
	}

	// A member replaced by another run.
	other := reporttest.SetRun(10, 0, 1000)
	other.Seed = 9
	if err := reports.WriteFile(files[1], other.WriteJSON); err != nil {
		t.Fatal(err)
	}
	if _, err := reports.LoadSide(dir); err == nil || !strings.Contains(err.Error(), "runs[1]") || !strings.Contains(err.Error(), "seed: 1 vs 9") {
		t.Fatalf("tampered member: err = %v", err)
	}
	empty := filepath.Join(t.TempDir(), reports.SetFileName)
	if err := os.WriteFile(empty, []byte(`{"schema":"`+reports.SetSchema+`","scenario":"s","runs":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reports.LoadSide(empty); err == nil || !strings.Contains(err.Error(), "no runs") {
		t.Fatalf("empty set: err = %v", err)
	}
	if _, err := reports.LoadSide(t.TempDir()); err == nil || !strings.Contains(err.Error(), "without set.json or report.json") {
		t.Fatalf("empty folder: err = %v", err)
	}
}
