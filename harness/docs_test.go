package harness_test

import (
	"github.com/streambench/streambench"

	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/scenario"
)

// The registries the parser uses are the docs' source of truth: a fault
// kind, a setting, an RPC or a scenario field cannot exist undocumented,
// and a documented kind or RPC cannot be missing from the registry.

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../docs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section returns the text of doc from the heading `from` up to the next
// heading of the same or a higher level.
func section(t *testing.T, doc, from string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+from+"\n")
	if i < 0 {
		t.Fatalf("no heading %q", from)
	}
	level := strings.Index(from, " ")
	rest := doc[i+len(from)+2:]
	re := regexp.MustCompile(`(?m)^#{1,` + strings.Repeat("", 0) + string(rune('0'+level)) + `} `)
	if loc := re.FindStringIndex(rest); loc != nil {
		rest = rest[:loc[0]]
	}
	return rest
}

// rowKeys lists the first-column keys of the markdown table rows of text
// ("| `name` | ...").
func rowKeys(text string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_./]+)` \\|(.*)$").FindAllStringSubmatch(text, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestDocsFaultKindsMatchRegistry(t *testing.T) {
	kinds := rowKeys(section(t, readDoc(t, "faults.md"), "## Kinds"))
	var names []string
	for _, k := range fault.Kinds {
		names = append(names, k.Name)
		row, ok := kinds[k.Name]
		if !ok {
			t.Errorf("docs/faults.md documents no kind %s", k.Name)
			continue
		}
		for _, s := range k.Settings() {
			name, _, _ := strings.Cut(s, " ")
			if !strings.Contains(row, "`"+name+"`") && name != "direction" && name != "toxicity" {
				t.Errorf("docs/faults.md: %s's row does not document its setting %s", k.Name, name)
			}
		}
	}
	for k := range kinds {
		if !slices.Contains(names, k) {
			t.Errorf("docs/faults.md documents a kind %s that the registry does not have", k)
		}
	}
}

func TestDocsRPCsMatchCatalog(t *testing.T) {
	groups := rowKeys(section(t, readDoc(t, "scenarios.md"), "## groups"))
	row := groups["rpc"]
	names := streambench.RPCs().Names()
	for _, n := range names {
		if !strings.Contains(row, "`"+n+"`") {
			t.Errorf("docs/scenarios.md groups.rpc does not list %s", n)
		}
	}
	for _, m := range regexp.MustCompile("`([A-Za-z]+/[A-Za-z]+)`").FindAllStringSubmatch(row, -1) {
		if !slices.Contains(names, m[1]) {
			t.Errorf("docs/scenarios.md groups.rpc lists %s, which the catalog does not have", m[1])
		}
	}
}

// documented reports whether the field at path has a row (by any dotted
// suffix of its path: "scope.group" for faults.scope.group), a row of a
// field under it, or a heading of its own.
func documented(doc string, keys map[string]string, path string) bool {
	if strings.Contains(doc, "\n### "+path+"\n") {
		return true
	}
	parts := strings.Split(path, ".")
	for i := range parts {
		suffix := strings.Join(parts[i:], ".")
		if _, ok := keys[suffix]; ok {
			return true
		}
		for k := range keys {
			if strings.HasPrefix(k, suffix+".") {
				return true
			}
		}
	}
	return false
}

// TestDocsScenarioFields: every field the decoder accepts is documented in
// docs/scenarios.md as a table row (by its key or its dotted path).
func TestDocsScenarioFields(t *testing.T) {
	doc := readDoc(t, "scenarios.md")
	keys := rowKeys(doc)
	var walk func(tp reflect.Type, path string)
	walk = func(tp reflect.Type, path string) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || tp.PkgPath() != reflect.TypeOf(scenario.Scenario{}).PkgPath() {
			return
		}
		for i := range tp.NumField() {
			f := tp.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			p := tag
			if path != "" {
				p = path + "." + tag
			}
			if !documented(doc, keys, p) {
				t.Errorf("docs/scenarios.md has no row or heading for %s", p)
			}
			walk(f.Type, p)
		}
	}
	walk(reflect.TypeOf(scenario.Scenario{}), "")
}
