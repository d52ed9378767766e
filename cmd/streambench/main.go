// Command streambench is a chaos and load-testing harness for streaming
// gRPC. It is a thin shell over the harness package: flags in, a harness
// call, an exit code out.
//
//	streambench run scenarios/smoke.yaml     # run, report, exit 0/1/2/3/130
//	streambench run --count 5 scenarios/smoke.yaml  # 5 runs and a set.json
//	streambench validate scenarios/*.yaml    # check scenarios without running
//	streambench compare base/ head/          # sets or reports; exit 1 when a metric regressed
//	streambench report report.json --html x  # re-render a report
//	streambench serve --addr 127.0.0.1:7070  # the reference servers over TCP
//	streambench list                         # RPCs, links, assertions, planted bugs
//	streambench version                      # module version, commit, Go version
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/version"
)

// Exit codes, the contract with CI systems.
const (
	ExitPass        = 0   // every assertion passed
	ExitFail        = 1   // an assertion failed
	ExitBadInput    = 2   // invalid scenario or usage
	ExitHarness     = 3   // harness or target failure
	ExitInterrupted = 130 // interrupted (Ctrl-C)
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitPass
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "streambench:", ee.err)
		}
		return ee.code
	}
	if _, ok := scenario.AsErrors(err); ok {
		fmt.Fprintln(stderr, err)
		return ExitBadInput
	}
	// Anything cobra itself rejects (unknown command or flag) is usage.
	fmt.Fprintln(stderr, "streambench:", err)
	return ExitBadInput
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "streambench",
		Short: "Chaos and load testing for streaming gRPC",
		Long: `streambench drives thousands of gRPC streams against a target, checks every
stream's protocol (premature EOF, lost, duplicated or wrong messages), measures
latency with HdrHistogram, writes a JSON report and exits non-zero when an
assertion fails, so CI can gate pull requests.

Exit codes: 0 pass, 1 assertion failed, 2 bad input, 3 harness or target
failure, 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Read().String(),
	}
	root.SetVersionTemplate("streambench {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(stdout, stderr), newValidateCmd(stdout), newCompareCmd(stdout, stderr), newReportCmd(stdout), newMergeCmd(stdout),
		newServeCmd(stdout, stderr), newListCmd(stdout), newVersionCmd(stdout), newExploreCmd(stdout, stderr))
	return root
}
