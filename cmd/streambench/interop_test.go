package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/internal/testenv"
	"github.com/streambench/streambench/reports"
)

// TestInteropScenario runs scenarios/interop.yaml: grpc-go's interop
// server, built by this test from the module cache (bench/interop/
// build-server.sh) and run as a command target, driven generically from
// its descriptors through toxiproxy, latency, severs, a process restart
// and stream faults (through the proxy in front of the process). Every
// assertion must pass: what the interop tests define for
// server_streaming, client_streaming and ping_pong, latency and leaks; and
// report.json counts the stream faults' injections.
// Without the Go module proxy the server cannot be built and the test
// skips, unless STREAMBENCH_REQUIRE_INTEROP is set (as .ci/run does).
func TestInteropScenario(t *testing.T) {
	testenv.Long(t)
	if testing.Short() {
		t.Skip("builds grpc-go's interop server and runs a 20 s scenario")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := buildServer(ctx, t, "bench/interop/build-server.sh", "interop-server", "STREAMBENCH_REQUIRE_INTEROP")
	// A process of its own: toxiproxy strands a few goroutines when the
	// target is killed under it (the report says so), which this test
	// binary's goleak check would otherwise count.
	bin := buildBinary(t)
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "run", "--no-progress", "--out", dir, filepath.Join(root, "scenarios", "interop.yaml"))
	stdout, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout)
	}
	rep, err := reports.Load(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.TargetProcess == nil || rep.TargetProcess.Restarts != 1 || !strings.HasSuffix(rep.TargetProcess.Argv[0], "out/interop-server") {
		t.Errorf("target process: %+v", rep.TargetProcess)
	}
	if rep.Server == nil || rep.Server.Injected == 0 || rep.Server.Ends["Unavailable"] == 0 {
		t.Errorf("report.json does not count the stream faults' injections: %+v", rep.Server)
	}
	for _, f := range rep.Faults {
		if f.Kind == "stream_abort" && f.Ends["status:Unavailable"] == 0 {
			t.Errorf("the stream_abort window counted no aborted stream: %+v", f)
		}
	}
	for _, g := range []string{"server_streaming", "client_streaming", "ping_pong"} {
		if gr := rep.Group(g); gr == nil || gr.Ends["status:Unavailable"] == 0 {
			t.Errorf("group %s saw none of the faults: %+v", g, gr)
		}
	}
}

// buildServer builds a server nobody here wrote from the module cache with
// its script (bench/*/build-server.sh) into out/NAME under the module's
// root, and returns the root. Without the Go module proxy the build fails
// and the test skips, unless the require variable is set (as .ci/run
// sets it): then it fails.
func buildServer(ctx context.Context, t *testing.T, script, name, require string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, "bash", filepath.Join(root, script), filepath.Join(root, "out", name)).CombinedOutput()
	if err != nil {
		if os.Getenv(require) == "" {
			t.Skipf("cannot build %s (module proxy?): %v\n%s", name, err, out)
		}
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	return root
}

// runVariant runs scenarios/NAME.yaml with bin, its text's first from
// replaced by to (from "" runs it as it is: a planted bug is a variant),
// written beside the original so its relative paths hold. It returns the
// report, the verdict named verdict (zero if absent: it does not pass),
// what the run printed and how it exited.
func runVariant(ctx context.Context, t *testing.T, bin, root, name, from, to, verdict string) (*reports.Report, reports.Verdict, []byte, error) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "scenarios", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if from != "" {
		if !strings.Contains(text, from) {
			t.Fatalf("%q not in scenarios/%s.yaml", from, name)
		}
		text = strings.Replace(text, from, to, 1)
	}
	file := filepath.Join(root, "scenarios", "."+name+"-planted.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(file)
	dir := t.TempDir()
	stdout, runErr := exec.CommandContext(ctx, bin, "run", "--no-progress", "--out", dir, file).CombinedOutput()
	rep, err := reports.Load(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	var v reports.Verdict
	for _, x := range rep.Assertions {
		if x.Name == verdict {
			v = x
		}
	}
	return rep, v, stdout, runErr
}
