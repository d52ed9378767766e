package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/render"
)

// maxCount bounds --count: a set is for a statistical test, not a soak.
const maxCount = 100

func addCountFlag(cmd *cobra.Command, count *int) {
	cmd.Flags().IntVar(count, "count", 1, fmt.Sprintf("run the scenario K times (1..%d) with the same seed: run-1/ … run-K/ and a set.json under --out, for streambench compare", maxCount))
}

// runCount runs the scenario f.count times, one after the other, through
// the single-run path, each into OUT/run-i/, then writes OUT/set.json
// listing the reports. The set's exit code is the worst of its runs: 1
// when any run failed an assertion; a run that ends with exit 2, 3 or 130
// stops the set with that code (the set file lists the runs written so
// far).
func runCount(cmd *cobra.Command, path string, f runFlags, stdout, stderr io.Writer) error {
	if f.count < 1 || f.count > maxCount {
		return exitf(ExitBadInput, "--count: must be between 1 and %d, got %d", maxCount, f.count)
	}
	outDir := f.out
	if outDir == "" {
		sc, err := scenarioAt(path)
		if err != nil {
			return err
		}
		outDir = filepath.Join("out", sc.Name)
	}
	summaryMD := f.summaryMD
	// With --format json the set goes to stdout at the end; the runs
	// print for a person, on stderr.
	runOut := stdout
	if f.format == "json" {
		runOut = stderr
	}
	var files []string
	var reps []*reports.Report
	var failed error
	for i := 1; i <= f.count; i++ {
		fi := f
		fi.out = filepath.Join(outDir, fmt.Sprintf("run-%d", i))
		fi.summaryMD, fi.format = "", "text"
		fmt.Fprintf(stderr, "streambench: run %d of %d\n", i, f.count)
		err := runScenario(cmd, path, fi, runOut, stderr)
		var ee *exitError
		if err != nil && (!errors.As(err, &ee) || ee.code != ExitFail) {
			if len(reps) > 0 {
				if _, werr := writeSet(outDir, files, reps, "", ""); werr != nil {
					fmt.Fprintf(stderr, "streambench: %v\n", werr)
				}
			}
			return fmt.Errorf("run %d of %d: %w", i, f.count, err)
		}
		if err != nil && failed == nil {
			failed = err
		}
		file := filepath.Join(fi.out, "report.json")
		rep, lerr := reports.Load(file)
		if lerr != nil {
			return exitf(ExitHarness, "run %d of %d: %v", i, f.count, lerr)
		}
		files, reps = append(files, file), append(reps, rep)
	}
	setPath, err := writeSet(outDir, files, reps, summaryMD, f.artifactsURL)
	if err != nil {
		return exitf(ExitHarness, "%v", err)
	}
	passed := 0
	for _, r := range reps {
		if r.Passed {
			passed++
		}
	}
	if f.format == "json" {
		data, err := os.ReadFile(setPath)
		if err != nil {
			return exitf(ExitHarness, "%v", err)
		}
		if _, err := stdout.Write(data); err != nil {
			return exitf(ExitHarness, "%v", err)
		}
	}
	fmt.Fprintf(runOut, "\nset: %s (%d runs, %d passed)\n", setPath, len(reps), passed)
	if summaryMD != "" {
		fmt.Fprintf(runOut, "     %s\n", summaryMD)
	}
	if failed != nil {
		return &exitError{code: ExitFail, err: fmt.Errorf("%d of %d runs failed an assertion", len(reps)-passed, len(reps))}
	}
	return nil
}

// writeSet writes dir/set.json for the runs and, when summaryMD is set,
// the set's markdown summary.
func writeSet(dir string, files []string, reps []*reports.Report, summaryMD, artifactsURL string) (string, error) {
	set, err := reports.NewSet(dir, files, reps)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, reports.SetFileName)
	if err := reports.WriteFile(path, set.WriteJSON); err != nil {
		return "", err
	}
	if summaryMD != "" {
		err := reports.WriteFile(summaryMD, func(w io.Writer) error {
			return render.WriteSetMarkdown(w, set, reps, render.MarkdownOptions{ArtifactsURL: artifactsURL, Files: []string{reports.SetFileName, "run-*/report.json"}})
		})
		if err != nil {
			return "", err
		}
	}
	return path, nil
}
