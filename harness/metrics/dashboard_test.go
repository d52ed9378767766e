package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

var metricRef = regexp.MustCompile(`\bstreambench_[a-z_]+`)

// known reports whether ref is a metric of Defs, or a classic histogram
// series (_bucket, _sum, _count) of one.
func known(ref string) bool {
	if _, ok := Lookup(ref); ok {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if d, ok := Lookup(strings.TrimSuffix(ref, suf)); ok && d.Type == Histogram && strings.HasSuffix(ref, suf) {
			return true
		}
	}
	return false
}

// TestDashboardNamesRegisteredMetrics decodes the Grafana dashboard and
// checks every query (panels, fault annotations, variables) names metrics
// of the registry, and that the panels the issue asks for are there.
func TestDashboardNamesRegisteredMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/streambench.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("streambench.json: %v", err)
	}
	var exprs []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, a := range d.Annotations.List {
		exprs = append(exprs, a.Expr)
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok && strings.Contains(q, "streambench_") {
			exprs = append(exprs, q)
		}
	}
	used := map[string]bool{}
	for _, e := range exprs {
		refs := metricRef.FindAllString(e, -1)
		if len(refs) == 0 {
			t.Errorf("query %q names no streambench metric", e)
		}
		for _, r := range refs {
			if !known(r) {
				t.Errorf("query %q names %s, which is not in metrics.Defs", e, r)
			}
			used[r] = true
		}
	}
	for _, want := range []string{ActiveStreams, MessagesReceived, Latency, FaultActive, Violations} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	if !strings.Contains(strings.Join(exprs, "\n"), "histogram_quantile(") {
		t.Error("no latency percentile from the histogram (histogram_quantile)")
	}
	shaded := false
	for _, a := range d.Annotations.List {
		shaded = shaded || strings.Contains(a.Expr, FaultActive)
	}
	if !shaded {
		t.Error("faults are not shaded: no annotation on " + FaultActive)
	}
}
