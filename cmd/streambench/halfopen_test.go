package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streambench/streambench/internal/testenv"
	"github.com/streambench/streambench/reports"
)

// TestHalfOpenScenario runs scenarios/half-open.yaml — the reference server
// as a command target, half its connections half-open with the server's
// side held while the clients redial and resubscribe with the same ids —
// twice: against the correct server it passes; with the planted bug that
// strands the old handler on a same-id resubscribe it fails the leak gate,
// which names the evidence (calls in flight in channelz, goroutines over
// pprof).
func TestHalfOpenScenario(t *testing.T) {
	// Two 10 s scenario runs against processes. The half_open kind's own
	// behaviour is proved fast in harness/link (TestHalfOpen*); the
	// stranded handler's leak evidence in targets/faulty and harness/leak.
	testenv.Long(t)
	bin := buildBinary(t)
	src, err := os.ReadFile("../../scenarios/half-open.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const argv0 = "[../out/streambench, serve,"
	if !strings.Contains(string(src), argv0) {
		t.Fatalf("scenarios/half-open.yaml no longer runs %s", argv0)
	}
	for _, tc := range []struct {
		name, extra string
		code        int
	}{
		{"correct server", "", ExitPass},
		{"stranded handler", ", --faulty, subscribe_strands_on_resubscribe", ExitFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := strings.Replace(string(src), argv0, "["+bin+", serve,", 1)
			s = strings.Replace(s, `--ring, "4096"]`, `--ring, "4096"`+tc.extra+"]", 1)
			path := filepath.Join(t.TempDir(), "half-open.yaml")
			if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			code, stdout, stderr := cli(t, "run", "--no-progress", "--out", out, path)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, stdout, stderr)
			}
			rep, err := reports.Load(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Faults) != 1 || !strings.Contains(rep.Faults[0].Scope, "5 of 10 connections") {
				t.Errorf("fault windows %+v: want one half_open over 5 of 10 connections", rep.Faults)
			}
			var leak *reports.Verdict
			for i := range rep.Assertions {
				if rep.Assertions[i].Name == "leaks: none" {
					leak = &rep.Assertions[i]
				}
			}
			if leak == nil {
				t.Fatal("no leaks verdict")
			}
			if tc.code == ExitPass {
				if !rep.Passed {
					t.Errorf("failed: %v", rep.Failed())
				}
				return
			}
			if leak.Pass || !strings.Contains(leak.Actual, "calls in flight") || !strings.Contains(leak.Actual, "pprof goroutines") {
				t.Errorf("the leak gate did not name the stranded handlers: %+v", leak)
			}
			for _, v := range rep.Assertions {
				if v.Name != "leaks: none" && !v.Pass {
					t.Errorf("%s failed too: only the leak gate should see a stranded handler", v.Name)
				}
			}
		})
	}
}
