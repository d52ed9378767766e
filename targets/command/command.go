// Package command is the command target kind: a process streambench
// starts on a free loopback port ("{port}" in its argv and env), waits for
// until it serves (grpc.health SERVING, a TCP accept or a log line, within
// a bound), reaches through a tcp or toxiproxy link, restarts and pauses as
// server faults, watches for an exit nobody asked for, and stops by its
// pid at the end (SIGTERM, then SIGKILL after target.stop_timeout). It
// takes the stream faults through a proxy of streambench's (proxy.Host:
// the frame relay, or the gRPC proxy for the kinds that need it), started
// in front of the process only for a run that has them, and not over TLS
// (target.tls).
package command

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

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/proc"
	"github.com/streambench/streambench/harness/proxy"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/reports"
)

// Kind is the command target kind.
var Kind = target.Kind{
	Name: "command",
	Doc:  "a process streambench starts on a free loopback port (target.command), restarts and pauses as faults, and stops",
	New: func(s target.Spec) (target.Target, error) {
		c := &commandTarget{t: s.Scenario.Target, home: home(s.Scenario.File)}
		if s.Scenario.Target.TLS != nil {
			// The proxy would need the server's certificate and key to
			// present to the clients: no stream faults over TLS.
			return c, nil
		}
		return &proxied{commandTarget: c}, nil
	},
}

func home(file string) string {
	if file == "" {
		return ""
	}
	return filepath.Dir(file)
}

var (
	_ fault.Restarter = (*commandTarget)(nil)
	_ fault.Pauser    = (*commandTarget)(nil)
	_ target.Prober   = (*commandTarget)(nil)
	_ target.Gauged   = (*commandTarget)(nil)
	_ target.TLSHost  = (*commandTarget)(nil)
)

func (c *commandTarget) Label() string { return target.Label("command", "") }

// Name names the process by the address it serves at.
func (c *commandTarget) Name() string { return "the target process at " + c.Addr() }

// Start starts the process, waits until it serves, and puts the link in
// front of it. An exit nobody asked for later is an event and the run's
// error.
func (c *commandTarget) Start(_ context.Context, env target.Env) (target.Reach, error) {
	if err := c.startProcess(env); err != nil {
		return target.Reach{}, err
	}
	return env.Front(c.Addr())
}

// startProcess starts the process and waits until it serves.
func (c *commandTarget) startProcess(env target.Env) error {
	if err := c.prepare(env.Artifacts, env.Creds); err != nil {
		return err
	}
	c.crashed = func(status string, tail []string) {
		env.Event("target_exit", "", status)
		at := ""
		if env.Elapsed != nil {
			at = fmt.Sprintf(" at %.1fs", env.Elapsed().Seconds())
		}
		env.Crashed(fmt.Sprintf("the target process (%s) exited by itself%s (%s); its last output:\n%s",
			strings.Join(c.spec.Argv, " "), at, status, strings.Join(tail, "\n")))
	}
	return c.start()
}

// proxied is a command target dialled without TLS: it hosts the stream
// faults through a proxy in front of the process (proxy.Host), started
// only for a run that has them.
type proxied struct {
	*commandTarget
	proxy.Host
}

var _ fault.StreamProxy = (*proxied)(nil)

// Start starts the process, then puts the link in front of it, or in
// front of the proxy when the run has stream faults.
func (p *proxied) Start(_ context.Context, env target.Env) (target.Reach, error) {
	if err := p.startProcess(env); err != nil {
		return target.Reach{}, err
	}
	return p.Front(env, p.Addr())
}

// Stop stops the proxy, if one runs (its calls upstream end as the
// server sees a client cancel), then the process.
func (p *proxied) Stop(grace time.Duration) error {
	p.Host.Stop(grace)
	return p.commandTarget.Stop(grace)
}

// StopServer stops the process (SIGTERM, SIGKILL after grace; grace 0:
// SIGKILL at once).
func (c *commandTarget) StopServer(grace time.Duration) bool { return c.stopProcess(grace) }

// StartServer starts the process again on the same port.
func (c *commandTarget) StartServer() error { return c.Restart() }

// Pause stops the process (SIGSTOP).
func (c *commandTarget) Pause() error { return c.Signal(syscall.SIGSTOP) }

// Resume lets it go on (SIGCONT).
func (c *commandTarget) Resume() error { return c.Signal(syscall.SIGCONT) }

// Probes: the process's channelz, while it is alive (a process that died
// has nothing left to ask; its exit is the run's error already).
func (c *commandTarget) Probes(dial []grpc.DialOption, _ bool) []leak.Probe {
	if !c.alive() {
		return nil
	}
	return []leak.Probe{leak.ChannelzProbe{Target: c.Addr(), DialOptions: dial}}
}

// Gauges: the process's own /proc figures, and a Go server's goroutines
// over pprof when target.pprof is given.
func (c *commandTarget) Gauges(shard0 bool) ([]leak.Gauge, []target.Unavailable) {
	var gauges []leak.Gauge
	if p := c.current(); p != nil {
		gauges = append(gauges, leak.ProcGauge{Pid: p.Pid()})
	}
	g, why := target.Pprof(c.pprof, shard0)
	gauges = append(gauges, g...)
	if why != "" {
		return gauges, []target.Unavailable{{Source: "pprof", Why: why}}
	}
	return gauges, nil
}

// Restarts is how many times the process was started again.
func (c *commandTarget) Restarts() int { return c.restarted() }

// TLSHost: the process listens on loopback.
func (c *commandTarget) TLSHost() string { return "127.0.0.1" }

// Describe is the report's target line and the process's record.
func (c *commandTarget) Describe() target.Description {
	return target.Description{Target: "command: " + strings.Join(c.t.Command, " "), Process: c.proc}
}

// Stop stops the process with the target's stop timeout (SIGTERM, then
// SIGKILL) and waits for its watcher. Idempotent.
func (c *commandTarget) Stop(time.Duration) error {
	if c.proc == nil && c.logPath != "" {
		c.proc = c.close()
	}
	return nil
}

// commandTarget is a process streambench runs as the target: started on a
// free loopback port before the run, restarted and paused by server
// faults, stopped after the run, and watched for an exit nobody asked for.
type commandTarget struct {
	t     scenario.Target
	home  string
	pprof string                 // t.Pprof with its {pprof_port} picked
	proc  *reports.TargetProcess // set by Stop

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

// prepare readies c from the scenario's target block. The process runs in
// t.Dir, taken from the scenario file's folder (home), which is also its
// default, so a relative program ("../out/server") is found from the
// scenario wherever streambench runs. dir, when set, receives the process's
// output as target.log.
func (c *commandTarget) prepare(dir string, creds credentials.TransportCredentials) error {
	t, home := c.t, c.home
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	ps := strconv.Itoa(port)
	pprofPort := ""
	if wantsPprofPort(t) {
		pp, err := proc.FreePort()
		if err != nil {
			return err
		}
		pprofPort = strconv.Itoa(pp)
	}
	r := strings.NewReplacer("{port}", ps, scenario.PprofPortToken, pprofPort)
	sub := func(in []string) []string {
		out := make([]string, len(in))
		for i, a := range in {
			out[i] = r.Replace(a)
		}
		return out
	}
	c.pprof = r.Replace(t.Pprof)
	c.spec = proc.Spec{Argv: sub(t.Command), Env: sub(t.Env), Dir: workDir(home, t.Dir)}
	c.ready = proc.Ready{Addr: "127.0.0.1:" + ps, TCP: t.Ready.TCP, Creds: creds}
	c.wait, c.stop, c.port = t.Ready.Timeout.D(), t.StopTimeout.D(), port
	if t.Ready.Log != "" {
		c.ready.Log = regexp.MustCompile(t.Ready.Log) // validated by the plan
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("target log: %w", err)
		}
		c.logPath = filepath.Join(dir, "target.log")
		if err := os.WriteFile(c.logPath, nil, 0o644); err != nil {
			return fmt.Errorf("target log: %w", err)
		}
	} else {
		// No report folder (a library run): a temporary log, for the
		// last lines of errors, removed at Close.
		f, err := os.CreateTemp("", "streambench-target-*.log")
		if err != nil {
			return fmt.Errorf("target log: %w", err)
		}
		f.Close()
		c.logPath, c.tempLog = f.Name(), true
	}
	c.spec.Log = c.logPath
	return nil
}

// wantsPprofPort reports whether t names {pprof_port} anywhere.
func wantsPprofPort(t scenario.Target) bool {
	for _, a := range append(append([]string{t.Pprof}, t.Command...), t.Env...) {
		if strings.Contains(a, scenario.PprofPortToken) {
			return true
		}
	}
	return false
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

// stopProcess stops the process: SIGTERM then SIGKILL after grace (grace
// 0: SIGKILL at once). It reports whether the process left within grace.
func (c *commandTarget) stopProcess(grace time.Duration) bool {
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

// close stops the process with the target's stop timeout and waits for
// its watcher; it returns what the report says of the process.
func (c *commandTarget) close() *reports.TargetProcess {
	c.stopProcess(c.stop)
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
