package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/internal/testenv"
	"github.com/streambench/streambench/reports"
)

func TestMain(m *testing.M) {
	// The parallel tests here mostly wait: on a run's duration, on a
	// process of streambench serve, on a shard barrier. Four at once.
	testenv.Parallel(4)
	dir, err := os.MkdirTemp("", "streambench-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// goleak's cleanup replaces its os.Exit: it removes the folder after
	// the leak check, then exits with the tests' code.
	opts := []goleak.Option{goleak.Cleanup(func(code int) { os.RemoveAll(dir); os.Exit(code) })}
	// The goroutines toxiproxy v2.12.0 strands when a connection's
	// upstream dies while its client sends (link.Stranded, an upstream
	// bug): TestCommandTargetRidesOutProcessFaults restarts a command
	// target behind a toxiproxy link, which makes them now and then (a
	// full -race run left one NoopToxic.Pipe in a channel send).
	for _, f := range link.Stranded {
		opts = append(opts, goleak.IgnoreTopFunction(f))
	}
	goleak.VerifyTestMain(m, opts...)
}

// binDir holds the streambench binary the process-level tests share.
var binDir string

var binOnce struct {
	sync.Mutex
	path string
}

// mini is a small scenario of all four RPCs without timing thresholds.
const mini = "testdata/mini.yaml"

func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunWritesReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errs := cli(t, "run", "--no-progress", "--duration", "1s", "--out", dir, mini)
	if code != ExitPass {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"group", "p99", "PASS  eof: clean", "PASSED"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	rep, err := reports.Load(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || len(rep.Groups) != 4 || rep.Scenario.Name != "mini" {
		t.Fatalf("report: passed=%v groups=%d name=%q", rep.Passed, len(rep.Groups), rep.Scenario.Name)
	}
	if _, err := rep.Groups[0].Latency.Decode(); err != nil {
		t.Fatalf("latency histogram does not decode: %v", err)
	}
	// The replay line keeps the --duration override.
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "streambench run --seed 7 --duration 1s " + mini; !strings.Contains(string(page), want) {
		t.Errorf("report.html lacks the replay command %q", want)
	}
}

// TestRunProfiles: --cpuprofile and --memprofile write pprof files that
// go tool pprof reads (gzipped protobuf), and an unwritable path is bad input.
func TestRunProfiles(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof")
	code, out, errs := cli(t, "run", "--no-progress", "--duration", "1s", "--out", dir,
		"--cpuprofile", cpu, "--memprofile", mem, mini)
	if code != ExitPass {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, p := range []string{cpu, mem} {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 100 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: %d bytes, err %v; want a gzipped pprof profile", p, len(b), err)
		}
	}
	code, _, errs = cli(t, "run", "--no-progress", "--duration", "1s", "--out", dir,
		"--cpuprofile", filepath.Join(dir, "missing", "cpu.pprof"), mini)
	if code != ExitBadInput || !strings.Contains(errs, "--cpuprofile") {
		t.Fatalf("unwritable --cpuprofile: exit %d, stderr %q; want 2 naming the flag", code, errs)
	}
}

func TestRunFaultyExitsOne(t *testing.T) {
	t.Parallel()
	code, out, _ := cli(t, "run", "--no-progress", "--duration", "1s", "--out", t.TempDir(), "--faulty", "pow_early_eof", mini)
	if code != ExitFail {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	if !regexp.MustCompile(`FAIL\s+eof: clean`).MatchString(out) {
		t.Fatalf("summary does not name the failed eof assertion:\n%s", out)
	}
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	good := "name: x\nduration: 1s\ngroups:\n  - rpc: Math/Pow\n    clients: 1\n"
	for _, tc := range []struct {
		name string
		args func(t *testing.T) []string
		want []string
	}{
		{"unknown key", func(t *testing.T) []string {
			return []string{"run", writeFile(t, "s.yaml", good+"    clinets: 3\n")}
		}, []string{"s.yaml:6:5", "clinets", "clients"}},
		{"bad assertion", func(t *testing.T) []string {
			return []string{"validate", writeFile(t, "s.yaml", good+"assert:\n  - latency.p150 < 1s\n")}
		}, []string{"s.yaml:7:5", "p150"}},
		{"bad rpc", func(t *testing.T) []string {
			return []string{"run", writeFile(t, "s.yaml", strings.Replace(good, "Math/Pow", "Math/Pwo", 1))}
		}, []string{"s.yaml:4:10", "Math/Pow"}},
		{"missing file", func(t *testing.T) []string { return []string{"run", "nope.yaml"} }, []string{"nope.yaml"}},
		{"no args", func(t *testing.T) []string { return []string{"run"} }, []string{"want 1 argument"}},
		{"unknown flag", func(t *testing.T) []string { return []string{"run", "--bogus", mini} }, []string{"bogus"}},
		{"unknown command", func(t *testing.T) []string { return []string{"rnu"} }, []string{"rnu"}},
		{"unknown bug", func(t *testing.T) []string { return []string{"run", "--faulty", "nope", mini} }, []string{"pow_early_eof"}},
		{"remote target", func(t *testing.T) []string { return []string{"run", "--target", "10.0.0.1:80", "--insecure", mini} }, []string{"loopback"}},
		{"faults against --target", func(t *testing.T) []string {
			return []string{"run", "--target", "127.0.0.1:1", "--insecure", "../../scenarios/reconnect.yaml"}
		}, []string{"reconnect.yaml:35:30: faults[1].kind: server_restart", "the address target (127.0.0.1:1, set by --target) is not a server streambench can stop and start again, and takes no server faults"}},
		{"duration override drops faults", func(t *testing.T) []string {
			return []string{"run", "--duration", "3s", "../../scenarios/reconnect.yaml"}
		}, []string{"reconnect.yaml:35:", "faults[1].at: must be before the end of the run (duration 3s, set by --duration), got"}},
		{"duration override zero", func(t *testing.T) []string { return []string{"run", "--duration", "0", mini} }, []string{"--duration: must be > 0"}},
		{"duration override negative", func(t *testing.T) []string { return []string{"run", "--duration", "-1s", mini} }, []string{"--duration: must be > 0"}},
		{"client scale zero", func(t *testing.T) []string { return []string{"run", "--client-scale", "0", mini} }, []string{"--client-scale: must be > 0"}},
		{"serve remote", func(t *testing.T) []string { return []string{"serve", "--addr", "0.0.0.0:7070"} }, []string{"loopback"}},
		{"serve bad rate", func(t *testing.T) []string { return []string{"serve", "--rate", "fast"} }, []string{"--rate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, tc.args(t)...)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestValidateEveryScenario(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../../scenarios/*.yaml")
	if len(files) == 0 {
		t.Fatal("no scenarios found")
	}
	code, out, errs := cli(t, append([]string{"validate"}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

// TestHeaderFlag: -H adds metadata; a bad one is exit 2 naming the flag,
// not a place in the scenario file.
func TestHeaderFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		h, want string
	}{
		{"Bad: v", `-H "Bad: v": "Bad" is not a gRPC metadata key`},
		{"novalue", `-H "novalue": want 'key: value'`},
	} {
		code, _, se := cli(t, "run", "-H", tc.h, "../../scenarios/smoke.yaml")
		if code != ExitBadInput || !strings.Contains(se, tc.want) || strings.Contains(se, "smoke.yaml:") {
			t.Errorf("-H %q: exit %d: %s", tc.h, code, se)
		}
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	code, out, _ := cli(t, "list")
	if code != 0 {
		t.Fatal(code)
	}
	for _, w := range []string{"Math/Sqrt", "bufconn", "eof", "latency.<stat>", "subscribe_skips_seq", "command", "server and stream faults: server_restart, graceful_restart, pause"} {
		if !strings.Contains(out, w) {
			t.Errorf("list lacks %q", w)
		}
	}
	for _, width := range []string{"100", "60"} {
		_, out, _ := cli(t, "list", "--width", width)
		w, _ := strconv.Atoi(width)
		for _, l := range strings.Split(out, "\n") {
			if len(l) > w && strings.Contains(strings.TrimSpace(l), " ") {
				t.Errorf("--width %s: a line of %d columns: %q", width, len(l), l)
			}
		}
	}
	code, out, _ = cli(t, "list", "faults")
	if code != 0 || !strings.Contains(out, "FAULT KINDS") || strings.Contains(out, "RPCS") {
		t.Errorf("list faults: exit %d\n%s", code, out)
	}
	code, out, _ = cli(t, "list", "--json", "targets", "rpcs")
	var got map[string][]struct {
		Name  string
		Takes []string
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || len(got) != 2 || len(got["targets"]) != 4 || got["targets"][0].Name != "builtin" || len(got["rpcs"]) == 0 {
		t.Errorf("list --json: exit %d, %v: %s", code, err, out)
	}
	if code, _, se := cli(t, "list", "fautls"); code != ExitBadInput || !strings.Contains(se, `did you mean "faults"?`) {
		t.Errorf("unknown topic: exit %d: %s", code, se)
	}
}

// buildBinary builds streambench for the process-level tests, once per
// test process: each build relinks (about 3 s of CPU), and a dozen tests
// share the binary, which none of them changes.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Lock()
	defer binOnce.Unlock()
	if binOnce.path != "" {
		return binOnce.path
	}
	bin := filepath.Join(binDir, "streambench")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	binOnce.path = bin
	return bin
}

// waitExit waits for cmd with a deadline and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not exit within %v", cmd.Args, limit)
		return -1
	}
}

// TestServeAndRunAgainstIt starts `streambench serve` as a real process,
// runs a scenario against it with --target, then stops it with SIGINT.
func TestServeAndRunAgainstIt(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	srv := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--rate", "20/s")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var serr bytes.Buffer
	srv.Stderr = &serr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var addr string
	select {
	case l := <-lines:
		m := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("unexpected first line %q", l)
		}
		addr = m[1]
	case <-time.After(30 * time.Second):
		t.Fatal("serve printed no address")
	}

	code, out, errs := cli(t, "run", "--no-progress", "--duration", "1s", "--out", t.TempDir(), "--target", addr, "--insecure", mini)
	if code != ExitPass {
		t.Fatalf("run against serve: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "target passthrough:///"+addr) {
		t.Errorf("summary does not name the external target:\n%s", out)
	}

	if err := srv.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, srv, 15*time.Second); code != 0 {
		t.Fatalf("serve exited %d after SIGINT, want 0; stderr:\n%s", code, serr.String())
	}
	for range lines {
	}
}

// TestRunInterrupted sends SIGINT to a real `streambench run`: the first
// drains and writes a partial report (exit 130), and a second one aborts at
// once (exit 130).
func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	start := func(out, scenario string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "run", "--no-progress", "--duration", "60s", "--out", out, scenario)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		time.Sleep(2 * time.Second) // let clients start streaming
		return cmd, &buf
	}

	t.Run("first drains and writes the report", func(t *testing.T) {
		dir := t.TempDir()
		cmd, buf := start(dir, mini)
		_ = cmd.Process.Signal(syscall.SIGINT)
		if code := waitExit(t, cmd, 30*time.Second); code != ExitInterrupted {
			t.Fatalf("exit %d, want 130\n%s", code, buf)
		}
		rep, err := reports.Load(filepath.Join(dir, "report.json"))
		if err != nil {
			t.Fatalf("no partial report: %v\n%s", err, buf)
		}
		if !rep.Interrupted || rep.Groups[0].Streams.Opened == 0 {
			t.Fatalf("report interrupted=%v opened=%d", rep.Interrupted, rep.Groups[0].Streams.Opened)
		}
	})
	t.Run("second aborts", func(t *testing.T) {
		// Its streams would take a minute to drain.
		cmd, buf := start(t.TempDir(), "testdata/slowdrain.yaml")
		_ = cmd.Process.Signal(syscall.SIGINT)
		time.Sleep(200 * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGINT)
		if code := waitExit(t, cmd, 5*time.Second); code != ExitInterrupted {
			t.Fatalf("exit %d, want 130\n%s", code, buf)
		}
		if !strings.Contains(buf.String(), "aborted") {
			t.Fatalf("no abort message:\n%s", buf)
		}
	})
}

// TestDeadTargetExitsThreeAtOnce: a target nobody listens at is said to be
// unreachable within seconds (exit 3), not run against for the whole
// duration and reported as a leak-probe failure.
func TestDeadTargetExitsThreeAtOnce(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	start := time.Now()
	code, _, errs := cli(t, "run", "--no-progress", "--duration", "30s", "--out", t.TempDir(), "--target", addr, "--insecure", mini)
	if code != ExitHarness {
		t.Fatalf("exit %d, want %d\n%s", code, ExitHarness, errs)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v to give up on a dead target", took)
	}
	for _, want := range []string{"target " + addr + " is unreachable", "connection refused"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}
