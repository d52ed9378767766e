package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
)

// TestRunWritesEveryFormat: run writes report.html and junit.xml next to
// report.json, and the markdown summary when asked, and names them.
func TestRunWritesEveryFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	md := filepath.Join(dir, "summary.md")
	code, out, errs := cli(t, "run", "--no-progress", "--duration", "1s", "--out", dir, "--summary-md", md, "--artifacts-url", "https://ci.example/run/1", mini)
	if code != ExitPass {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, name := range []string{"report.json", "report.html", "junit.xml", "summary.md"} {
		p := filepath.Join(dir, name)
		if !strings.Contains(out, p) {
			t.Errorf("output does not name %s:\n%s", p, out)
		}
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(html), `class="banner pass"`) {
		t.Error("report.html has no PASSED banner")
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err := xml.Unmarshal(raw, &suites); err != nil || suites.Tests != 6 || suites.Failures != 0 {
		t.Errorf("junit.xml: %v, tests=%d failures=%d", err, suites.Tests, suites.Failures)
	}
	sum, _ := os.ReadFile(md)
	for _, want := range []string{"`mini` PASSED", "| subscribe |", "(https://ci.example/run/1)"} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

func writeReport_(t *testing.T, r *reports.Report) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "report.json")
	if err := reports.WriteFile(p, r.WriteJSON); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCompareAndReport runs compare and report on one real report and on
// broken inputs: exit 0 on the same run, 2 with a clear message on bad
// input, 1 on a regression.
func TestCompareAndReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, out, errs := cli(t, "run", "--no-progress", "--duration", "1s", "--out", dir, mini); code != ExitPass {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
	}
	good := filepath.Join(dir, "report.json")
	rep, err := reports.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	other := *rep
	other.Scenario.Name = "other"
	otherPath := writeReport_(t, &other)
	slow := *rep
	slow.Groups = append([]reports.Group(nil), rep.Groups...)
	slow.Groups[1].Streams.Failed = slow.Groups[1].Streams.Ended / 2
	slowPath := writeReport_(t, &slow)
	schema := writeFile(t, "schema.json", `{"schema":"streambench/report/v0"}`)
	notJSON := writeFile(t, "x.json", "not json")
	html := filepath.Join(t.TempDir(), "diff.html")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"same run is unchanged", []string{"compare", "--html", html, good, good}, ExitPass, "UNCHANGED"},
		{"errors regress", []string{"compare", good, slowPath}, ExitFail, "error_rate"},
		{"lenient tolerance passes", []string{"compare", "--tolerance", "error_rate=100pp", good, slowPath}, ExitPass, "UNCHANGED"},
		{"different scenarios", []string{"compare", good, otherPath}, ExitBadInput, `base vs head: scenario: "mini" vs "other"`},
		{"missing file", []string{"compare", good, "/nonexistent/report.json"}, ExitBadInput, "no such file"},
		{"not json", []string{"compare", notJSON, good}, ExitBadInput, "read report"},
		{"schema mismatch", []string{"compare", good, schema}, ExitBadInput, `schema "streambench/report/v0"`},
		{"bad tolerance", []string{"compare", "--tolerance", "p77=3%", good, good}, ExitBadInput, "keys: p50, p90, p99"},
		{"one argument", []string{"compare", good}, ExitBadInput, "want 2 argument"},
		{"report html", []string{"report", good, "--html", filepath.Join(t.TempDir(), "r.html"), "--junit", filepath.Join(t.TempDir(), "j.xml")}, ExitPass, "r.html"},
		{"report without output", []string{"report", good}, ExitBadInput, "--html FILE"},
		{"report of a bad file", []string{"report", notJSON, "--html", filepath.Join(t.TempDir(), "r.html")}, ExitBadInput, "read report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Fatalf("exit %d, want %d, and output with %q\nstdout:\n%s\nstderr:\n%s", code, tc.code, tc.want, out, errs)
			}
		})
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), `id="verdict"`) {
		t.Errorf("diff.html: %v", err)
	}
	// --format json: the comparison with its verdict on stdout, the text
	// on stderr.
	code, out, errs := cli(t, "compare", "--format", "json", good, slowPath)
	var got struct {
		Verdict string
		Groups  []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &got); code != ExitFail || err != nil || got.Verdict != "regressed" || len(got.Groups) == 0 || !strings.Contains(errs, "error_rate") {
		t.Errorf("compare --format json: exit %d, %v, %+v\nstdout:\n%s\nstderr:\n%s", code, err, got, out, errs)
	}
	if code, _, errs := cli(t, "compare", "--format", "xml", good, good); code != ExitBadInput || !strings.Contains(errs, "valid choices: text or json") {
		t.Errorf("--format xml: exit %d: %s", code, errs)
	}
}
