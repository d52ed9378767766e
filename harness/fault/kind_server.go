package fault

import (
	"fmt"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// ServerParams are the settings of server kinds.
type ServerParams struct {
	Grace scenario.Duration `yaml:"grace" doc:"duration; how long in-flight streams may drain" domain:"0s..3s ~1s"`
	Age   scenario.Duration `yaml:"age" doc:"duration; max_connection_age only" domain:"500ms..5s ~2s"`
}

// Restarter is a target whose server streambench can stop and serve again
// (server_restart, graceful_restart): the builtin target's in-process
// servers, a command target's process.
type Restarter interface {
	// StopServer stops the server: gracefully within grace, then hard
	// (grace 0: hard at once). It reports whether it drained within grace.
	StopServer(grace time.Duration) (graceful bool)
	// StartServer serves again on the same address.
	StartServer() error
}

// ConnectionAger is a Restarter whose server's max connection age can be
// set for its next start (max_connection_age).
type ConnectionAger interface {
	Restarter
	// SetMaxConnectionAge sets the max connection age (0: none) and the
	// grace connections get to drain after their GOAWAY.
	SetMaxConnectionAge(age, grace time.Duration)
}

// Pauser is a target whose process can be stopped and let go on (pause):
// a process streambench runs.
type Pauser interface {
	// Pause stops the process (SIGSTOP); Resume lets it go on (SIGCONT).
	Pause() error
	Resume() error
}

func isRestarter(t any) bool      { _, ok := t.(Restarter); return ok }
func isConnectionAger(t any) bool { _, ok := t.(ConnectionAger); return ok }
func isPauser(t any) bool         { _, ok := t.(Pauser); return ok }

// serverKinds act on the run's target through the capability interface
// each needs.
var serverKinds = []Kind{
	{Name: "server_restart", Layer: Server, can: isRestarter, needs: "a server streambench can stop and start again", acts: "the target's server (a command target's process: SIGKILL, then started again on the same port)",
		Doc: "hard-stop the server (every stream ends at once; a command target's process is killed), serve again on the same address after `for:`", allowed: []string{},
		params: func() any { return &ServerParams{} }, check: checkServer("server_restart", false, false), disrupt: restartServer(false)},
	{Name: "graceful_restart", Layer: Server, can: isRestarter, needs: "a server streambench can stop and start again", acts: "the target's server (a command target's process: SIGTERM, SIGKILL after grace, started again)",
		Doc: "GracefulStop (GOAWAY; in-flight streams drain for up to grace, default 5s, then a hard stop; a command target gets SIGTERM, then SIGKILL after grace), serve again after `for:`", allowed: []string{"grace"},
		params: func() any { return &ServerParams{} }, check: checkServer("graceful_restart", true, false), disrupt: restartServer(true)},
	{Name: "max_connection_age", Layer: Server, can: isConnectionAger, needs: "a server whose connection age streambench can set", acts: "the builtin server's settings",
		Doc: "while active, the server sends GOAWAY to connections older than age (grace to drain); entering and leaving the window is a graceful restart", allowed: []string{"age", "grace"},
		params: func() any { return &ServerParams{} }, check: checkServer("max_connection_age", true, true), disrupt: maxConnectionAge},
	{Name: "pause", Layer: Server, can: isPauser, needs: "a process streambench runs", acts: "a process streambench runs (SIGSTOP, SIGCONT)",
		Doc: "SIGSTOP the target's process for `for:`, then SIGCONT: a hung server that keeps its sockets open (command targets)", allowed: []string{},
		params: func() any { return &ServerParams{} }, check: checkServer("pause", false, false), disrupt: pauseServer},
}

// pauseServer stops the process (SIGSTOP) until the occurrence ends.
func pauseServer(o Occurrence, env Env) (func() error, error) {
	p, err := as[Pauser](env, o)
	if err != nil {
		return nil, err
	}
	if err := p.Pause(); err != nil {
		return nil, err
	}
	env.Event("server_pause", o.Name(), "SIGSTOP")
	return func() error {
		if err := p.Resume(); err != nil {
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

// as is the run's target as the capability T an occurrence needs. Compile
// refuses a fault whose target lacks it, so the error is for Envs built by
// hand.
func as[T any](env Env, o Occurrence) (T, error) {
	t, ok := env.Target().(T)
	if !ok {
		return t, fmt.Errorf("%s: the target (%T) cannot take it", o.Name(), env.Target())
	}
	return t, nil
}

// stopServer stops the server (graceful when g > 0) and logs it.
func stopServer(o Occurrence, r Restarter, env Env, g time.Duration) {
	graceful := r.StopServer(g)
	detail := "hard stop"
	if g > 0 {
		detail = fmt.Sprintf("graceful stop (drained: %v)", graceful)
	}
	env.Event("server_stop", o.Name(), detail)
}

// startServer serves again and logs it.
func startServer(o Occurrence, r Restarter, env Env) error {
	if err := r.StartServer(); err != nil {
		return fmt.Errorf("restart server: %w", err)
	}
	env.Event("server_start", o.Name(), "")
	return nil
}

// restartServer stops the server (gracefully or not) and serves again
// when the occurrence ends (at once without for:).
func restartServer(graceful bool) func(Occurrence, Env) (func() error, error) {
	return func(o Occurrence, env Env) (func() error, error) {
		r, err := as[Restarter](env, o)
		if err != nil {
			return nil, err
		}
		g := time.Duration(0)
		if graceful {
			g = graceOf(o)
		}
		stopServer(o, r, env, g)
		if o.Spec.For == 0 {
			return nil, startServer(o, r, env) // down only as long as the stop took
		}
		return func() error { return startServer(o, r, env) }, nil
	}
}

// maxConnectionAge restarts the server with a max connection age for the
// occurrence, and without one after it.
func maxConnectionAge(o Occurrence, env Env) (func() error, error) {
	a, err := as[ConnectionAger](env, o)
	if err != nil {
		return nil, err
	}
	grace := graceOf(o)
	a.SetMaxConnectionAge(o.Spec.Params.(*ServerParams).Age.D(), grace)
	stopServer(o, a, env, grace)
	if err := startServer(o, a, env); err != nil {
		return nil, err
	}
	return func() error {
		a.SetMaxConnectionAge(0, 0)
		stopServer(o, a, env, grace)
		return startServer(o, a, env)
	}, nil
}

// TargetKinds lists the server and stream kinds target t can take (it has
// the capability each needs), in registry order: what a target adds to
// its link's network kinds.
func TargetKinds(t any) []string {
	var out []string
	for _, k := range Kinds {
		if k.can != nil && k.can(t) {
			out = append(out, k.Name)
		}
	}
	return out
}

// ServerKinds lists the server kinds target t can take (it has the
// capability each needs).
func ServerKinds(t any) []string {
	var out []string
	for _, k := range serverKinds {
		if k.can(t) {
			out = append(out, k.Name)
		}
	}
	return out
}
