// Package selfcheck applies streambench's planted bugs (targets/faulty) to a
// run or a served target. The self-check tests and the CLI's --faulty flag
// use it; neither the engine nor the production server imports the bugs.
package selfcheck

import (
	"fmt"
	"strings"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/targets/builtin"
	"github.com/streambench/streambench/targets/faulty"
)

// Variant is the client side of bug b: its client interceptor, and
// whether the client leaks its connections.
func Variant(b faulty.Bug) harness.Variant {
	return harness.Variant{Name: b.Name, Client: b.Client, LeakConns: b.SkipClose}
}

// Kind is the builtin target kind with bug b planted in its servers.
func Kind(b faulty.Bug) target.Kind { return builtin.Kind(func(c *builtin.Config) { Plant(b, c) }) }

// Plant makes the reference servers of c run bug b.
func Plant(b faulty.Bug, c *builtin.Config) {
	c.WrapLonglived = b.WrapLonglived
	c.WrapMath = b.WrapMath
}

// Options plant bug b in a run: the builtin target kind that runs it (a
// plan option) and its client side (a run option).
func Options(b faulty.Bug) []harness.Option {
	return []harness.Option{harness.WithTargetKind(Kind(b)), harness.WithVariant(Variant(b))}
}

// Lookup returns the bug called name, or an error naming the valid ones.
func Lookup(name string) (faulty.Bug, error) {
	b, ok := faulty.Lookup(name)
	if !ok {
		return faulty.Bug{}, fmt.Errorf("unknown planted bug %q (bugs: %s)", name, strings.Join(faulty.Names(), ", "))
	}
	return b, nil
}
