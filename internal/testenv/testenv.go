// Package testenv holds what this module's tests share about the
// environment they run in.
package testenv

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// LongEnv is the environment variable that turns the long tests on.
const LongEnv = "STREAMBENCH_LONG"

// Long skips t unless STREAMBENCH_LONG=1. A long test runs scenario files
// at (or near) their full length, or many runs of them: the README's
// `go test -race ./...` leaves them out so it fits a few minutes on two
// cores, and .ci/run runs them in a second pass. Every assertion a long test
// proves can fail keeps a fast test that proves it too.
func Long(t testing.TB) {
	t.Helper()
	if !LongEnabled() {
		t.Skipf("a long test: %s=1 runs it (as .ci/run does)", LongEnv)
	}
}

// LongEnabled tells whether STREAMBENCH_LONG=1, for a test that shortens
// itself rather than skipping.
func LongEnabled() bool { return os.Getenv(LongEnv) == "1" }

// Parallel makes n the default of -test.parallel (how many of a test
// binary's t.Parallel tests run at once; Go's default is GOMAXPROCS). A
// TestMain calls it before m.Run when its parallel tests mostly wait —
// on processes, timers, a run's duration — rather than compute, so two
// cores would leave them queued behind each other. A -parallel given on
// the command line wins.
func Parallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
}
