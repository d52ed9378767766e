package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every failure is
// scenario Errors with a position, and that every accepted scenario survives
// Marshal and Parse unchanged.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../scenarios/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, src := range []string{
		minimal,
		fullScenario,
		aliasBomb,
		"",
		"---\n",
		"name: x\n---\nname: y\n",
		"name: &a x\nseed: *a\n",
		"groups:\n  - <<: {rpc: Math/Pow}\n",
		"link: {toxiproxy: {address: 127.0.0.1:8474}}\n",
		"assert:\n  - {eof: clean, leaks: none}\n  - a: [b]\n  -\n",
		"target: {address: \"[::1]:50051\", insecure: true, metadata: {x-a: \"1\", b: 2}}\nlink: tcp\n" + minimal,
		"target: {address: 127.0.0.1:1, tls: {ca: ca.pem, server_name: x, cert: c.pem, key: k.pem}, pprof: \"http://127.0.0.1:6060\"}\n" + minimal,
		minimal + "    messages: 64\n    base: -2\n    payload: 4MiB\n",
		"duration: 0\ngraceful_stop: 0\nseed: 0x7fffffffffffffff\n",
		"target:\n  builtin:\n    feed: {rate: 1/h, payload: 1KB, ring: 1_0, queue: 0o7}\n",
		"? [a]\n: b\n",
		"name: !!binary aGk=\n",
	} {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxSource {
			return
		}
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned a scenario and an error: %v", err)
			}
			es, ok := AsErrors(err)
			if !ok {
				t.Fatalf("error is %T, not scenario Errors: %v", err, err)
			}
			for _, e := range es {
				if e.File != "fuzz.yaml" || e.Pos.Line < 1 || e.Msg == "" {
					t.Fatalf("error without file, position or message: %#v", e)
				}
				if strings.Contains(e.Msg, "parser failure") || strings.Contains(e.Msg, "internal error") {
					t.Fatalf("recovered panic: %v", e)
				}
			}
			return
		}
		out, err := Marshal(s)
		if err != nil {
			t.Fatalf("Marshal of a valid scenario: %v", err)
		}
		again, err := Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("Parse(Marshal(s)): %v\ninput:\n%s\noutput:\n%s", err, data, out)
		}
		if !sameScenario(s, again) {
			t.Fatalf("round trip differs\ninput:\n%s\noutput:\n%s\n got %+v\nwant %+v", data, out, *again, *s)
		}
	})
}
