package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagValueNames: pflag takes a backquoted word in a flag's usage as the
// name of its value, so "(see `streambench list`)" would print
// "--faulty streambench list". Every flag's value name must be its type's.
func TestFlagValueNames(t *testing.T) {
	t.Parallel()
	var all []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot(&bytes.Buffer{}, &bytes.Buffer{}))
	n := 0
	for _, c := range all {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			n++
			name, _ := pflag.UnquoteUsage(f)
			if strings.Contains(f.Usage, "`") || strings.Contains(name, " ") {
				t.Errorf("%s --%s: value name %q (usage %q): a backquoted word becomes the value name", c.CommandPath(), f.Name, name, f.Usage)
			}
		})
	}
	if n < 10 {
		t.Fatalf("visited %d flags; the command tree was not walked", n)
	}
	for _, args := range [][]string{{"run", "--help"}, {"serve", "--help"}} {
		code, out, _ := cli(t, args...)
		if code != 0 || !regexpLine(out, "--faulty string ") {
			t.Errorf("%v: exit %d, want a line with \"--faulty string\":\n%s", args, code, out)
		}
	}
}

func regexpLine(out, s string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// TestValidateChecksEveryFile: validate reports every bad file and still
// says ok for the good ones, and its help says so.
func TestValidateChecksEveryFile(t *testing.T) {
	t.Parallel()
	good := "name: x\nduration: 1s\ngroups:\n  - rpc: Math/Pow\n    clients: 1\n"
	bad1 := writeFile(t, "a.yaml", good+"    clinets: 3\n")
	ok := writeFile(t, "b.yaml", good)
	bad2 := writeFile(t, "c.yaml", strings.Replace(good, "1s", "0", 1))
	code, out, errs := cli(t, "validate", bad1, ok, bad2)
	if code != ExitBadInput {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(out, ok+": ok") {
		t.Errorf("stdout lacks %s: ok:\n%s", ok, out)
	}
	for _, w := range []string{bad1 + ":6:5", bad2 + ":2:11: duration: must be > 0"} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	_, help, _ := cli(t, "validate", "--help")
	if strings.Contains(help, "first bad") || !strings.Contains(help, "every file") {
		t.Errorf("validate --help misdescribes it:\n%s", help)
	}
}
