package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"

	"github.com/streambench/streambench/reports"
)

// JUnit XML, as read by Jenkins, GitLab, GitHub test reporters and most CI
// systems: one testsuite per report, one testcase per assertion; a failed
// assertion is a <failure> whose text is expected vs actual. Harness errors
// and an interrupted run are <error> testcases.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  *junitText      `xml:"system-out"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

// WriteJUnit writes r as JUnit XML.
func WriteJUnit(w io.Writer, r *reports.Report) error {
	secs := strconv.FormatFloat(r.Elapsed, 'f', 3, 64)
	class := "streambench." + r.Scenario.Name
	s := junitSuite{
		Name:      r.Scenario.Name,
		Time:      secs,
		Timestamp: r.Start.UTC().Format("2006-01-02T15:04:05"),
		Hostname:  r.Environment.Hostname,
		Properties: []junitProperty{
			{"seed", strconv.FormatInt(r.Seed, 10)},
			{"scenario.file", r.Scenario.File},
			{"target", r.Target},
			{"link", r.Link},
			{"streambench", r.Environment.Streambench},
			{"go", r.Environment.GoVersion},
			{"grpc", r.Environment.GRPCVersion},
			{"cpus", strconv.Itoa(r.Environment.CPUs)},
		},
	}
	for _, v := range r.Assertions {
		c := junitCase{Name: v.Name, Classname: class, Time: "0"}
		if !v.Pass {
			text := fmt.Sprintf("expected: %s\nactual:   %s", v.Expected, v.Actual)
			if v.Detail != "" {
				text += "\ndetail:   " + v.Detail
			}
			c.Failure = &junitProblem{Message: fmt.Sprintf("expected %s, actual %s", v.Expected, v.Actual), Type: "assertion", Text: text}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	for i, e := range r.Errors {
		s.Cases = append(s.Cases, junitCase{Name: fmt.Sprintf("harness error %d", i+1), Classname: class, Time: "0",
			Error: &junitProblem{Message: e, Type: "harness", Text: e}})
		s.Errors++
	}
	if r.Interrupted {
		s.Cases = append(s.Cases, junitCase{Name: "run", Classname: class, Time: secs,
			Error: &junitProblem{Message: "interrupted: partial report", Type: "interrupted", Text: "the run was stopped early; its figures cover part of the scenario"}})
		s.Errors++
	}
	s.Tests = len(s.Cases)
	var sum bytes.Buffer
	WriteSummary(&sum, r)
	s.SystemOut = &junitText{Text: sum.String()}
	doc := junitSuites{Name: "streambench", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Time: secs, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}
