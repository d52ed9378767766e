package assert

import (
	"fmt"
	"strings"

	"github.com/streambench/streambench/reports"
)

// The counting checks: each counts something that must be zero in the
// groups it judges, and needs evidence (messages received and streams
// ended) in each of them.

var groupSetting = Setting{Name: "group", Default: "all", Doc: "the group judged: a group name or `all`"}

var eofCheck = Check{
	Name:     "eof",
	Doc:      "no stream ended with a clean io.EOF before it was complete (premature EOF), and no builtin handler returned OK for a stream already cancelled",
	Arg:      "clean",
	Example:  "eof: clean",
	Settings: withEvidence(groupSetting),
	compile: counting(countSpec{
		what:   "premature EOFs",
		endKey: "premature_eof",
		count:  func(g *reports.Group) uint64 { return g.Ends["premature_eof"] },
		server: true,
		word:   "clean",
	}),
}

var correctCheck = Check{
	Name:     "correct",
	Doc:      "every value and result the server sent was right (Pow powers, Sqrt roots, Sum totals), and no stream carried more messages than its protocol allows",
	Arg:      "group",
	Example:  "correct: pow",
	Settings: withEvidence(groupSetting),
	compile: counting(countSpec{
		what:   "wrong values or results",
		endKey: "violation",
		count: func(g *reports.Group) uint64 {
			return g.Violations["wrong_value"] + g.Violations["wrong_result"] + g.Violations["extra"]
		},
	}),
}

var noLossCheck = Check{
	Name:     "no_loss",
	Doc:      "every subscriber saw every update: no seq was skipped",
	Arg:      "group",
	Example:  "no_loss: subscribers",
	Settings: withEvidence(groupSetting),
	compile: counting(countSpec{
		what:   "lost updates",
		count:  func(g *reports.Group) uint64 { return g.Violations["gap"] },
		endKey: "violation",
		kinds:  []string{"gap"},
	}),
}

var noDuplicatesCheck = Check{
	Name:     "no_duplicates",
	Doc:      "no update or answer arrived twice or out of order",
	Arg:      "group",
	Example:  "no_duplicates: subscribers",
	Settings: withEvidence(groupSetting),
	compile: counting(countSpec{
		what:   "duplicate or reordered messages",
		count:  func(g *reports.Group) uint64 { return g.Violations["duplicate"] + g.Violations["reorder"] },
		endKey: "violation",
		kinds:  []string{"duplicate", "reorder"},
	}),
}

var recoveredCheck = Check{
	Name:     "recovered",
	Doc:      "every client whose stream broke was back to live (a message within the freshness bound) before the run ended",
	Arg:      "group",
	Example:  "recovered: subscribers",
	Settings: withEvidence(groupSetting, minOutagesSetting),
	compile: counting(countSpec{
		what:    "clients not back to live at the end",
		count:   func(g *reports.Group) uint64 { return g.Outages.Unrecovered },
		outages: true,
		detail: func(g *reports.Group) string {
			stale := g.Outages.Resumed - min(g.Outages.Resumed, g.Outages.Recovered)
			return fmt.Sprintf("%d receiving only stale messages, %d receiving nothing", stale, g.Outages.Unrecovered-min(g.Outages.Unrecovered, stale))
		},
	}),
}

// countSpec is what one counting check counts.
type countSpec struct {
	// what names the counted things ("lost updates").
	what string
	// count returns how many bad things group g saw.
	count func(g *reports.Group) uint64
	// endKey, when set, picks example details from samples with that end.
	endKey string
	// kinds, when set, narrows the examples to the violations of these
	// kinds a sample's detail names ("first gap: ... 4..23 missing"), and
	// quotes just that part.
	kinds []string
	// server adds the builtin server's OK-after-cancel handlers when every
	// group is judged (eof).
	server bool
	// word, when set, is the one argument the short form takes (eof:
	// clean), which then judges every group.
	word string
	// outages makes at least one outage per group part of the evidence.
	outages bool
	// detail, when set, explains a group's count.
	detail func(g *reports.Group) string
}

type counted struct {
	text  string
	group string
	spec  countSpec
	need  evidence
}

// counting returns the compile function of a counting check.
func counting(spec countSpec) func(in input) (Assertion, error) {
	return func(in input) (Assertion, error) {
		c := &counted{text: in.text, spec: spec, need: defaultEvidence()}
		if spec.outages {
			c.need.outages = 1
		}
		group := in.value
		if in.args != nil {
			args := cloneArgs(in.args)
			if err := parseEvidence(&c.need, args); err != nil {
				return nil, err
			}
			group = args["group"]
		} else if spec.word != "" {
			if in.value != spec.word {
				return nil, fmt.Errorf("want %q, got %q", spec.word, in.value)
			}
			group = ""
		}
		if err := checkGroupName(group, in.groups); err != nil {
			return nil, err
		}
		c.group = group
		return c, nil
	}
}

func (c *counted) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: c.text, Expected: "0 " + c.spec.what}
	if c.group != "" && c.group != "all" {
		v.Expected += " in " + c.group
	}
	gs, err := selectGroups(r, c.group)
	if err != nil {
		v.Actual, v.Detail = "n/a", err.Error()
		return v
	}
	if c.need.refuse(&v, gs) {
		return v
	}
	var total uint64
	var per, examples []string
	for _, g := range gs {
		n := c.spec.count(g)
		if n == 0 {
			continue
		}
		total += n
		line := fmt.Sprintf("%s: %d", g.Name, n)
		if c.spec.detail != nil {
			line += " (" + c.spec.detail(g) + ")"
		}
		per = append(per, line)
		if c.spec.endKey != "" {
			for _, s := range g.Samples {
				if s.End != c.spec.endKey || len(examples) >= 3 {
					continue
				}
				if c.spec.kinds == nil {
					examples = append(examples, g.Name+": "+s.Detail)
				} else if part := kindPart(s.Detail, c.spec.kinds); part != "" {
					examples = append(examples, g.Name+": "+part)
				}
			}
		}
	}
	if c.spec.server && r.Server != nil && r.Server.OKAfterCancel > 0 && (c.group == "" || c.group == "all") {
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

// kindPart is the part of a violation end's detail ("3 violation(s),
// first gap: seq 24 after 3: 4..23 missing (20 lost); first duplicate:
// ...") about the first of kinds it names, "gap: seq 24 after 3: ...";
// "" when it names none.
func kindPart(detail string, kinds []string) string {
	at := -1
	for _, k := range kinds {
		if i := strings.Index(detail, "first "+k+": "); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	if at < 0 {
		return ""
	}
	part := detail[at+len("first "):]
	for _, sep := range []string{"; first ", "; stream then ended"} {
		if end := strings.Index(part, sep); end >= 0 {
			part = part[:end]
		}
	}
	return part
}
