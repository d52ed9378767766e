// Package child runs a benchmark's child process under a deadline and
// reports what it cost: its output, its rusage (CPU time, peak RSS) and
// its wall time.
package child

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Result is what a child printed and cost.
type Result struct {
	Stdout []byte
	// Rusage is the child's resource usage (nil if it never started).
	Rusage *syscall.Rusage
	Wall   time.Duration
}

// stderrTail is how much of the child's stderr an error carries.
const stderrTail = 400

// Run runs argv until it exits or timeout passes; then its whole process
// group is killed (a child's own children too). A failed run's error wraps
// the *exec.ExitError and ends with the last of its stderr.
func Run(ctx context.Context, timeout time.Duration, argv ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	start := time.Now()
	err := c.Run()
	res := Result{Stdout: stdout.Bytes(), Wall: time.Since(start)}
	if c.ProcessState != nil {
		res.Rusage, _ = c.ProcessState.SysUsage().(*syscall.Rusage)
	}
	if err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > stderrTail {
			tail = tail[len(tail)-stderrTail:]
		}
		return res, fmt.Errorf("%s: %w: %s", filepath.Base(argv[0]), err, tail)
	}
	return res, nil
}
