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
	{Name: "server_restart", Layer: Server, Doc: "hard-stop the server (every stream ends at once), serve again on the same address after `for:`", allowed: []string{},
		params: func() any { return &ServerParams{} }, check: checkServer("server_restart", false, false), disrupt: restartServer(false)},
	{Name: "graceful_restart", Layer: Server, Doc: "GracefulStop (GOAWAY; in-flight streams drain for up to grace, default 5s, then a hard stop), serve again after `for:`", allowed: []string{"grace"},
		params: func() any { return &ServerParams{} }, check: checkServer("graceful_restart", true, false), disrupt: restartServer(true)},
	{Name: "max_connection_age", Layer: Server, Doc: "while active, the server sends GOAWAY to connections older than age (grace to drain); entering and leaving the window is a graceful restart", allowed: []string{"age", "grace"},
		params: func() any { return &ServerParams{} }, check: checkServer("max_connection_age", true, true), disrupt: maxConnectionAge},
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
