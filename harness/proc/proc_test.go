package proc

import (
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start starts sh -c script with its output in a log in the test's folder;
// the process is stopped by its pid at the test's end.
func start(t *testing.T, script string) *Process {
	t.Helper()
	p, err := Start(Spec{Argv: []string{"sh", "-c", script}, Log: filepath.Join(t.TempDir(), "out.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(0) })
	return p
}

// TestStop: a process that leaves on SIGTERM stops gracefully; one that
// ignores it is killed once the grace has passed; a paused one is resumed
// so SIGTERM reaches it. Each status says how it ended.
func TestStop(t *testing.T) {
	for _, tc := range []struct {
		name     string
		script   string
		pause    bool
		graceful bool
		status   string
	}{
		{"leaves on SIGTERM", "exec sleep 30", false, true, "signal: terminated"},
		{"ignores SIGTERM", "trap '' TERM; echo up; while :; do sleep 0.05; done", false, false, "signal: killed"},
		{"paused", "exec sleep 30", true, true, "signal: terminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.script)
			if strings.Contains(tc.script, "echo up") {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := p.WaitReady(ctx, Ready{Log: regexp.MustCompile("^up$")}); err != nil {
					t.Fatal(err) // the trap is set before the line is written
				}
			}
			if tc.pause {
				if err := p.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
			}
			if got := p.Status(); got != "running" {
				t.Fatalf("status before Stop: %s", got)
			}
			began := time.Now()
			if got := p.Stop(300 * time.Millisecond); got != tc.graceful {
				t.Errorf("graceful = %v, want %v", got, tc.graceful)
			}
			if d := time.Since(began); d > 5*time.Second {
				t.Errorf("Stop took %v", d)
			}
			if got := p.Status(); got != tc.status {
				t.Errorf("status %q, want %q", got, tc.status)
			}
		})
	}
}

// TestWaitReady: each way of being ready is seen, a process that exits
// first is said with its status and last output, and one that never gets
// ready ends at the bound.
func TestWaitReady(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	defer srv.Stop()
	addr := lis.Addr().String()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	closed := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	for _, tc := range []struct {
		name   string
		script string
		ready  Ready
		bound  time.Duration
		errHas string // "" = ready
	}{
		{"log line", "echo starting; sleep 0.2; echo listening on 1234; exec sleep 30", Ready{Log: regexp.MustCompile(`listening on \d+`)}, 5 * time.Second, ""},
		{"tcp", "exec sleep 30", Ready{Addr: addr, TCP: true}, 5 * time.Second, ""},
		{"health SERVING", "exec sleep 30", Ready{Addr: addr}, 5 * time.Second, ""},
		{"exits first", "echo bad flag >&2; exit 3", Ready{Addr: closed}, 5 * time.Second, "exited (exit status 3) before it was ready (grpc.health.v1 SERVING at " + closed + "); last output:\nbad flag"},
		{"never ready", "exec sleep 30", Ready{Addr: closed, TCP: true}, 300 * time.Millisecond, "not ready (a TCP connect to " + closed + ") before the bound"},
		{"log never matches", "echo other; exec sleep 30", Ready{Log: regexp.MustCompile("ready")}, 300 * time.Millisecond, `not ready (a line matching "ready")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.script)
			ctx, cancel := context.WithTimeout(context.Background(), tc.bound)
			defer cancel()
			err := p.WaitReady(ctx, tc.ready)
			switch {
			case tc.errHas == "" && err != nil:
				t.Fatal(err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Fatalf("err %v, want %q", err, tc.errHas)
			}
		})
	}
	// Not serving: the health check must say SERVING, not just answer.
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	p := start(t, "exec sleep 30")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.WaitReady(ctx, Ready{Addr: addr}); err == nil {
		t.Error("ready while NOT_SERVING")
	}
}

// TestTailAndRestartLog: a restart appends to the log; Tail gives the last
// lines of every run, and a log line of an earlier run does not make a
// later run ready.
func TestTailAndRestartLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "out.log")
	first, err := Start(Spec{Argv: []string{"sh", "-c", "echo ready one"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	<-first.Done()
	second, err := Start(Spec{Argv: []string{"sh", "-c", "echo second; exec sleep 30"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop(0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := second.WaitReady(ctx, Ready{Log: regexp.MustCompile("ready")}); err == nil {
		t.Error("the first run's line made the second ready")
	}
	if got := strings.Join(second.Tail(), "|"); got != "ready one|second" {
		t.Errorf("tail %q", got)
	}
	if _, err := Start(Spec{Argv: []string{"/nonexistent/prog"}, Log: log}); err == nil || !strings.Contains(err.Error(), "/nonexistent/prog") {
		t.Errorf("a program that does not exist: %v", err)
	}
	if _, err := Start(Spec{Log: log}); err == nil {
		t.Error("no program started")
	}
}
