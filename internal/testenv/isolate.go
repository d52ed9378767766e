package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// IsolateEnv is the environment variable that names, in a child process
// Isolate started, the test the child runs.
const IsolateEnv = "STREAMBENCH_ISOLATED"

// isolateBound bounds a child when the parent test has no deadline.
const isolateBound = 10 * time.Minute

// Isolate runs the test t in a child process of the test binary,
// side by side with the parent's other parallel tests, and reports whether
// the caller is the parent, which then returns at once:
//
//	if testenv.Isolate(t) {
//		return
//	}
//
// In the child it returns false and the test runs as usual; for a subtest,
// its parent test runs there too, with only this subtest. It is for a
// test whose verdict judges the whole process — a run asserting leaks
// judges every goroutine, descriptor and the heap — and so could not run
// beside another test in one process: in its own it sees only its own run,
// and its waits (a leak check's settle) overlap the parent's other tests
// instead of holding them back. The child's output is logged when it fails.
func Isolate(t *testing.T) bool {
	t.Helper()
	if os.Getenv(IsolateEnv) == t.Name() {
		return false
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), isolateBound)
	if d, ok := t.Deadline(); ok {
		cancel()
		// Leave the parent time to report what the child printed.
		ctx, cancel = context.WithDeadline(context.Background(), d.Add(-5*time.Second))
	}
	defer cancel()
	start := time.Now()
	var flags []string
	if testing.Short() {
		flags = append(flags, "-test.short")
	}
	out, err := runIsolated(ctx, t.Name(), flags, nil)
	if err != nil {
		t.Fatal(err)
	}
	if skipped(out, t.Name()) {
		t.Skipf("skipped in a process of its own:\n%s", out)
	}
	t.Logf("ran in a process of its own (%v)", time.Since(start).Round(time.Millisecond))
	return true
}

// skipped reports whether a child's verbose output says test name skipped.
func skipped(out []byte, name string) bool {
	return bytes.Contains(out, []byte("--- SKIP: "+name+" ("))
}

// runIsolated runs the test binary's test name (a subtest's full name
// too) in a child process bounded by ctx, with flags added to its command
// line and env to its environment, and returns the child's verbose output.
// A child that fails, or in which the test did not run at all, is an error.
func runIsolated(ctx context.Context, name string, flags, env []string) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("testenv.Isolate: no test name")
	}
	levels := strings.Split(name, "/")
	for i, l := range levels {
		levels[i] = "^" + regexp.QuoteMeta(l) + "$"
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("testenv.Isolate: the test binary: %w", err)
	}
	timeout := isolateBound
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	args := append([]string{"-test.run=" + strings.Join(levels, "/"), "-test.count=1", "-test.v=true",
		"-test.timeout=" + timeout.String()}, flags...)
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(append(os.Environ(), env...), IsolateEnv+"="+name)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s, in a process of its own (pid %d): %w\n%s", name, pidOf(cmd), err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+name+" (")) && !skipped(out, name) {
		return out, fmt.Errorf("%s, in a process of its own (pid %d), did not run:\n%s", name, pidOf(cmd), out)
	}
	return out, nil
}

// pidOf is the pid of cmd's process, or 0 if it did not start.
func pidOf(cmd *exec.Cmd) int {
	if cmd.Process == nil {
		return 0
	}
	return cmd.Process.Pid
}
