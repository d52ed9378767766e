package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/streambench/streambench/harness/proc"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// commandTarget is a process streambench runs as the target: started on a
// free loopback port before the run, restarted and paused by server
// faults, stopped after the run, and watched for an exit nobody asked for.
type commandTarget struct {
	spec    proc.Spec
	ready   proc.Ready
	wait    time.Duration // readiness bound
	stop    time.Duration // SIGTERM -> SIGKILL at the end
	port    int
	logPath string
	tempLog bool // logPath is a temporary file of ours

	// crashed is told once about an exit nobody asked for.
	crashed func(status string, tail []string)

	mu       sync.Mutex
	p        *proc.Process
	expected bool // the current process is being stopped on purpose
	restarts int
	watchers sync.WaitGroup
}

// newCommandTarget prepares t from the scenario's target block. The
// process runs in t.Dir, taken from the scenario file's folder (home), which
// is also its default, so a relative program ("../out/server") is found
// from the scenario wherever streambench runs. dir, when set, receives the
// process's output as target.log.
func newCommandTarget(t scenario.Target, home, dir string, creds credentials.TransportCredentials) (*commandTarget, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	ps := strconv.Itoa(port)
	sub := func(in []string) []string {
		out := make([]string, len(in))
		for i, a := range in {
			out[i] = strings.ReplaceAll(a, "{port}", ps)
		}
		return out
	}
	c := &commandTarget{
		spec:  proc.Spec{Argv: sub(t.Command), Env: sub(t.Env), Dir: workDir(home, t.Dir)},
		ready: proc.Ready{Addr: "127.0.0.1:" + ps, TCP: t.Ready.TCP, Creds: creds},
		wait:  t.Ready.Timeout.D(),
		stop:  t.StopTimeout.D(),
		port:  port,
	}
	if t.Ready.Log != "" {
		c.ready.Log = regexp.MustCompile(t.Ready.Log) // validated by the plan
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("target log: %w", err)
		}
		c.logPath = filepath.Join(dir, "target.log")
		if err := os.WriteFile(c.logPath, nil, 0o644); err != nil {
			return nil, fmt.Errorf("target log: %w", err)
		}
	} else {
		// No report folder (a library run): a temporary log, for the
		// last lines of errors, removed at Close.
		f, err := os.CreateTemp("", "streambench-target-*.log")
		if err != nil {
			return nil, fmt.Errorf("target log: %w", err)
		}
		f.Close()
		c.logPath, c.tempLog = f.Name(), true
	}
	c.spec.Log = c.logPath
	return c, nil
}

// workDir is dir taken from home ("" stays the current folder).
func workDir(home, dir string) string {
	switch {
	case filepath.IsAbs(dir):
		return dir
	case home == "":
		return dir
	}
	return filepath.Join(home, dir)
}

// Addr is where the process listens.
func (c *commandTarget) Addr() string { return c.ready.Addr }

// start starts the process and waits, within the readiness bound, until it
// serves.
func (c *commandTarget) start() error {
	p, err := proc.Start(c.spec)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.p, c.expected = p, false
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.wait)
	defer cancel()
	if err := p.WaitReady(ctx, c.ready); err != nil {
		c.mu.Lock()
		c.expected = true
		c.mu.Unlock()
		p.Stop(0)
		return fmt.Errorf("command target %s: %w", strings.Join(c.spec.Argv, " "), err)
	}
	c.watchers.Add(1)
	go c.watch(p)
	return nil
}

// watch reports an exit of p that nobody asked for.
func (c *commandTarget) watch(p *proc.Process) {
	defer c.watchers.Done()
	<-p.Done()
	c.mu.Lock()
	expected := c.expected || c.p != p
	c.mu.Unlock()
	if !expected && c.crashed != nil {
		c.crashed(p.Status(), p.Tail())
	}
}

// alive reports whether the process is running.
func (c *commandTarget) alive() bool {
	p := c.current()
	if p == nil {
		return false
	}
	select {
	case <-p.Done():
		return false
	default:
		return true
	}
}

// current is the running process (nil before start).
func (c *commandTarget) current() *proc.Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p
}

// Stop stops the process: SIGTERM then SIGKILL after grace (grace 0:
// SIGKILL at once). It reports whether the process left within grace.
func (c *commandTarget) Stop(grace time.Duration) bool {
	c.mu.Lock()
	p := c.p
	c.expected = true
	c.mu.Unlock()
	if p == nil {
		return true
	}
	return p.Stop(grace)
}

// Restart starts the process again on the same port.
func (c *commandTarget) Restart() error {
	c.mu.Lock()
	c.restarts++
	c.mu.Unlock()
	return c.start()
}

// restarted is how many times the process was started again.
func (c *commandTarget) restarted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts
}

// Signal sends sig to the running process.
func (c *commandTarget) Signal(sig syscall.Signal) error {
	if p := c.current(); p != nil {
		return p.Signal(sig)
	}
	return nil
}

// Close stops the process with the target's stop timeout and waits for
// its watcher; it returns what the report says of the process.
func (c *commandTarget) Close() *reports.TargetProcess {
	c.Stop(c.stop)
	c.watchers.Wait()
	out := &reports.TargetProcess{Argv: c.spec.Argv, Port: c.port, Restarts: c.restarts, Log: c.logPath}
	if p := c.current(); p != nil {
		out.Pid, out.Exit = p.Pid(), p.Status()
	}
	if c.tempLog {
		_ = os.Remove(c.logPath)
		out.Log = ""
	}
	return out
}
