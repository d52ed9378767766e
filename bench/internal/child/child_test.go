package child

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
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

// TestServe: a server child is ready when it says where it listens; Stop
// ends it with SIGTERM, or kills its group when it ignores that; a child
// that never says it is ready, or exits first, is an error in bounded time.
func TestServe(t *testing.T) {
	ready := regexp.MustCompile(`listening on (\S+)`)
	s, err := Serve(5*time.Second, ready, "sh", "-c", "echo starting; echo listening on 127.0.0.1:7070; exec sleep 30")
	if err != nil || s.Addr != "127.0.0.1:7070" {
		t.Fatalf("serve: %+v %v", s, err)
	}
	if res, err := s.Stop(5 * time.Second); err != nil || res.Rusage == nil {
		t.Fatalf("stop: %v %v", res, err)
	}

	s, err = Serve(5*time.Second, ready, "sh", "-c", `trap "" TERM; echo listening on x:1; sleep 30 & wait`)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := s.Stop(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "killed") || time.Since(began) > 4*time.Second {
		t.Fatalf("a child ignoring SIGTERM: %v after %v", err, time.Since(began))
	}

	began = time.Now()
	if _, err := Serve(300*time.Millisecond, ready, "sh", "-c", "exec sleep 30"); err == nil || time.Since(began) > 4*time.Second {
		t.Fatalf("never ready: %v after %v", err, time.Since(began))
	}
	if _, err := Serve(5*time.Second, ready, "sh", "-c", "echo oops >&2; exit 3"); err == nil || !strings.Contains(err.Error(), "exited before") {
		t.Fatalf("exits first: %v", err)
	}
}
