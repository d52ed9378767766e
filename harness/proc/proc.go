// Package proc runs a target as a process of streambench's own: started
// with its output captured, checked for readiness within a bound, stopped
// with SIGTERM and then SIGKILL, killed, paused and resumed by its pid, and
// watched for an exit nobody asked for.
package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
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
	// Log is the file the process's stdout and stderr are appended to (a
	// restart appends). The process writes it directly: no pipe and no
	// copying goroutine in streambench. Tail and readiness by log line
	// read it back.
	Log string
}

// tailLines is how many of the last output lines Tail returns.
const tailLines = 20

// Process is one run of a Spec.
type Process struct {
	cmd  *exec.Cmd
	log  string
	from int64 // the log's size when this run began
	done chan struct{}
	err  error // Wait's result, set before done closes
}

// Start starts the process in its own process group (so a signal to it
// does not reach streambench, and Kill ends its children too).
func Start(s Spec) (*Process, error) {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return nil, errors.New("proc: no program")
	}
	if s.Log == "" {
		return nil, errors.New("proc: no log file")
	}
	out, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("proc: log: %w", err)
	}
	var from int64
	if st, err := out.Stat(); err == nil {
		from = st.Size()
	}
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Start()
	out.Close() // the process has its own descriptor
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Argv[0], err)
	}
	p := &Process{cmd: cmd, log: s.Log, from: from, done: make(chan struct{})}
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

// Tail returns the last lines of the process's output (of every run
// that appended to its log).
func (p *Process) Tail() []string { return tailOf(p.log, tailLines) }

// tailOf reads the last n lines of the file at path (from its last 64KiB).
func tailOf(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const window = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		if _, err := f.Seek(st.Size()-window, io.SeekStart); err != nil {
			return nil
		}
	}
	b, _ := io.ReadAll(io.LimitReader(f, window))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines
}

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
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		switch {
		case r.Log != nil:
			if p.logMatches(r.Log) {
				return nil
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

// logMatches reports whether a line this run of the process wrote matches
// re (read from its first MiB, where a server says it listens).
func (p *Process) logMatches(re *regexp.Regexp) bool {
	f, err := os.Open(p.log)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := f.Seek(p.from, io.SeekStart); err != nil {
		return false
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	for _, l := range strings.Split(string(b), "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
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
