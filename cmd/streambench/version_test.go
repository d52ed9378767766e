package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/internal/testenv"
	"github.com/streambench/streambench/reports"
)

// TestVersionStamp builds the binary as a release build does, with the
// version stamped in at link time, and checks that `version`, `--version`
// and the report's environment all say the stamped version, and the first
// two the Go version.
func TestVersionStamp(t *testing.T) {
	// A long test: building the release binary (CGO_ENABLED=0,
	// -trimpath, stamped) shares no build cache with the test binaries and
	// took 113 s of the README's test command.
	testenv.Long(t)
	const stamp = "v9.9.9"
	// The release workflow and the container image stamp the same
	// variable this test does.
	const flag = "-X github.com/streambench/streambench/internal/version.Stamp="
	for _, f := range []string{"../../.github/workflows/release.yml", "../../deploy/Dockerfile"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), flag) {
			t.Errorf("%s does not stamp the version with %s", f, flag)
		}
	}
	bin := filepath.Join(t.TempDir(), "streambench")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-X github.com/streambench/streambench/internal/version.Stamp="+stamp, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("streambench %v: %v\n%s", args, err, out)
		}
		if want := "streambench " + stamp + " ("; !strings.HasPrefix(string(out), want) {
			t.Errorf("streambench %v = %q, want it to start with %q", args, out, want)
		}
		if !strings.Contains(string(out), runtime.Version()) {
			t.Errorf("streambench %v = %q, lacks the Go version %s", args, out, runtime.Version())
		}
	}
	dir := t.TempDir()
	if out, err := exec.CommandContext(ctx, bin, "run", "--no-progress", "--duration", "1s", "--out", dir, mini).CombinedOutput(); err != nil {
		t.Fatalf("streambench run: %v\n%s", err, out)
	}
	rep, err := reports.Load(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Environment.Streambench != stamp {
		t.Errorf("report environment streambench = %q, want the stamped %q", rep.Environment.Streambench, stamp)
	}
}
