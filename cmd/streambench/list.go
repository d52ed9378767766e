package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/targets/faulty"
)

// entry is one line of `streambench list`: a name, what it takes or can
// do, and a sentence.
type entry struct {
	Name string `json:"name"`
	// Takes is what it takes or can do: an RPC's group settings, a
	// target kind's or link's faults, a fault kind's or check's settings.
	Takes []string `json:"takes,omitempty"`
	Doc   string   `json:"doc,omitempty"`
}

// topic is one part of `streambench list`, read from its registry.
type topic struct {
	name, title string
	takes       string // what Takes lists, in the text form
	entries     func() ([]entry, error)
}

var topics = []topic{
	{"rpcs", "RPCS (group rpc:)", "group settings", func() ([]entry, error) {
		var out []entry
		for _, e := range streambench.RPCs().Entries() {
			out = append(out, entry{Name: e.Name, Takes: split(rpcCaps(e)), Doc: e.Doc})
		}
		return out, nil
	}},
	{"targets", "TARGET KINDS (target: {KIND: ...})", "server and stream faults", func() ([]entry, error) {
		var out []entry
		for _, k := range streambench.Targets().Kinds() {
			t, err := k.New(target.Spec{Scenario: &scenario.Scenario{}})
			if err != nil {
				return nil, err
			}
			out = append(out, entry{Name: k.Name, Takes: fault.TargetKinds(t), Doc: k.Doc})
		}
		return out, nil
	}},
	{"links", "LINKS (link:)", "network faults", func() ([]entry, error) {
		var out []entry
		for _, l := range scenario.LinkKinds {
			out = append(out, entry{Name: l, Takes: link.KindsOf(l)})
		}
		return out, nil
	}},
	{"faults", "FAULT KINDS (faults: - {at: 10s, kind: NAME, ...settings})", "settings", func() ([]entry, error) {
		var out []entry
		for _, k := range fault.Kinds {
			out = append(out, entry{Name: k.Name, Takes: k.Settings(), Doc: k.Layer.String() + ": " + k.Doc})
		}
		return out, nil
	}},
	{"checks", "CHECKS (assert: - NAME: ARG, or - NAME: {settings})", "settings", func() ([]entry, error) {
		var out []entry
		for _, c := range assert.Checks() {
			out = append(out, entry{Name: c.Name, Takes: c.SettingNames(), Doc: strings.TrimSpace(c.Arg + ": " + c.Doc)})
		}
		return out, nil
	}},
	{"metrics", "METRICS (assert: - [group.]METRIC OP VALUE)", "", func() ([]entry, error) {
		var out []entry
		for _, m := range assert.Metrics() {
			out = append(out, entry{Name: m.Name, Doc: strings.TrimSpace(m.Unit + ": " + m.Doc)})
		}
		return out, nil
	}},
	{"bugs", "PLANTED BUGS (--faulty NAME, self-checks only)", "", func() ([]entry, error) {
		var out []entry
		for _, b := range faulty.All() {
			out = append(out, entry{Name: b.Name, Doc: b.Description})
		}
		return out, nil
	}},
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ", ")
}

func topicNames() []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = t.name
	}
	return out
}

func newListCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	var width int
	cmd := &cobra.Command{
		Use:   "list [" + strings.Join(topicNames(), "|") + "]...",
		Short: "List what scenarios can name: RPCs, target kinds, links, fault kinds, checks, metrics, planted bugs",
		Example: `  streambench list faults
  streambench list --json rpcs targets`,
		RunE: func(cmd *cobra.Command, args []string) error {
			chosen := topics
			if len(args) > 0 {
				chosen = nil
				for _, a := range args {
					i := indexOf(topicNames(), a)
					if i < 0 {
						return exitf(ExitBadInput, "list: %s", scenario.UnknownChoice("topic", a, topicNames()))
					}
					chosen = append(chosen, topics[i])
				}
			}
			if asJSON {
				out := map[string][]entry{}
				for _, t := range chosen {
					es, err := t.entries()
					if err != nil {
						return err
					}
					out[t.name] = es
				}
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			if !cmd.Flags().Changed("width") {
				width = terminalWidth(stdout)
			}
			for i, t := range chosen {
				es, err := t.entries()
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(stdout)
				}
				writeTopic(stdout, t, es, width)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for tools: each topic's entries as {name, takes, doc}")
	cmd.Flags().IntVar(&width, "width", 100, "wrap lines at this many columns (default: the terminal's width, or 100)")
	return cmd
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// terminalWidth is w's terminal width, or 100 when w is not a terminal.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if c, _, err := term.GetSize(int(f.Fd())); err == nil && c >= 40 {
			return c
		}
	}
	return 100
}

// writeTopic prints a topic as a name column with its settings and doc
// wrapped under it, no line wider than width (a long name or setting
// alone excepted).
func writeTopic(w io.Writer, t topic, es []entry, width int) {
	fmt.Fprintln(w, t.title)
	nameW := 0
	for _, e := range es {
		nameW = max(nameW, len(e.Name))
	}
	nameW = min(nameW, 24)
	indent := strings.Repeat(" ", 2+nameW+2)
	for _, e := range es {
		first := fmt.Sprintf("  %-*s  ", nameW, e.Name)
		if len(e.Name) > nameW {
			fmt.Fprintln(w, "  "+e.Name)
			first = indent
		}
		var lines []string
		if e.Doc != "" {
			lines = append(lines, wrap(e.Doc, width-len(indent))...)
		}
		if len(e.Takes) > 0 {
			lines = append(lines, wrap(t.takes+": "+strings.Join(e.Takes, ", "), width-len(indent))...)
		}
		if len(lines) == 0 {
			fmt.Fprintln(w, strings.TrimRight(first, " "))
			continue
		}
		for i, l := range lines {
			if i == 0 {
				fmt.Fprintln(w, first+l)
			} else {
				fmt.Fprintln(w, indent+l)
			}
		}
	}
}

// wrap breaks s into lines of at most width columns at spaces.
func wrap(s string, width int) []string {
	width = max(width, 20)
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			out = append(out, line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}
