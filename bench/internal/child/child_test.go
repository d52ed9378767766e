package child

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun: output and rusage of a clean run; a failing one's error says
// its exit status and stderr; a child (and its own child) past the
// deadline is killed by process group, in bounded time.
func TestRun(t *testing.T) {
	ctx := context.Background()
	res, err := Run(ctx, 5*time.Second, "sh", "-c", "echo out")
	if err != nil || string(res.Stdout) != "out\n" || res.Rusage == nil {
		t.Fatalf("clean run: %q %v %v", res.Stdout, res.Rusage, err)
	}
	_, err = Run(ctx, 5*time.Second, "sh", "-c", "echo why >&2; exit 1")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.HasSuffix(err.Error(), ": why") {
		t.Errorf("failed run: %v", err)
	}
	began := time.Now()
	_, err = Run(ctx, 300*time.Millisecond, "sh", "-c", "sleep 30 & sleep 30")
	if err == nil || time.Since(began) > 4*time.Second {
		t.Errorf("past the deadline: %v after %v", err, time.Since(began))
	}
}
