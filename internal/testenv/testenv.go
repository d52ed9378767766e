// Package testenv holds what this module's tests share about the
// environment they run in.
package testenv

import (
	"os"
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
