package assert

import (
	"fmt"
	"strings"

	"github.com/streambench/streambench/reports"
)

// coversCheck judges the covers oracles of watcher groups
// (call.expect.covers): every write acknowledged to the writer group
// reached every watcher that covers it, exactly once and in order.
var coversCheck = Check{
	Name:     "covers",
	Doc:      "every write acknowledged to the writer group reached every watcher of the group whose watch covers it, exactly once and in order (call.expect.covers); no acknowledged write or no watcher started fails",
	Arg:      "group",
	Example:  "covers: watchers",
	Settings: []Setting{groupSetting},
	compile: func(in input) (Assertion, error) {
		group := in.value
		if in.args != nil {
			for k := range in.args {
				if k != "group" {
					return nil, fmt.Errorf("unknown setting %q of covers (settings: group)", k)
				}
			}
			group = in.args["group"]
		}
		if err := checkGroupName(group, in.groups); err != nil {
			return nil, err
		}
		return &covers{text: in.text, group: group}, nil
	},
}

type covers struct {
	text, group string
}

// coverNamed is how many failing watchers a verdict names.
const coverNamed = 3

func (c *covers) Check(r *reports.Report) reports.Verdict {
	v := reports.Verdict{Name: c.text, Expected: "every acknowledged write seen once, in order, by every watcher covering it"}
	gs, err := selectGroups(r, c.group)
	if err != nil {
		v.Actual, v.Detail = "n/a", err.Error()
		return v
	}
	var judged []*reports.Group
	for _, g := range gs {
		if g.Covers != nil {
			judged = append(judged, g)
		}
	}
	if len(judged) == 0 {
		v.Actual = noData
		if c.group == "" || c.group == "all" {
			v.Detail = "no group has a covers oracle in the report: declare call.expect.covers on a watcher group (a merged report of shards has none: one process must hold both the writers and the watchers)"
		} else {
			v.Detail = fmt.Sprintf("group %s has no covers oracle in the report: declare call.expect.covers on it (a merged report of shards has none)", c.group)
		}
		return v
	}
	var actual, problems []string
	pass, noEvidence := true, false
	for _, g := range judged {
		cv := g.Covers
		actual = append(actual, fmt.Sprintf("%s: %d writes, %d of %d watchers started, %d missing, %d duplicates, %d reorders",
			g.Name, cv.Writes, cv.Started, cv.Watchers, cv.Missing, cv.Duplicates, cv.Reorders))
		switch {
		case cv.Writes == 0:
			pass = false
			problems = append(problems, fmt.Sprintf("%s: no write was acknowledged to %s (its responses carried no %s), so there was nothing to see", g.Name, cv.Group, cv.Ack))
			noEvidence = true
			continue
		case cv.Started == 0:
			pass = false
			problems = append(problems, fmt.Sprintf("%s: no watcher received a response, so no write was covered", g.Name))
			noEvidence = true
			continue
		}
		if cv.FailingWatchers > 0 {
			pass = false
			var named []string
			for _, w := range cv.Failing {
				if len(named) == coverNamed {
					break
				}
				named = append(named, g.Name+"/"+watcherText(w, cv))
			}
			more := ""
			if n := cv.FailingWatchers - len(named); n > 0 {
				more = fmt.Sprintf("; and %d more watcher(s)", n)
			}
			problems = append(problems, fmt.Sprintf("%d of %d watchers failed: %s%s", cv.FailingWatchers, cv.Watchers, strings.Join(named, "; "), more))
		}
		if cv.Unlogged > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d writes acknowledged after the log held %d were not judged", g.Name, cv.Unlogged, cv.MaxWrites))
		}
	}
	v.Actual = strings.Join(actual, "; ")
	v.Pass = pass
	v.Detail = strings.Join(problems, "; ")
	if noEvidence {
		// Nothing to judge is never a pass, and says so first.
		v.Actual, v.Detail = noData, v.Detail+" ("+v.Actual+")"
	}
	return v
}

// watcherText says what went wrong for one watcher: "3 (from 5): 20 of
// 480 acknowledged writes of writers missing: 16..35".
func watcherText(w reports.CoverWatcher, cv *reports.Covers) string {
	if !w.Started {
		return fmt.Sprintf("%d: never received a response", w.Client)
	}
	var parts []string
	if w.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d acknowledged writes of %s missing (%s %s)", w.Missing, w.Covered, cv.Group, cv.Ack, strings.Join(w.MissingFirst, ", ")))
	}
	if w.Duplicates > 0 {
		parts = append(parts, fmt.Sprintf("%d received twice (%s)", w.Duplicates, strings.Join(w.DupFirst, ", ")))
	}
	if w.Reorders > 0 {
		parts = append(parts, fmt.Sprintf("%d out of order (%s)", w.Reorders, strings.Join(w.ReorderFirst, ", ")))
	}
	return fmt.Sprintf("%d (from %d): %s", w.Client, w.From, strings.Join(parts, ", "))
}
