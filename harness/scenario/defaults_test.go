package scenario

import (
	"reflect"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestDefaults(t *testing.T) {
	src := `name: d
duration: 10s
groups:
  - rpc: Math/Pow
    clients: 4
  - rpc: Longlived/Subscribe
    clients: 2
  - rpc: Math/Sum
    clients: 1
  - rpc: Math/Sum
    name: sum2
    clients: 1
    repeat: false
`
	s, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Scenario{
		Version:      1,
		Name:         "d",
		Duration:     Duration(10 * time.Second),
		GracefulStop: Duration(5 * time.Second),
		Target:       Target{Builtin: &Builtin{Feed: Feed{Rate: 100, Payload: 64, Ring: 4096, Queue: 1024}}},
		Link:         Link{Kind: LinkBufconn},
		Groups: []Group{
			{Name: "pow", RPC: RPCPow, Clients: 4, Connections: 1, Messages: 10, Base: ptr(int64(2)), Repeat: ptr(true), Reconnect: ptr(DefaultReconnect)},
			{Name: "subscribe", RPC: RPCSubscribe, Clients: 2, Connections: 1, Repeat: ptr(true), Reconnect: ptr(DefaultReconnect)},
			{Name: "sum", RPC: RPCSum, Clients: 1, Connections: 1, Messages: 10, Repeat: ptr(true), Reconnect: ptr(DefaultReconnect)},
			{Name: "sum2", RPC: RPCSum, Clients: 1, Connections: 1, Messages: 10, Repeat: ptr(false), Reconnect: ptr(DefaultReconnect)},
		},
		File:   "f.yaml",
		Source: src,
	}
	s.pos = nil
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", *s, want)
	}
}

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
		s.Groups[0].BaseOrDefault() != 0 {
		t.Errorf("explicit zeros replaced: %+v %+v %+v", s, s.Target.Builtin.Feed, s.Groups[0])
	}
}

func TestDefaultsAddressTarget(t *testing.T) {
	s, err := Parse("f.yaml", []byte(minimal+"target: {address: \"127.0.0.1:9\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.Builtin != nil || s.Link.Kind != "" {
		t.Errorf("address target got builtin %v, link %q", s.Target.Builtin, s.Link.Kind)
	}
}

func TestDefaultGroupNames(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    []Group
		names []string
	}{
		{"one per rpc", []Group{{RPC: RPCPow}, {RPC: RPCSqrt}}, []string{"pow", "sqrt"}},
		{"two unnamed of one rpc", []Group{{RPC: RPCPow}, {RPC: RPCPow}}, []string{"", ""}},
		{"name taken", []Group{{RPC: RPCPow}, {Name: "pow", RPC: RPCSum}}, []string{"", "pow"}},
		{"named sibling", []Group{{RPC: RPCPow}, {Name: "p2", RPC: RPCPow}}, []string{"pow", "p2"}},
		{"unknown rpc", []Group{{RPC: "Math/Nope"}}, []string{""}},
	} {
		s := Scenario{Groups: tt.in}
		s.Defaults()
		for i, g := range s.Groups {
			if g.Name != tt.names[i] {
				t.Errorf("%s: groups[%d].name = %q, want %q", tt.name, i, g.Name, tt.names[i])
			}
		}
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
	if !g.RepeatOrDefault() || g.BaseOrDefault() != 2 {
		t.Error("zero group helpers")
	}
	g.Repeat, g.Base = ptr(false), ptr(int64(7))
	if g.RepeatOrDefault() || g.BaseOrDefault() != 7 {
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
