package scenario

import (
	"testing"
)

func ptr[T any](v T) *T { return &v }

// minimal is a small scenario that decodes and validates.
const minimal = `name: v
duration: 10s
groups:
  - rpc: Math/Pow
    clients: 4
`

func TestDefaultsKeepExplicitValues(t *testing.T) {
	src := `name: d
duration: 10s
graceful_stop: 0
target:
  builtin:
    feed: {payload: 0}
groups:
  - {rpc: Math/Pow, clients: 1, base: 0}
`
	s, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.GracefulStop != 0 || s.Target.Builtin.Feed.Payload != 0 || s.Target.Builtin.Feed.Rate != DefaultFeedRate ||
		s.Groups[0].Base == nil || *s.Groups[0].Base != 0 {
		t.Errorf("explicit zeros replaced: %+v %+v %+v", s, s.Target.Builtin.Feed, s.Groups[0])
	}
}

func TestDefaultsAddressTarget(t *testing.T) {
	s, err := Parse("f.yaml", []byte(minimal+"target: {address: \"127.0.0.1:9\", insecure: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.Builtin != nil || s.Link.Kind != "" {
		t.Errorf("address target got builtin %v, link %q", s.Target.Builtin, s.Link.Kind)
	}
}

func TestDefaultsIdempotent(t *testing.T) {
	s, err := Parse("f.yaml", []byte(fullScenario))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := Marshal(s)
	s.Defaults()
	after, _ := Marshal(s)
	if string(before) != string(after) {
		t.Errorf("Defaults changed a defaulted scenario:\n%s\n---\n%s", before, after)
	}
}

func TestGroupHelpers(t *testing.T) {
	var g Group
	if !g.RepeatOrDefault() {
		t.Error("zero group helpers")
	}
	g.Repeat = ptr(false)
	if g.RepeatOrDefault() {
		t.Error("set group helpers")
	}
	s := Scenario{Groups: []Group{{Name: "a"}, {Name: "b", Clients: 3}}}
	if got, ok := s.Group("b"); !ok || got.Clients != 3 {
		t.Errorf("Group(b) = %+v, %v", got, ok)
	}
	if _, ok := s.Group("c"); ok {
		t.Error("Group(c) found")
	}
}
