package assert

import (
	"fmt"
	"sort"
	"strings"

	"github.com/streambench/streambench/reports"
)

// A named check counts something that must be zero.
type checkSpec struct {
	doc string
	// value is the one argument the check accepts ("clean"), or "" when its
	// argument is an optional group name.
	value string
	// count returns how many bad things group g saw, and which.
	count func(g *reports.Group) (uint64, string)
	// endKey, when set, picks example details from samples with that end.
	endKey string
	what   string
}

var checks_ = map[string]checkSpec{
	"eof": {
		doc:    "no stream ended with a clean io.EOF before it was complete (premature EOF), and no builtin handler returned OK for a stream already cancelled",
		value:  "clean",
		count:  func(g *reports.Group) (uint64, string) { return g.Ends["premature_eof"], "premature EOFs" },
		endKey: "premature_eof",
		what:   "premature EOFs",
	},
	"recovered": {
		doc: "every client whose stream broke received a message again before the run ended",
		count: func(g *reports.Group) (uint64, string) {
			return g.Outages.Unrecovered, "clients still broken at the end"
		},
		what: "clients still broken at the end",
	},
	"no_loss": {
		doc:   "every subscriber saw every update: no seq was skipped",
		count: func(g *reports.Group) (uint64, string) { return g.Violations["gap"], "lost updates" },
		what:  "lost updates",
	},
	"no_duplicates": {
		doc: "no update or answer arrived twice or out of order",
		count: func(g *reports.Group) (uint64, string) {
			return g.Violations["duplicate"] + g.Violations["reorder"], "duplicate or reordered messages"
		},
		what: "duplicate or reordered messages",
	},
	"correct": {
		doc: "every value and result the server sent was right (Pow powers, Sqrt roots, Sum totals)",
		count: func(g *reports.Group) (uint64, string) {
			return g.Violations["wrong_value"] + g.Violations["wrong_result"] + g.Violations["extra"], "wrong values or results"
		},
		endKey: "violation",
		what:   "wrong values or results",
	},
}

// Checks returns every named check with its one-line description, sorted.
func Checks() [][2]string {
	var out [][2]string
	for _, n := range checkNames() {
		doc := checks_[n].doc
		switch n {
		case "isolation":
			doc = "with slow readers present the fast group keeps its latency (factor/bound) and the feed rate, and slow readers are cut off: {group: FAST, factor: 3}"
		case "latency_shift":
			doc = "a fault moved the group's median latency by the injected amount: {group: pow, fault: 0, by: 100ms, tolerance: 25%}"
		case "leaks":
			doc = "none: after teardown no goroutine, fd, heap or server-side stream is left (settings: settle, heap)"
		}
		out = append(out, [2]string{n, doc})
	}
	return out
}

func checkNames() []string {
	names := []string{"isolation", "latency_shift", "leaks"}
	for n := range checks_ {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortStrings(s []string) { sort.Strings(s) }

type check struct {
	text  string
	name  string
	group string
	spec  checkSpec
}

func compileCheck(text, key, value string, groups []string) (Assertion, error) {
	if key == "leaks" {
		return compileLeaks(text, value, nil)
	}
	if key == "latency_shift" {
		return nil, fmt.Errorf("latency_shift takes settings: write latency_shift: {group: G, fault: 0, by: 100ms, tolerance: 25%%}")
	}
	if key == "isolation" {
		return nil, fmt.Errorf("isolation takes settings: write isolation: {group: FAST, factor: 3} or {group: FAST, bound: 250ms}")
	}
	spec, ok := checks_[key]
	if !ok {
		return nil, fmt.Errorf("unknown check %q (checks: %s; or write a threshold like %q)",
			key, strings.Join(checkNames(), ", "), "latency.p99 < 20ms")
	}
	c := &check{text: text, name: key, spec: spec}
	if spec.value != "" {
		if value != spec.value {
			return nil, fmt.Errorf("%s: want %q, got %q", key, spec.value, value)
		}
		return c, nil
	}
	if err := checkGroupName(value, groups); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	c.group = value
	return c, nil
}

func (c *check) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: c.text, Expected: "0 " + c.spec.what}
	if c.group != "" && c.group != "all" {
		v.Expected += " in " + c.group
	}
	gs, err := selectGroups(r, c.group)
	if err != nil {
		v.Actual, v.Detail = "n/a", err.Error()
		return v
	}
	var total uint64
	var per []string
	var examples []string
	for _, g := range gs {
		n, _ := c.spec.count(g)
		if n == 0 {
			continue
		}
		total += n
		per = append(per, fmt.Sprintf("%s: %d", g.Name, n))
		if c.spec.endKey != "" {
			for _, s := range g.Samples {
				if s.End == c.spec.endKey && len(examples) < 3 {
					examples = append(examples, g.Name+": "+s.Detail)
				}
			}
		}
	}
	if c.name == "eof" && r.Server != nil && r.Server.OKAfterCancel > 0 && (c.group == "" || c.group == "all") {
		// The server side of a premature EOF: a handler that returned OK
		// for a stream its client had already lost.
		total += r.Server.OKAfterCancel
		per = append(per, fmt.Sprintf("server: %d handlers returned OK after their stream was cancelled", r.Server.OKAfterCancel))
	}
	v.Actual = fmt.Sprintf("%d %s", total, c.spec.what)
	v.Pass = total == 0
	if !v.Pass {
		v.Detail = strings.Join(per, ", ")
		if len(examples) > 0 {
			v.Detail += "; e.g. " + strings.Join(examples, "; ")
		}
	}
	return v
}
