package assert

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docSections splits docs/assertions.md into its sections by heading.
func docSections(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/assertions.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var head string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			head = strings.TrimSpace(strings.TrimLeft(line, "#"))
			continue
		}
		out[head] += line + "\n"
	}
	return out
}

var firstCellRE = regexp.MustCompile("(?m)^\\| (`[^|]*`) \\|")
var codeRE = regexp.MustCompile("`([^`]+)`")

// tableNames returns the backticked names in the first column of the
// section's tables.
func tableNames(section string) []string {
	var out []string
	for _, m := range firstCellRE.FindAllStringSubmatch(section, -1) {
		for _, c := range codeRE.FindAllStringSubmatch(m[1], -1) {
			out = append(out, c[1])
		}
	}
	return out
}

func sameSet(t *testing.T, what string, code, doc []string) {
	t.Helper()
	in := func(list []string, s string) bool { return contains(list, s) }
	for _, c := range code {
		if !in(doc, c) {
			t.Errorf("%s %q exists but docs/assertions.md does not document it", what, c)
		}
	}
	for _, d := range doc {
		if !in(code, d) {
			t.Errorf("docs/assertions.md documents %s %q, which does not exist", what, d)
		}
	}
}

// TestDocsMatchRegistry: every check, check setting and metric of the
// registry is documented in docs/assertions.md, and nothing documented
// there is missing from the registry.
func TestDocsMatchRegistry(t *testing.T) {
	secs := docSections(t)
	var docChecks []string
	for _, n := range tableNames(secs["Named checks"]) {
		name, _, _ := strings.Cut(n, ":")
		docChecks = append(docChecks, name)
	}
	sameSet(t, "check", checkNames(), docChecks)

	common := tableNames(secs["Evidence: no data"])
	for _, c := range registry {
		doc := append([]string(nil), common...)
		own := tableNames(secs[c.Name])
		doc = append(doc, own...)
		for _, s := range c.SettingNames() {
			if !contains(doc, s) {
				t.Errorf("setting %s of %s is not documented (its section's table or Evidence)", s, c.Name)
			}
		}
		for _, s := range own {
			if !contains(c.SettingNames(), s) {
				t.Errorf("docs/assertions.md documents setting %q of %s, which it does not take", s, c.Name)
			}
		}
	}
	var evidenceNames []string
	for _, s := range append(evidenceSettings, minOutagesSetting, groupSetting) {
		evidenceNames = append(evidenceNames, s.Name)
	}
	sort.Strings(evidenceNames)
	sort.Strings(common)
	sameSet(t, "evidence setting", evidenceNames, common)

	docMetrics := tableNames(secs["Threshold metrics"])
	sameSet(t, "metric", metricNames(), docMetrics)
}

// TestMetricsResolve: every metric the registry lists is one the parser
// reads, so `streambench list` never shows a name that fails to compile.
func TestMetricsResolve(t *testing.T) {
	for _, m := range Metrics() {
		name := strings.NewReplacer("<stat>", "p99", "<class>", "Unavailable", "<kind>", "gap").Replace(m.Name)
		if _, err := lookupMetric(name); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
}

// TestCheckDocs: every check says what it requires and has an example
// that compiles.
func TestCheckDocs(t *testing.T) {
	for _, c := range Checks() {
		if c.Doc == "" || c.Example == "" {
			t.Errorf("%s: empty Doc or Example", c.Name)
		}
		for _, s := range c.Settings {
			if s.Doc == "" {
				t.Errorf("%s: setting %s has no doc", c.Name, s.Name)
			}
		}
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{"pow.latncy.p99", "pow.latency.p99"},
		{"latncy.p99", "latency.p99"},
		{"strems.opened", "streams.opened"},
		{"pow.latency.p99", ""}, // a known family: the problem is elsewhere
		{"zzzzzz", ""},
	} {
		if got := suggestMetric(tc.got); got != tc.want {
			t.Errorf("suggestMetric(%q) = %q, want %q", tc.got, got, tc.want)
		}
	}
	if _, err := compileNamed("no_los: pow", "no_los", "pow", nil, []string{"pow"}); err == nil || !strings.Contains(err.Error(), `(did you mean "no_loss"?)`) {
		t.Errorf("unknown check: %v", err)
	}
}
