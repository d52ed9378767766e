// Package proc runs a target as a process of streambench's own: started
// with its output captured, checked for readiness within a bound, stopped
// with SIGTERM and then SIGKILL, killed, paused and resumed by its pid, and
// watched for an exit nobody asked for.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Spec is how to start the process.
type Spec struct {
	// Argv is the program and its arguments ({port} already substituted).
	Argv []string
	// Env adds KEY=VALUE entries to streambench's own environment.
	Env []string
	// Dir is the working directory ("" = streambench's).
	Dir string
	// Output receives the process's stdout and stderr (nil: discarded);
	// the last lines are also kept for Tail.
	Output io.Writer
}

// tailLines is how many of the last output lines a Process keeps.
const tailLines = 20

// Process is one run of a Spec.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, set before done closes
	tail *tail
}

// Start starts the process in its own process group (so a signal to it
// does not reach streambench, and Kill ends its children too).
func Start(s Spec) (*Process, error) {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return nil, errors.New("proc: no program")
	}
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t := &tail{}
	var w io.Writer = t
	if s.Output != nil {
		w = io.MultiWriter(s.Output, t)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Argv[0], err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), tail: t}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Status describes how the process ended ("exit status 0", "signal:
// killed"), or "running".
func (p *Process) Status() string {
	select {
	case <-p.done:
		if p.err == nil {
			return "exit status 0"
		}
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			return ee.ProcessState.String()
		}
		return p.err.Error()
	default:
		return "running"
	}
}

// Tail returns the process's last output lines.
func (p *Process) Tail() []string { return p.tail.lines() }

// Signal sends sig to the process's group.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := syscall.Kill(-p.Pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to %d: %w", sig, p.Pid(), err)
	}
	return nil
}

// Stop ends the process: SIGTERM, then SIGKILL once grace has passed
// (grace 0: SIGKILL at once). It returns whether the process left within
// grace, and waits for it to be gone (a paused process is resumed first,
// or SIGTERM would wait forever).
func (p *Process) Stop(grace time.Duration) (graceful bool) {
	_ = p.Signal(syscall.SIGCONT)
	if grace > 0 {
		_ = p.Signal(syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
			return true
		case <-t.C:
		}
	}
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
	return false
}

// tail keeps the last lines written to it.
type tail struct {
	mu      sync.Mutex
	partial []byte
	last    []string
	// watch, when set, is told every complete line.
	watch func(string)
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.partial = append(t.partial, b...)
	var lines []string
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(t.partial[:i]))
		t.partial = t.partial[i+1:]
	}
	if len(t.partial) > 4096 { // a line without end: keep it bounded
		lines = append(lines, string(t.partial))
		t.partial = t.partial[:0]
	}
	t.last = append(t.last, lines...)
	if len(t.last) > tailLines {
		t.last = t.last[len(t.last)-tailLines:]
	}
	watch := t.watch
	t.mu.Unlock()
	if watch != nil {
		for _, l := range lines {
			watch(l)
		}
	}
	return len(b), nil
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.last...)
	if len(t.partial) > 0 {
		out = append(out, string(t.partial))
	}
	return out
}

// Ready says when a started process serves.
type Ready struct {
	// Addr is where it listens.
	Addr string
	// TCP: ready when a TCP connect to Addr succeeds.
	TCP bool
	// Log: ready when an output line matches it.
	Log *regexp.Regexp
	// Creds are the transport credentials of the health check (nil:
	// plaintext).
	Creds credentials.TransportCredentials
	// Otherwise ready when grpc.health.v1 at Addr answers SERVING.
}

// WaitReady waits until p is ready by r, until ctx ends, or until p exits,
// and says which in its error.
func (p *Process) WaitReady(ctx context.Context, r Ready) error {
	var seen chan struct{}
	if r.Log != nil {
		seen = make(chan struct{})
		var once sync.Once
		match := func(l string) {
			if r.Log.MatchString(l) {
				once.Do(func() { close(seen) })
			}
		}
		p.tail.mu.Lock()
		p.tail.watch = match
		earlier := append([]string(nil), p.tail.last...)
		p.tail.mu.Unlock()
		for _, l := range earlier {
			match(l)
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		switch {
		case seen != nil:
			select {
			case <-seen:
				return nil
			default:
			}
		case r.TCP:
			if c, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
				c.Close()
				return nil
			}
		default:
			if serving(ctx, r.Addr, r.Creds) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready (%s) before the bound: %w", r.what(), ctx.Err())
		case <-p.done:
			return fmt.Errorf("exited (%s) before it was ready (%s); last output:\n%s", p.Status(), r.what(), strings.Join(p.Tail(), "\n"))
		case <-tick.C:
		}
	}
}

func (r Ready) what() string {
	switch {
	case r.Log != nil:
		return fmt.Sprintf("a line matching %q", r.Log)
	case r.TCP:
		return "a TCP connect to " + r.Addr
	}
	return "grpc.health.v1 SERVING at " + r.Addr
}

// serving reports whether the health service at addr answers SERVING
// (one bounded attempt), with creds (nil: plaintext).
func serving(ctx context.Context, addr string, creds credentials.TransportCredentials) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return false
	}
	defer cc.Close()
	res, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	return err == nil && res.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// FreePort returns a loopback port nobody listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
