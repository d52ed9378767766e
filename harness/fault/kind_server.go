package fault

import (
	"fmt"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// ServerParams are the settings of server kinds.
type ServerParams struct {
	Grace scenario.Duration `yaml:"grace" doc:"duration; how long in-flight streams may drain"`
	Age   scenario.Duration `yaml:"age" doc:"duration; max_connection_age only"`
}

// serverKinds act on the target's server process through Env.
var serverKinds = []Kind{
	{Name: "server_restart", Layer: Server, on: OnBuiltin | OnProcess, acts: "the target's server (a command target's process: SIGKILL, then started again on the same port)",
		Doc: "hard-stop the server (every stream ends at once; a command target's process is killed), serve again on the same address after `for:`", allowed: []string{},
		params: func() any { return &ServerParams{} }, check: checkServer("server_restart", false, false), disrupt: restartServer(false)},
	{Name: "graceful_restart", Layer: Server, on: OnBuiltin | OnProcess, acts: "the target's server (a command target's process: SIGTERM, SIGKILL after grace, started again)",
		Doc: "GracefulStop (GOAWAY; in-flight streams drain for up to grace, default 5s, then a hard stop; a command target gets SIGTERM, then SIGKILL after grace), serve again after `for:`", allowed: []string{"grace"},
		params: func() any { return &ServerParams{} }, check: checkServer("graceful_restart", true, false), disrupt: restartServer(true)},
	{Name: "max_connection_age", Layer: Server, on: OnBuiltin, acts: "the builtin server's settings",
		Doc: "while active, the server sends GOAWAY to connections older than age (grace to drain); entering and leaving the window is a graceful restart", allowed: []string{"age", "grace"},
		params: func() any { return &ServerParams{} }, check: checkServer("max_connection_age", true, true), disrupt: maxConnectionAge},
	{Name: "pause", Layer: Server, on: OnProcess, acts: "a process streambench runs (SIGSTOP, SIGCONT)",
		Doc: "SIGSTOP the target's process for `for:`, then SIGCONT: a hung server that keeps its sockets open (command targets)", allowed: []string{},
		params: func() any { return &ServerParams{} }, check: checkServer("pause", false, false), disrupt: pauseServer},
}

// pauseServer stops the process (SIGSTOP) until the occurrence ends.
func pauseServer(o Occurrence, env Env) (func() error, error) {
	if err := env.Pause(); err != nil {
		return nil, err
	}
	env.Event("server_pause", o.Name(), "SIGSTOP")
	return func() error {
		if err := env.Resume(); err != nil {
			return err
		}
		env.Event("server_resume", o.Name(), "SIGCONT")
		return nil
	}, nil
}

func checkServer(kind string, grace, age bool) func(any) error {
	return func(p any) error {
		sp := p.(*ServerParams)
		if sp.Grace != 0 && !grace {
			return fmt.Errorf("%s takes no grace (it is a hard stop; see graceful_restart)", kind)
		}
		if sp.Age != 0 && !age {
			return fmt.Errorf("%s takes no age", kind)
		}
		if age && sp.Age <= 0 {
			return fmt.Errorf("age: must be set and > 0")
		}
		if sp.Grace < 0 {
			return fmt.Errorf("grace must not be negative")
		}
		return nil
	}
}

const defaultGrace = 5 * time.Second

// graceOf is a server occurrence's grace (default 5s).
func graceOf(o Occurrence) time.Duration {
	if g := o.Spec.Params.(*ServerParams).Grace.D(); g > 0 {
		return g
	}
	return defaultGrace
}

// stopServer stops the server (graceful when g > 0) and logs it.
func stopServer(o Occurrence, env Env, g time.Duration) {
	graceful := env.StopServer(g)
	detail := "hard stop"
	if g > 0 {
		detail = fmt.Sprintf("graceful stop (drained: %v)", graceful)
	}
	env.Event("server_stop", o.Name(), detail)
}

// startServer serves again and logs it.
func startServer(o Occurrence, env Env) error {
	if err := env.StartServer(); err != nil {
		return fmt.Errorf("restart server: %w", err)
	}
	env.Event("server_start", o.Name(), "")
	return nil
}

// restartServer stops the server (gracefully or not) and serves again
// when the occurrence ends (at once without for:).
func restartServer(graceful bool) func(Occurrence, Env) (func() error, error) {
	return func(o Occurrence, env Env) (func() error, error) {
		g := time.Duration(0)
		if graceful {
			g = graceOf(o)
		}
		stopServer(o, env, g)
		if o.Spec.For == 0 {
			return nil, startServer(o, env) // down only as long as the stop took
		}
		return func() error { return startServer(o, env) }, nil
	}
}

// maxConnectionAge restarts the server with a max connection age for the
// occurrence, and without one after it.
func maxConnectionAge(o Occurrence, env Env) (func() error, error) {
	grace := graceOf(o)
	env.SetMaxConnectionAge(o.Spec.Params.(*ServerParams).Age.D(), grace)
	stopServer(o, env, grace)
	if err := startServer(o, env); err != nil {
		return nil, err
	}
	return func() error {
		env.SetMaxConnectionAge(0, 0)
		stopServer(o, env, grace)
		return startServer(o, env)
	}, nil
}

// Targets is a set of targets a server kind can act on.
type Targets int

// Targets a server kind can act on.
const (
	// OnBuiltin: the in-process reference servers.
	OnBuiltin Targets = 1 << iota
	// OnProcess: a process streambench started (a command target).
	OnProcess
)

// ServerKinds lists the server kinds that can act on target t.
func ServerKinds(t Targets) []string {
	var out []string
	for _, k := range serverKinds {
		if k.on&t != 0 {
			out = append(out, k.Name)
		}
	}
	return out
}
