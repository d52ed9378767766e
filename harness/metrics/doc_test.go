package metrics

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/metrics.md's generated table from Defs")

const (
	tableBegin = "<!-- begin: generated from harness/metrics.Defs by `go test ./harness/metrics -run TestDocsMetricTable -update` -->\n"
	tableEnd   = "<!-- end: generated -->\n"
)

// TestDocsMetricTable keeps docs/metrics.md's table equal to the registry:
// a metric cannot exist undocumented, nor a documented one be missing.
func TestDocsMetricTable(t *testing.T) {
	const path = "../../docs/metrics.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s: no generated-table markers %q ... %q", path, tableBegin, tableEnd)
	}
	want := doc[:i+len(tableBegin)] + Table() + doc[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if doc != want {
		t.Errorf("%s is out of date with metrics.Defs: run go test ./harness/metrics -run TestDocsMetricTable -update", path)
	}
}

func TestDefsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Defs {
		switch {
		case !strings.HasPrefix(d.Name, "streambench_"):
			t.Errorf("%s: no streambench_ prefix", d.Name)
		case seen[d.Name]:
			t.Errorf("%s: named twice", d.Name)
		case d.Type == Counter && !strings.HasSuffix(d.Name, "_total"):
			t.Errorf("%s: a counter's name ends in _total", d.Name)
		case d.Help == "" || d.Unit == "":
			t.Errorf("%s: no help or unit", d.Name)
		}
		seen[d.Name] = true
		for _, l := range d.Labels {
			for _, bad := range []string{"stream", "client", "conn"} {
				if strings.HasPrefix(l, bad) {
					t.Errorf("%s: label %q is per-%s: cardinality must stay bounded", d.Name, l, bad)
				}
			}
		}
	}
}
