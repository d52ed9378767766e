// Package faulty holds planted bugs: variants of the reference servers that
// each break one promise of the protocol. streambench's self-check runs the
// scenarios against each and proves the right assertion catches it. They are
// for self-tests and demos only (`streambench serve --faulty NAME`).
package faulty

import (
	"sort"

	"google.golang.org/grpc"

	pb "github.com/streambench/streambench/targets/proto"
)

// Bug is one planted bug: a wrapper around the correct Longlived or Math
// server (at least one is non-nil).
type Bug struct {
	// Name is the bug's identifier (snake_case).
	Name string
	// Description says what the variant does wrong, in a sentence.
	Description string
	// Longlived wraps the correct Longlived server, or is nil.
	Longlived func(pb.LonglivedServer) pb.LonglivedServer
	// Math wraps the correct Math server, or is nil.
	Math func(pb.MathServer) pb.MathServer
	// Client, when set, is a client-side stream interceptor: a bug in the
	// client stack rather than the server.
	Client grpc.StreamClientInterceptor
	// SkipClose makes the harness leave its ClientConns open at the end of
	// the run (a client that leaks its connections).
	SkipClose bool
}

// WrapLonglived applies the bug to s (s itself when the bug leaves Longlived alone).
func (b Bug) WrapLonglived(s pb.LonglivedServer) pb.LonglivedServer {
	if b.Longlived == nil {
		return s
	}
	return b.Longlived(s)
}

// WrapMath applies the bug to s (s itself when the bug leaves Math alone).
func (b Bug) WrapMath(s pb.MathServer) pb.MathServer {
	if b.Math == nil {
		return s
	}
	return b.Math(s)
}

// All returns every planted bug, sorted by name.
func All() []Bug {
	all := append(append(append(append([]Bug(nil), longlivedBugs()...), mathBugs()...), leakBugs()...), clientBugs()...)
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// Lookup returns the bug called name.
func Lookup(name string) (Bug, bool) {
	for _, b := range All() {
		if b.Name == name {
			return b, true
		}
	}
	return Bug{}, false
}

// Names returns every bug's name, sorted.
func Names() []string {
	var out []string
	for _, b := range All() {
		out = append(out, b.Name)
	}
	return out
}
