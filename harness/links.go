package harness

import (
	"fmt"

	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// linkGroups lets each group's setup that refers to other groups
// (rpc.Linker: a covers oracle and its writer group) find them, before
// any client starts; a problem is the scenario's, at the linking group's
// field.
func (r *run) linkGroups() error {
	setupOf := func(name string) (any, bool) {
		for _, g := range r.groups {
			if g.spec.Name == name && g.setup != nil {
				return g.setup, true
			}
		}
		return nil, false
	}
	for gi, g := range r.groups {
		l, ok := g.setup.(rpc.Linker)
		if !ok {
			continue
		}
		bad := func(field, msg string) error {
			path := fmt.Sprintf("groups[%d].%s", gi, field)
			return scenario.Errors{{File: r.sc.File, Pos: r.sc.PosOf(path), Field: path, Msg: msg}}
		}
		if err := l.Link(setupOf, bad); err != nil {
			return err
		}
	}
	return nil
}

// setupReport adds what a group's setup measured (rpc.Reporter) to its
// report.
func (r *run) setupReport(g *group, out *reports.Group) error {
	rep, ok := g.setup.(rpc.Reporter)
	if !ok {
		return nil
	}
	if err := rep.Report(out, r.stopAt); err != nil {
		return fmt.Errorf("group %s: %w", g.spec.Name, err)
	}
	return nil
}
