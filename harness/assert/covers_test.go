package assert

import (
	"strings"
	"testing"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// TestCoversCheck: covers passes only on a watcher group whose oracle
// logged writes, had its watchers started and found nothing wrong; no
// oracle, no write and no watcher fail and say so; a failing watcher is
// named with its revisions and counts.
func TestCoversCheck(t *testing.T) {
	good := reports.Covers{Group: "writers", Ack: "header.revision", Writes: 100, Watchers: 2, Started: 2, Covered: 180}
	for _, tc := range []struct {
		name   string
		covers *reports.Covers
		pass   bool
		detail string
	}{
		{"correct", &good, true, ""},
		{"no oracle in the report", nil, false, "group watchers has no covers oracle"},
		{"no write acknowledged", func() *reports.Covers { c := good; c.Writes = 0; return &c }(), false, "no write was acknowledged to writers (its responses carried no header.revision)"},
		{"no watcher started", func() *reports.Covers { c := good; c.Started = 0; return &c }(), false, "no watcher received a response"},
		{"a watcher missed writes", func() *reports.Covers {
			c := good
			c.Missing, c.FailingWatchers = 20, 1
			c.Failing = []reports.CoverWatcher{{Client: 3, Started: true, From: 5, Covered: 90, Missing: 20, MissingFirst: []string{"16..35"}}}
			return &c
		}(), false, "1 of 2 watchers failed: watchers/3 (from 5): 20 of 90 acknowledged writes of writers missing (header.revision 16..35)"},
		{"a watcher never started", func() *reports.Covers {
			c := good
			c.Started, c.FailingWatchers = 1, 1
			c.Failing = []reports.CoverWatcher{{Client: 4}}
			return &c
		}(), false, "watchers/4: never received a response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := CompileOne(scenario.Assertion{Key: "covers", Value: "watchers"}, []string{"writers", "watchers"})
			if err != nil {
				t.Fatal(err)
			}
			rep := &reports.Report{Groups: []reports.Group{{Name: "writers"}, {Name: "watchers", Covers: tc.covers}}}
			v := a.Check(rep)
			if v.Pass != tc.pass || !strings.Contains(v.Detail, tc.detail) {
				t.Errorf("pass %v (%s: %s), want pass %v with %q", v.Pass, v.Actual, v.Detail, tc.pass, tc.detail)
			}
		})
	}
	if _, err := CompileOne(scenario.Assertion{Key: "covers", Value: "watcher"}, []string{"writers", "watchers"}); err == nil || !strings.Contains(err.Error(), "groups: all, writers, watchers") {
		t.Errorf("an unknown group: %v", err)
	}
}
