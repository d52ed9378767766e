package main

import (
	"bytes"
	"path/filepath"
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

// TestValidateDecidesWhatRunDecides: with the method's descriptors named in
// the scenario (a protoset, .proto files), validate checks the templates
// against the method's types as run does — an unknown field, a response
// path that does not exist, a type that does not fit are exit 2 at their
// line and column — and with server reflection it says what it left to
// run.
func TestValidateDecidesWhatRunDecides(t *testing.T) {
	t.Parallel()
	protoset, err := filepath.Abs("../../scenarios/interop.protoset")
	if err != nil {
		t.Fatal(err)
	}
	ads, err := filepath.Abs("../../targets/generic/testdata/ads.proto")
	if err != nil {
		t.Fatal(err)
	}
	head := "name: x\nduration: 1s\ntarget: {address: \"127.0.0.1:7070\", insecure: true}\ngroups:\n  - name: g\n    clients: 1\n    messages: 3\n    call:\n"
	interop := "      method: grpc.testing.TestService/StreamingOutputCall\n"
	xds := "      method: adstest.v1.Ads/Stream\n      proto: [" + ads + "]\n"
	for _, tc := range []struct {
		name, call string
		code       int
		want       string // in stderr (bad) or stdout (ok)
	}{
		{"protoset, unknown field", interop + "      protoset: " + protoset + "\n      data:\n        response_parameters: [{size: 1}]\n        kee: 2\n",
			ExitBadInput, ":13:9: groups[0].call.data.kee: grpc.testing.StreamingOutputCallRequest has no field kee; its fields: response_type"},
		{"protoset, good", interop + "      protoset: " + protoset + "\n      data:\n        response_parameters: [{size: 1}]\n",
			0, ": ok"},
		{"proto, a string into an int", xds + "      data:\n        - {type_url: T}\n        - {start_revision: \"{{last.version_info}}\"}\n",
			ExitBadInput, ":13:12: groups[0].call.data[1].start_revision: {{last.version_info}}: the response's version_info is a string; the request's start_revision is an int64"},
		{"proto, no such response field", xds + "      data: {version_info: \"{{accepted.versoin}}\"}\n",
			ExitBadInput, ":11:14: groups[0].call.data.version_info: {{accepted.versoin}}: adstest.v1.DiscoveryResponse has no field versoin"},
		{"proto, a list longer than messages", xds + "      data: [{}, {}, {}, {}]\n",
			ExitBadInput, ":11:13: groups[0].call.data: lists 4 requests, but messages is 3"},
		{"proto, an ACK loop", xds + "      data:\n        - {type_url: T}\n        - {version_info: \"{{accepted.version_info}}\", response_nonce: \"{{last.nonce}}\"}\n",
			0, ": ok\n"},
		{"reflection", interop + "      data: {kee: 2}\n",
			0, ": not checked without the server: groups[0] (g): call.method grpc.testing.TestService/StreamingOutputCall, call.data and call.expect against the method's types: resolved over the target's server reflection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "s.yaml", head+tc.call)
			code, out, errs := cli(t, "validate", path)
			got := out
			if tc.code != 0 {
				got = errs
			}
			if code != tc.code || !strings.Contains(got, path+tc.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, path+tc.want, out, errs)
			}
			if tc.code == 0 && !strings.Contains(tc.want, "not checked") && strings.Contains(out, "not checked") {
				t.Errorf("a local descriptor left something unchecked:\n%s", out)
			}
		})
	}
}
