package rpc

import (
	"time"

	"github.com/streambench/streambench/reports"
)

// Linker is a group's setup (what Entry.Setup returned) that refers to
// other groups, such as a watcher group whose covers oracle reads a writer
// group's acknowledgements. Once every group is set up, and before any
// client starts, the engine calls Link with each group's setup by name
// (ok false for a group without one) and the builder of a problem that is
// the scenario's, at a field relative to the linking group.
type Linker interface {
	Link(setupOf func(group string) (any, bool), bad func(field, msg string) error) error
}

// Reporter is a group's setup that measured something of its own during
// the run, such as a covers oracle's verdicts per watcher and its
// write-to-watch latency. Once the clients have ended, the engine calls
// Report with the group's report and the instant the stop was given.
type Reporter interface {
	Report(g *reports.Group, stopAt time.Time) error
}
