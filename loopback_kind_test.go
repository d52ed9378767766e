package streambench_test

import (
	"context"
	"fmt"
	"time"

	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/targets/builtin"
)

// loopbackKind is a throwaway target kind, whole in this one file: the
// reference servers on a bufconn listener the target owns, and nothing
// more — no restart, no stream faults, no leak evidence of its own. A
// scenario chooses it with target: {kind: loopback}.
var loopbackKind = target.Kind{
	Name:      "loopback",
	Doc:       "the reference servers on a bufconn listener of the target's own",
	InProcess: true,
	New:       func(target.Spec) (target.Target, error) { return &loopback{}, nil },
}

type loopback struct{ srv *builtin.Target }

func (*loopback) Label() string { return target.Label("loopback", "") }
func (*loopback) Name() string  { return "the loopback target" }

func (l *loopback) Start(_ context.Context, env target.Env) (target.Reach, error) {
	lk, err := link.New(env.Link)
	if err != nil {
		return target.Reach{}, err
	}
	lis, err := lk.Listen()
	if err != nil {
		lk.Close()
		return target.Reach{}, err
	}
	l.srv = builtin.New(builtin.ConfigOf(nil))
	if err := l.srv.Serve(lis); err != nil {
		lk.Close()
		return target.Reach{}, fmt.Errorf("loopback: %w", err)
	}
	return target.Reach{Link: lk}, nil
}

func (l *loopback) Stop(grace time.Duration) error {
	if l.srv != nil {
		l.srv.Close(grace)
	}
	return nil
}

func (*loopback) Describe() target.Description { return target.Description{Target: "loopback"} }
