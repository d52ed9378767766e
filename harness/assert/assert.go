// Package assert compiles a scenario's assertions and judges them. An
// assertion is a pure function of the finished report: it never touches live
// clients or servers.
//
// Two forms are accepted (docs/assertions.md has the full reference):
//
//   - pow.latency.p99 < 20ms     # [group.]metric op value
//   - errors == 0
//   - eof: clean                 # a named check, with an optional argument
//   - no_loss: subscribers
//   - no_loss: {group: subscribers, min_messages: 1000}   # or settings
//   - latency.p99 < 20ms: {min_messages: 1000}            # a threshold with evidence settings
//
// Named checks live in one registry (registry.go) that the parser,
// `streambench list` and the docs test read. Every assertion needs
// evidence: over a group that received no message or ended no stream it
// fails with "no data" (evidence.go).
package assert

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// Assertion judges a finished report.
type Assertion interface {
	// Check returns the verdict on r.
	Check(r *reports.Report) reports.Verdict
}

// Compile turns every assertion of sc into an Assertion. Errors carry the
// entry's file position and name the valid choices.
func Compile(sc *scenario.Scenario) ([]Assertion, error) {
	groups := make([]string, len(sc.Groups))
	for i, g := range sc.Groups {
		groups[i] = g.Name
	}
	var out []Assertion
	var errs scenario.Errors
	for i, a := range sc.Assert {
		c, err := CompileOne(a, groups)
		if err != nil {
			errs = append(errs, &scenario.Error{
				File:  sc.File,
				Pos:   a.Pos,
				Field: fmt.Sprintf("assert[%d]", i),
				Msg:   err.Error(),
			})
			continue
		}
		out = append(out, c)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// CompileOne compiles one assertion; groups are the scenario's group names.
// A one-key mapping is a named check (eof: clean, isolation: {...}) when
// its key is a check's name, else a threshold with evidence settings
// (latency.p99 < 20ms: {min_messages: 1000}).
func CompileOne(a scenario.Assertion, groups []string) (Assertion, error) {
	if a.Key != "" {
		if checkNameRE.MatchString(a.Key) {
			return compileNamed(a.String(), a.Key, a.Value, a.Args, groups)
		}
		if a.Args == nil {
			return nil, fmt.Errorf("%q is not a check (checks: %s); a threshold takes evidence settings, e.g. %q",
				a.Key, strings.Join(checkNames(), ", "), "latency.p99 < 20ms: {min_messages: 1000}")
		}
		return compileThreshold(a.String(), a.Key, a.Args, groups)
	}
	expr := strings.TrimSpace(a.Expr)
	if expr == "" {
		return nil, fmt.Errorf("empty assertion")
	}
	// A check written as a string: "no_loss", "eof: clean".
	if key, val, _ := strings.Cut(expr, ":"); checkNameRE.MatchString(strings.TrimSpace(key)) {
		return compileNamed(expr, strings.TrimSpace(key), strings.TrimSpace(val), nil, groups)
	}
	return compileThreshold(expr, expr, nil, groups)
}

var checkNameRE = regexp.MustCompile(`^[a-z_]+$`)

// selectGroups returns the groups an assertion applies to: the named one, or
// all of them when name is "" or "all".
func selectGroups(r *reports.Report, name string) ([]*reports.Group, error) {
	if name == "" || name == "all" {
		out := make([]*reports.Group, len(r.Groups))
		for i := range r.Groups {
			out[i] = &r.Groups[i]
		}
		return out, nil
	}
	g := r.Group(name)
	if g == nil {
		return nil, fmt.Errorf("no group %q in the report", name)
	}
	return []*reports.Group{g}, nil
}

func checkGroupName(name string, groups []string) error {
	if name == "" || name == "all" {
		return nil
	}
	for _, g := range groups {
		if g == name {
			return nil
		}
	}
	return fmt.Errorf("no group %q (groups: %s)", name, strings.Join(append([]string{"all"}, groups...), ", "))
}
