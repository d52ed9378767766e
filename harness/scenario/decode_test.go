package scenario

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// wantErr describes one expected error: its exact "file:line:col" and field,
// and fragments its message must contain (field names, valid choices).
type wantErr struct {
	loc   string // "f.yaml:3:5"
	field string
	msg   []string
}

// checkErrs asserts err is Errors matching want, in order.
func checkErrs(t *testing.T, err error, want ...wantErr) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d", len(want))
	}
	es, ok := AsErrors(err)
	if !ok {
		t.Fatalf("error %T %q is not scenario Errors", err, err)
	}
	if len(es) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(es), len(want), err)
	}
	for i, w := range want {
		e := es[i]
		loc := e.File
		if e.Pos.Line > 0 {
			loc += fmt.Sprintf(":%d", e.Pos.Line)
			if e.Pos.Column > 0 {
				loc += fmt.Sprintf(":%d", e.Pos.Column)
			}
		}
		if loc != w.loc || e.Field != w.field {
			t.Errorf("error %d at %s field %q, want %s field %q (%v)", i, loc, e.Field, w.loc, w.field, e)
		}
		prefix := w.loc + ": "
		if w.field != "" {
			prefix += w.field + ": "
		}
		if !strings.HasPrefix(e.Error(), prefix) {
			t.Errorf("error %d = %q, want prefix %q", i, e.Error(), prefix)
		}
		for _, m := range w.msg {
			if !strings.Contains(e.Msg, m) {
				t.Errorf("error %d message %q lacks %q", i, e.Msg, m)
			}
		}
	}
}

const groupKeys = "valid keys: name, rpc, clients, connections, messages, interval, payload, base, repeat, pause, stream_timeout"

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want wantErr
	}{
		// Unknown keys.
		{"unknown top-level key with suggestion", "name: x\nnmae: y\n",
			wantErr{"f.yaml:2:1", "nmae", []string{`unknown key "nmae"`, `did you mean "name"?`,
				"valid keys: version, name, description, seed, duration, graceful_stop, target, link, groups, faults, assert"}}},
		{"unknown group key with suggestion", "groups:\n  - name: a\n  - name: b\n    clinets: 3\n",
			wantErr{"f.yaml:4:5", "groups[1].clinets", []string{`unknown key "clinets"`, `did you mean "clients"?`, groupKeys}}},
		{"unknown key case", "groups:\n  - RPC: Math/Pow\n",
			wantErr{"f.yaml:2:5", "groups[0].RPC", []string{`did you mean "rpc"?`}}},
		{"unknown key without suggestion", "target:\n  builtin:\n    feed:\n      zzzzzz: 1\n",
			wantErr{"f.yaml:4:7", "target.builtin.feed.zzzzzz", []string{`unknown key "zzzzzz"; valid keys: rate, payload, ring, queue`}}},
		{"yaml-ignored field is unknown", "file: x.yaml\n",
			wantErr{"f.yaml:1:1", "file", []string{`unknown key "file"`}}},
		{"unknown keepalive key", "target:\n  builtin:\n    server:\n      keepalive:\n        mintime: 1s\n",
			wantErr{"f.yaml:5:9", "target.builtin.server.keepalive.mintime", []string{`did you mean "min_time"?`, "valid keys: time, timeout, min_time"}}},

		// Duplicate keys.
		{"duplicate key", "name: x\nseed: 1\nname: y\n",
			wantErr{"f.yaml:3:1", "name", []string{`duplicate key "name" (first set at line 1, column 1)`}}},
		{"duplicate key in group", "groups:\n  - {rpc: Math/Pow, rpc: Math/Sum}\n",
			wantErr{"f.yaml:2:21", "groups[0].rpc", []string{`duplicate key "rpc" (first set at line 2, column 6)`}}},

		// Wrong types.
		{"string for integer", "groups:\n  - clients: \"10\"\n",
			wantErr{"f.yaml:2:14", "groups[0].clients", []string{`expected an integer, got the string "10"`}}},
		{"float for integer", "groups:\n  - clients: 1.5\n",
			wantErr{"f.yaml:2:14", "groups[0].clients", []string{"expected an integer, got the number 1.5"}}},
		{"a 23-digit integer", "seed: 12345678901234567890123\n",
			wantErr{"f.yaml:1:7", "seed", []string{"integer 12345678901234567890123 is out of range (-9223372036854775808 to 9223372036854775807)"}}},
		{"a 23-digit integer for a count", "groups:\n  - clients: -12_345_678_901_234_567_890_123\n",
			wantErr{"f.yaml:2:14", "groups[0].clients", []string{"integer -12_345_678_901_234_567_890_123 is out of range (-9223372036854775808 to 9223372036854775807)"}}},
		{"a big float is still not an integer", "seed: 1.5e30\n",
			wantErr{"f.yaml:1:7", "seed", []string{"expected an integer, got the number 1.5e30"}}},
		{"unsigned overflow says the range", "target:\n  builtin:\n    server:\n      max_concurrent_streams: 99999999999999999999999\n",
			wantErr{"f.yaml:4:31", "target.builtin.server.max_concurrent_streams", []string{"out of range (0 to 4294967295)"}}},
		{"negative unsigned", "target:\n  builtin:\n    server:\n      max_concurrent_streams: -1\n",
			wantErr{"f.yaml:4:31", "target.builtin.server.max_concurrent_streams", []string{"out of range (0 to 4294967295)"}}},
		{"unsigned overflow", "target:\n  builtin:\n    server:\n      max_concurrent_streams: 4294967296\n",
			wantErr{"f.yaml:4:31", "target.builtin.server.max_concurrent_streams", []string{"out of range"}}},
		{"mapping for string", "name: {a: 1}\n",
			wantErr{"f.yaml:1:7", "name", []string{"expected a string, got a mapping"}}},
		{"list for struct", "target: [1]\n",
			wantErr{"f.yaml:1:9", "target", []string{"expected a mapping, got a list"}}},
		{"mapping for list", "groups: {name: a}\n",
			wantErr{"f.yaml:1:9", "groups", []string{"expected a list, got a mapping"}}},
		{"integer for bool", "groups:\n  - repeat: 1\n",
			wantErr{"f.yaml:2:13", "groups[0].repeat", []string{"expected true or false, got the integer 1"}}},
		{"yes is not a bool", "groups:\n  - repeat: yes\n",
			wantErr{"f.yaml:2:13", "groups[0].repeat", []string{`expected true or false, got the string "yes"`}}},
		{"tag that does not fit", "seed: !!int abc\n",
			wantErr{"f.yaml:1:7", "seed", []string{`expected an integer, got !!int "abc"`}}},
		{"tagged string for integer", "groups: [{clients: !!str 3}]\n",
			wantErr{"f.yaml:1:20", "groups[0].clients", []string{`expected an integer, got !!str "3"`}}},
		{"string for base", "groups:\n  - base: two\n",
			wantErr{"f.yaml:2:11", "groups[0].base", []string{`expected an integer, got the string "two"`}}},

		// Durations, sizes, rates.
		{"duration without unit", "duration: 10\n",
			wantErr{"f.yaml:1:11", "duration", []string{`bad duration "10"`, "needs a unit", "units ns, us, ms, s, m, h"}}},
		{"duration garbage", "groups:\n  - interval: 10 s\n",
			wantErr{"f.yaml:2:15", "groups[0].interval", []string{`bad duration "10 s"`, "10s, 1m30s"}}},
		{"duration bool", "graceful_stop: true\n",
			wantErr{"f.yaml:1:16", "graceful_stop", []string{"expected a duration, got the boolean true"}}},
		{"duration mapping", "duration: {s: 1}\n",
			wantErr{"f.yaml:1:11", "duration", []string{"expected a duration, got a mapping"}}},
		{"size unknown unit", "groups:\n  - payload: 4kb\n",
			wantErr{"f.yaml:2:14", "groups[0].payload", []string{`bad size "4kb"`, `unknown unit "kb"`, "B, KB, MB, GB", "KiB, MiB, GiB"}}},
		{"size fraction", "target:\n  builtin:\n    feed: {payload: 1.5KiB}\n",
			wantErr{"f.yaml:3:21", "target.builtin.feed.payload", []string{`bad size "1.5KiB"`, "KiB, MiB, GiB"}}},
		{"size overflow", "groups:\n  - payload: 9999999999999GiB\n",
			wantErr{"f.yaml:2:14", "groups[0].payload", []string{"out of range"}}},
		{"rate unknown unit", "target:\n  builtin:\n    feed:\n      rate: 5/x\n",
			wantErr{"f.yaml:4:13", "target.builtin.feed.rate", []string{`bad rate "5/x"`, `unknown unit "x"`, `"200/s", "12000/m", "5/ms", "1/h"`}}},
		{"rate garbage", "target:\n  builtin:\n    feed: {rate: fast}\n",
			wantErr{"f.yaml:3:18", "target.builtin.feed.rate", []string{`bad rate "fast"`, "per second"}}},
		{"rate infinity", "target:\n  builtin:\n    feed: {rate: .inf}\n",
			wantErr{"f.yaml:3:18", "target.builtin.feed.rate", []string{`bad rate ".inf"`}}},

		{"queue negative", "groups:\n  - arrival: {rate: 10/s, queue: -1}\n",
			wantErr{"f.yaml:2:34", "groups[0].arrival.queue", []string{`expected a queue bound, got the integer -1`, `"unbounded"`}}},
		{"queue word", "groups:\n  - arrival: {rate: 10/s, queue: many}\n",
			wantErr{"f.yaml:2:34", "groups[0].arrival.queue", []string{`expected a queue bound, got the string "many"`, "a count of slots"}}},
		{"queue fraction", "groups:\n  - arrival: {rate: 10/s, queue: 1.5}\n",
			wantErr{"f.yaml:2:34", "groups[0].arrival.queue", []string{"expected a queue bound"}}},

		// Link.
		{"link unknown with suggestion", "link: tpc\n",
			wantErr{"f.yaml:1:7", "link", []string{`unknown link "tpc"`, `did you mean "tcp"?`, "valid choices: bufconn, tcp or toxiproxy"}}},
		{"link mapping of unknown kind", "link: {pigeon: {address: 127.0.0.1:8474}}\n",
			wantErr{"f.yaml:1:8", "link.pigeon", []string{`unknown link "pigeon"`, "bufconn, tcp or toxiproxy"}}},
		{"link toxiproxy unknown setting", "link: {toxiproxy: {adress: 127.0.0.1:8474}}\n",
			wantErr{"f.yaml:1:20", "link.toxiproxy.adress", []string{`did you mean "address"`}}},
		{"link mapping of a kind without settings", "link:\n  tcp: {}\n",
			wantErr{"f.yaml:2:3", "link.tcp", []string{"link tcp takes no settings; write link: tcp"}}},
		{"link mapping with two keys", "link: {tcp: {}, bufconn: {}}\n",
			wantErr{"f.yaml:1:7", "link", []string{"exactly one key", "got 2"}}},
		{"link list", "link: [tcp]\n",
			wantErr{"f.yaml:1:7", "link", []string{"expected a link kind (bufconn, tcp or toxiproxy), got a list"}}},

		// Assertions.
		{"empty assertion", "assert:\n  - eof: clean\n  -\n",
			wantErr{"f.yaml:3:4", "assert[1]", []string{"empty assertion", "eof: clean"}}},
		{"blank assertion", "assert:\n  - \"  \"\n",
			wantErr{"f.yaml:2:5", "assert[0]", []string{"empty assertion"}}},
		{"assertion with two keys", "assert:\n  - {eof: clean, leaks: none}\n",
			wantErr{"f.yaml:2:5", "assert[0]", []string{"exactly one key, got 2", "own list item"}}},
		{"assertion value not scalar", "assert:\n  - no_loss: [a, b]\n",
			wantErr{"f.yaml:2:14", "assert[0]", []string{`the value of "no_loss" must be a single word, a number or a mapping of settings, got a list`}}},
		{"assertion list", "assert:\n  - [a]\n",
			wantErr{"f.yaml:2:5", "assert[0]", []string{"expected an assertion, got a list"}}},
		{"assert not a list", "assert: eof\n",
			wantErr{"f.yaml:1:9", "assert", []string{"expected a list, got the string \"eof\""}}},

		// Document shape.
		{"empty file", "", wantErr{"f.yaml:1:1", "", []string{"empty file", "name, duration and groups"}}},
		{"comment only", "# nothing\n", wantErr{"f.yaml:1:1", "", []string{"empty file"}}},
		{"null document", "---\n~\n", wantErr{"f.yaml:2:1", "", []string{"empty document"}}},
		{"list document", "- name: x\n", wantErr{"f.yaml:1:1", "", []string{"a scenario is a mapping", "got a list"}}},
		{"scalar document", "hello\n", wantErr{"f.yaml:1:1", "", []string{`got the string "hello"`}}},
		{"two documents", "name: x\n---\nname: y\n", wantErr{"f.yaml:2:1", "", []string{"one YAML document"}}},
		{"two documents, second broken", "name: x\n---\n[\n", wantErr{"f.yaml:3:1", "", []string{"invalid YAML"}}},
		{"syntax error", "name: x\n  bad: indent\n", wantErr{"f.yaml:2:6", "", []string{"invalid YAML: mapping values are not allowed"}}},
		{"syntax error on line 1", "{", wantErr{"f.yaml:1:1", "", []string{"invalid YAML"}}},
		{"a second colon in a value", "name: a\nduration: 10s: x\n", wantErr{"f.yaml:2:14", "", []string{"invalid YAML: mapping values are not allowed"}}},
		{"a character that cannot start a token", "name: a\nseed: @1\n", wantErr{"f.yaml:2:7", "", []string{"cannot start any token"}}},
		{"a tab for indentation", "name: a\ngroups:\n\t- name: x\n", wantErr{"f.yaml:3:1", "", []string{"cannot start any token"}}},
		{"an unclosed flow list", "name: a\ngroups: [x, y\nseed: 1\n", wantErr{"f.yaml:2:13", "", []string{"did not find expected ',' or ']'"}}},
		{"an unclosed quote", "name: a\ndescription: \"abc\nseed: 1\n", wantErr{"f.yaml:2:14", "", []string{"unexpected end of stream"}}},
		{"a bad indent in a list", "name: a\ngroups:\n  - name: x\n   clients: 3\n", wantErr{"f.yaml:4:4", "", []string{"did not find expected '-' indicator"}}},
		{"far into a large file", "name: x\n" + strings.Repeat("# padding\n", 40000) + "x: " + strings.Repeat("a", 100) + ": y\n",
			wantErr{"f.yaml:40002:104", "", []string{"mapping values are not allowed"}}},
		{"the same error in a small file: exact", "name: x\nx: " + strings.Repeat("a", 100) + ": y\n",
			wantErr{"f.yaml:2:104", "", []string{"mapping values are not allowed"}}},
		{"an error the parser gives no line for, after 500,000 blank lines", strings.Repeat("\n", 500000) + "a: 'x' y\n",
			wantErr{"f.yaml:500001:8", "", []string{"did not find expected key"}}},
		{"a multi-byte character before the error", "name: é\nx: é: y\n", wantErr{"f.yaml:2:5", "", []string{"mapping values are not allowed"}}},
		{"invalid UTF-8", "name: x\nseed: \xff\n", wantErr{"f.yaml:2:7", "", []string{"not valid UTF-8"}}},
		{"control character", "name: a\x07b\n", wantErr{"f.yaml:1:8", "", []string{"control character U+0007"}}},
		{"too large", "name: x\n" + strings.Repeat("#", maxSource), wantErr{"f.yaml", "", []string{"at most 1048576"}}},

		// Anchors, aliases, merge keys, tags.
		{"anchor", "name: &n x\n", wantErr{"f.yaml:1:7", "name", []string{"anchors (&n) are not supported"}}},
		{"anchor on a group", "groups:\n  - &g {rpc: Math/Pow}\n  - *g\n", wantErr{"f.yaml:2:5", "groups[0]", []string{"anchors (&g) are not supported"}}},
		{"alias bomb", aliasBomb, wantErr{"f.yaml:1:1", "a", []string{`unknown key "a"`}}},
		{"merge key", "groups:\n  - <<: {rpc: Math/Pow}\n", wantErr{"f.yaml:2:5", "groups[0]", []string{"merge keys (<<) are not supported"}}},
		{"custom tag", "name: !env NAME\n", wantErr{"f.yaml:1:7", "name", []string{`tag "!env" is not supported`}}},
		{"binary tag", "name: !!binary aGk=\n", wantErr{"f.yaml:1:7", "name", []string{`tag "!!binary" is not supported`}}},
		{"complex key", "? [a]\n: 1\n", wantErr{"f.yaml:1:3", "", []string{"a key must be a plain word, got a list"}}},
		{"null key", "~: 1\n", wantErr{"f.yaml:1:1", "", []string{"empty key"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Decode("f.yaml", []byte(tt.src))
			if s != nil {
				t.Errorf("got a scenario with the error")
			}
			if tt.name == "alias bomb" {
				// Every level is an unknown key, said once each; no
				// value behind one is decoded, so nothing expands.
				var want []wantErr
				for i, c := range "abcdefghi" {
					want = append(want, wantErr{fmt.Sprintf("f.yaml:%d:1", i+1), string(c), []string{fmt.Sprintf("unknown key %q", string(c))}})
				}
				checkErrs(t, err, want...)
				return
			}
			checkErrs(t, err, tt.want)
		})
	}
}

// TestDecodeGoesOn: decoding goes on past a field it cannot read, so one
// run of validate says every such problem of a file, in file order, up to
// maxDecodeErrors.
func TestDecodeGoesOn(t *testing.T) {
	src := "name: x\nduraton: 1s\ngroups:\n  - {rpc: Math/Pow, clients: many}\n  - {rpc: Math/Sum, clint: 2}\nfaults:\n  - {at: soon, kind: sever}\nseed: 1\nseed: 2\n"
	_, err := Decode("f.yaml", []byte(src))
	checkErrs(t, err,
		wantErr{"f.yaml:2:1", "duraton", []string{`unknown key "duraton" (did you mean "duration"?)`}},
		wantErr{"f.yaml:4:30", "groups[0].clients", []string{"expected an integer"}},
		wantErr{"f.yaml:5:21", "groups[1].clint", []string{`unknown key "clint"`}},
		wantErr{"f.yaml:7:10", "faults[0].at", []string{`"soon"`}},
		wantErr{"f.yaml:9:1", "seed", []string{"duplicate key"}},
	)
	var b strings.Builder
	b.WriteString("name: x\n")
	for i := range 2 * maxDecodeErrors {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	_, err = Decode("f.yaml", []byte(b.String()))
	if es, _ := AsErrors(err); len(es) != maxDecodeErrors {
		t.Errorf("%d errors, want at most %d", len(es), maxDecodeErrors)
	}
}

// aliasBomb is the "billion laughs" shape: each level refers nine times to
// the one before. It must fail fast, not expand.
var aliasBomb = func() string {
	var b strings.Builder
	b.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, c := range "bcdefghi" {
		fmt.Fprintf(&b, "%c: &%c [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", c, c, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = string(c)
	}
	return b.String()
}()

func TestDecodeRefusesAliasesAnywhere(t *testing.T) {
	// The anchor sits on the first group; its alias must never be expanded.
	src := "name: x\nduration: 1s\ngroups:\n  - &g {rpc: Math/Pow, clients: 1}\n" +
		strings.Repeat("  - *g\n", 1000)
	_, err := Parse("f.yaml", []byte(src))
	checkErrs(t, err, wantErr{"f.yaml:4:5", "groups[0]", []string{"anchors (&g) are not supported"}})

	// A node tree built by hand can hold an alias; the decoder refuses it.
	d := &decoder{file: "f.yaml", pos: map[string]Pos{}}
	alias := &yaml.Node{Kind: yaml.AliasNode, Value: "x", Line: 3, Column: 7,
		Alias: &yaml.Node{Kind: yaml.ScalarNode, Tag: strTag, Value: "a"}}
	var name string
	err = d.value(alias, "name", reflect.ValueOf(&name).Elem())
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %T %v", err, err)
	}
	checkErrs(t, Errors{e}, wantErr{"f.yaml:3:7", "name", []string{"aliases (*x) are not supported"}})
}

func TestDecodePositions(t *testing.T) {
	src := `name: pos
duration: 10s
target:
  builtin:
    feed: {rate: 10/s}
groups:
  - name: a
    rpc: Math/Pow
    clients: 3
  - rpc: Math/Sum
    clients:
assert:
  - eof: clean
  - errors == 0
`
	s, err := Decode("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]Pos{
		"":                         {1, 1},
		"name":                     {1, 7},
		"duration":                 {2, 11},
		"target":                   {4, 3},
		"target.builtin":           {5, 5},
		"target.builtin.feed":      {5, 11},
		"target.builtin.feed.rate": {5, 18},
		"groups":                   {7, 3},
		"groups[0]":                {7, 5},
		"groups[0].clients":        {9, 14},
		"groups[1].rpc":            {10, 10},
		"groups[1].clients":        {11, 5}, // "clients:" with no value: the key
		"groups[1].payload":        {10, 5}, // unset: the group
		"link":                     {1, 1},  // unset: the file
		"assert[0]":                {13, 5},
		"assert[1]":                {14, 5},
	} {
		if got := s.PosOf(path); got != want {
			t.Errorf("PosOf(%q) = %v, want %v", path, got, want)
		}
	}
	if s.Assert[0].Pos != (Pos{13, 5}) || s.Assert[1].Pos != (Pos{14, 5}) {
		t.Errorf("assertion positions %v %v", s.Assert[0].Pos, s.Assert[1].Pos)
	}
	if !s.Has("groups[1].clients") || s.Has("groups[1].payload") {
		t.Error("Has: wrong presence")
	}
	if (&Scenario{}).PosOf("name") != (Pos{}) {
		t.Error("PosOf on a scenario built in code is not zero")
	}
}

// arrival.queue: a count (0 included), "unbounded", or left to the default.
func TestDecodeQueue(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want *Queue
	}{
		{"", nil},
		{", queue: 0", new(Queue(0))},
		{", queue: 500", new(Queue(500))},
		{", queue: unbounded", new(QueueUnbounded)},
	} {
		src := "name: q\ngroups:\n  - {name: g, rpc: Math/Pow, clients: 2, arrival: {rate: 10/s" + tc.yaml + "}}\n"
		s, err := Decode("f.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		got := s.Groups[0].Arrival.Queue
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Fatalf("%q: queue %v, want %v", tc.yaml, got, tc.want)
		}
		// It reads back to the same scenario.
		out, err := Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode("g.yaml", out)
		if err != nil {
			t.Fatalf("%s: reading back %s: %v", tc.yaml, out, err)
		}
		if b := back.Groups[0].Arrival.Queue; (b == nil) != (got == nil) || b != nil && *b != *got {
			t.Fatalf("%q: read back as %v from\n%s", tc.yaml, b, out)
		}
		if c := s.Clone(); got != nil && c.Groups[0].Arrival.Queue == got {
			t.Fatal("Clone shares the queue bound")
		}
	}
}

func TestDecodeValues(t *testing.T) {
	src := `name: v
duration: 1m30s
graceful_stop: 0
seed: 0x10
target:
  builtin:
    feed: {rate: 12000/m, payload: 1KB, ring: 1_000, queue: 8}
    server:
      max_concurrent_streams: 100
      keepalive: {time: 10s, timeout: 1s, min_time: 500ms}
link: tcp
groups:
  - name: g
    rpc: Math/Pow
    clients: 2
    base: -3
    repeat: false
    interval: 0
    payload: 1MiB
    stream_timeout: 2s
assert:
  - leaks:
  - no_loss: g
  - g.latency.p99 < 20ms
`
	s, err := Decode("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := s.Target.Builtin
	switch {
	case s.Duration.D().String() != "1m30s", s.GracefulStop != 0, s.Seed != 16:
		t.Errorf("top level: %+v", s)
	case b.Feed.Rate != 200 || b.Feed.Payload != 1000 || b.Feed.Ring != 1000 || b.Feed.Queue != 8:
		t.Errorf("feed: %+v", b.Feed)
	case b.Server.MaxConcurrentStreams != 100 || b.Server.Keepalive.MinTime.String() != "500ms":
		t.Errorf("server: %+v", b.Server)
	case s.Link.Kind != LinkTCP:
		t.Errorf("link: %+v", s.Link)
	case s.Groups[0].Base == nil || *s.Groups[0].Base != -3 || s.Groups[0].RepeatOrDefault() || s.Groups[0].Payload != 1<<20:
		t.Errorf("group: %+v", s.Groups[0])
	}
	want := []string{"leaks", "no_loss: g", "g.latency.p99 < 20ms"}
	for i, a := range s.Assert {
		if a.String() != want[i] {
			t.Errorf("assert[%d] = %q, want %q", i, a, want[i])
		}
	}
	if s.Assert[0].Key != "leaks" || s.Assert[0].Value != "" || s.Assert[2].Expr != want[2] {
		t.Errorf("assertions: %+v", s.Assert)
	}
	if s.File != "f.yaml" || s.Source != src {
		t.Error("File or Source not set")
	}
}

func TestLoad(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
	if _, ok := AsErrors(err); ok {
		t.Error("a read failure is reported as scenario Errors")
	}

	path := filepath.Join(t.TempDir(), "ok.yaml")
	src := "name: ok\nduration: 1s\ngroups: [{name: sum, rpc: Math/Sum, clients: 1}]\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.File != path || s.Source != src || s.Groups[0].Name != "sum" {
		t.Errorf("Load: File %q, Source %q, group %q", s.File, s.Source, s.Groups[0].Name)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: ok\nduraton: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	checkErrs(t, err, wantErr{bad + ":2:1", "duraton", []string{`did you mean "duration"?`}})
}
