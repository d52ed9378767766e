package fault

import (
	"fmt"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// BackendParams are the settings of the backend kinds.
type BackendParams struct {
	Backend string            `yaml:"backend" doc:"name; the backend that leaves or restarts (b1, or an address); default: the newest in service" domain:"name"`
	Hard    bool              `yaml:"hard" doc:"bool; backend_leave: stop at once (SIGKILL) instead of GOAWAY/SIGTERM with grace" domain:"false|true without:grace"`
	Grace   scenario.Duration `yaml:"grace" doc:"duration; backend_leave: how long its streams may drain (default 5s)" domain:"0s..5s ~2s"`
}

// Backends is a target of several backends streambench runs: one more can
// join, one can leave or restart (backend_join, backend_leave,
// backend_restart).
type Backends interface {
	// JoinBackend starts one more backend and puts it in service; it
	// returns its name.
	JoinBackend() (name string, err error)
	// LeaveBackend takes a backend out of service and stops it:
	// gracefully within grace (GOAWAY, SIGTERM), or at once with grace 0.
	// name "" is the newest in service. It returns the name and whether
	// its streams drained within grace.
	LeaveBackend(name string, grace time.Duration) (left string, graceful bool, err error)
	// RejoinBackend serves a backend that left again on its address and
	// puts it back in service.
	RejoinBackend(name string) error
}

func isBackends(t any) bool { _, ok := t.(Backends); return ok }

const backendsNeeds = "a target of several backends streambench runs (target.backends with replicas)"

// backendKinds act on a target of several backends.
var backendKinds = []Kind{
	{Name: "backend_join", Layer: Server, Instant: true, EndsNone: true, can: isBackends, needs: backendsNeeds, acts: "the target's set of backends",
		Doc: "start one more backend (the next name: b3 after b0-b2); l4 sends it new connections from then on, the client balancer's resolver lists it", allowed: []string{},
		params: func() any { return &BackendParams{} }, check: checkBackend("backend_join"), disrupt: joinBackend},
	{Name: "backend_leave", Layer: Server, Instant: true, can: isBackends, needs: backendsNeeds, acts: "one backend",
		Doc: "take a backend out of service and stop it: GOAWAY/SIGTERM with grace (default 5s), or hard: true (stop at once, SIGKILL); its clients reconnect to the others", allowed: []string{"backend", "hard", "grace"},
		params: func() any { return &BackendParams{} }, check: checkBackend("backend_leave"), disrupt: leaveBackend},
	{Name: "backend_restart", Layer: Server, can: isBackends, needs: backendsNeeds, acts: "one backend",
		Doc: "hard-stop one backend (out of service), serve it again on its address after `for:`", allowed: []string{"backend"},
		params: func() any { return &BackendParams{} }, check: checkBackend("backend_restart"), disrupt: restartBackend},
}

func checkBackend(kind string) func(any) error {
	return func(p any) error {
		bp := p.(*BackendParams)
		switch {
		case bp.Grace < 0:
			return fmt.Errorf("grace must not be negative")
		case bp.Hard && bp.Grace != 0:
			return fmt.Errorf("%s: hard stops at once; it takes no grace", kind)
		}
		return nil
	}
}

func joinBackend(o Occurrence, env Env) (func() error, error) {
	b, err := as[Backends](env, o)
	if err != nil {
		return nil, err
	}
	name, err := b.JoinBackend()
	if err != nil {
		return nil, fmt.Errorf("backend_join: %w", err)
	}
	env.Event("backend_join", o.Name(), name)
	return nil, nil
}

func leaveBackend(o Occurrence, env Env) (func() error, error) {
	b, err := as[Backends](env, o)
	if err != nil {
		return nil, err
	}
	p := o.Spec.Params.(*BackendParams)
	grace := p.Grace.D()
	if grace == 0 && !p.Hard {
		grace = defaultGrace
	}
	name, graceful, err := b.LeaveBackend(p.Backend, grace)
	if err != nil {
		return nil, fmt.Errorf("backend_leave: %w", err)
	}
	detail := name + ": hard stop"
	if grace > 0 {
		detail = fmt.Sprintf("%s: graceful stop (drained: %v)", name, graceful)
	}
	env.Event("backend_leave", o.Name(), detail)
	return nil, nil
}

func restartBackend(o Occurrence, env Env) (func() error, error) {
	b, err := as[Backends](env, o)
	if err != nil {
		return nil, err
	}
	name, _, err := b.LeaveBackend(o.Spec.Params.(*BackendParams).Backend, 0)
	if err != nil {
		return nil, fmt.Errorf("backend_restart: %w", err)
	}
	env.Event("backend_leave", o.Name(), name+": hard stop")
	rejoin := func() error {
		if err := b.RejoinBackend(name); err != nil {
			return fmt.Errorf("backend_restart: %w", err)
		}
		env.Event("backend_join", o.Name(), name)
		return nil
	}
	if o.Spec.For == 0 {
		return nil, rejoin()
	}
	return rejoin, nil
}
