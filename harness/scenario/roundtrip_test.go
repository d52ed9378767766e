package scenario

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// fullScenario sets every field of format v1.
const fullScenario = `version: 1
name: full-example
description: Every field of format v1, set.
seed: 42
duration: 1m30s
graceful_stop: 2s
target:
  builtin:
    feed:
      rate: 12000/m
      payload: 256B
      ring: 20000
      queue: 512
    server:
      max_concurrent_streams: 1000
      keepalive:
        time: 10s
        timeout: 1s
        min_time: 500ms
link: tcp
groups:
  - name: subscribers
    rpc: Longlived/Subscribe
    clients: 2000
    connections: 20
    pause: 100ms
    stream_timeout: 30s
  - name: pow
    rpc: Math/Pow
    clients: 300
    connections: 3
    messages: 20
    interval: 20ms
    payload: 1KiB
    base: 3
    repeat: false
  - name: sqrt
    rpc: Math/Sqrt
    clients: 10
    messages: 5
assert:
  - eof: clean
  - no_loss: subscribers
  - leaks:
  - pow.latency.p99 < 20ms
  - errors == 0
`

func TestFullScenario(t *testing.T) {
	s, err := Parse("full.yaml", []byte(fullScenario))
	if err != nil {
		t.Fatal(err)
	}
	want := Scenario{
		Version:      1,
		Name:         "full-example",
		Description:  "Every field of format v1, set.",
		Seed:         42,
		Duration:     Duration(90 * time.Second),
		GracefulStop: Duration(2 * time.Second),
		Target: Target{Builtin: &Builtin{
			Feed: Feed{Rate: 200, Payload: 256, Ring: 20000, Queue: 512},
			Server: Server{MaxConcurrentStreams: 1000, Keepalive: Keepalive{
				Time: Duration(10 * time.Second), Timeout: Duration(time.Second), MinTime: Duration(500 * time.Millisecond),
			}},
		}},
		Link: Link{Kind: LinkTCP},
		Groups: []Group{
			{Name: "subscribers", RPC: "Longlived/Subscribe", Clients: 2000, Connections: 20, Repeat: ptr(true), Reconnect: ptr(DefaultReconnect),
				Pause: Duration(100 * time.Millisecond), StreamTimeout: Duration(30 * time.Second)},
			{Name: "pow", RPC: "Math/Pow", Clients: 300, Connections: 3, Messages: 20, Interval: Duration(20 * time.Millisecond),
				Payload: 1024, Base: ptr(int64(3)), Repeat: ptr(false), Reconnect: ptr(DefaultReconnect)},
			{Name: "sqrt", RPC: "Math/Sqrt", Clients: 10, Connections: 1, Messages: 5, Repeat: ptr(true), Reconnect: ptr(DefaultReconnect)},
		},
		Assert: []Assertion{
			{Key: "eof", Value: "clean", Pos: Pos{42, 5}},
			{Key: "no_loss", Value: "subscribers", Pos: Pos{43, 5}},
			{Key: "leaks", Pos: Pos{44, 5}},
			{Expr: "pow.latency.p99 < 20ms", Pos: Pos{45, 5}},
			{Expr: "errors == 0", Pos: Pos{46, 5}},
		},
		File:   "full.yaml",
		Source: fullScenario,
	}
	got := *s
	got.pos = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
	}

	// Round trip: Marshal, then Parse again gives the same scenario.
	out, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("again.yaml", out)
	if err != nil {
		t.Fatalf("Parse(Marshal(s)): %v\n%s", err, out)
	}
	if !sameScenario(s, again) {
		t.Errorf("round trip differs:\n%s\n got %+v\nwant %+v", out, *again, *s)
	}
	// The canonical form is a fixed point.
	out2, err := Marshal(again)
	if err != nil || string(out2) != string(out) {
		t.Errorf("Marshal is not stable:\n%s\n---\n%s", out, out2)
	}
	for _, line := range []string{"rate: 200/s", "payload: 1KiB", "- eof: clean", "  - leaks:\n", "    feed:\n      rate: 200/s\n", "duration: 1m30s", "repeat: false"} {
		if !strings.Contains(string(out), line) {
			t.Errorf("Marshal output lacks %q:\n%s", line, out)
		}
	}
}

func TestMarshalKeepsExplicitZeros(t *testing.T) {
	src := minimal + "    payload: 0\ngraceful_stop: 0\n"
	s, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("again.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if again.GracefulStop != 0 || !sameScenario(s, again) {
		t.Errorf("explicit zero lost:\n%s", out)
	}
}

func TestMarshalInCode(t *testing.T) {
	s := &Scenario{Name: "code", Duration: Duration(time.Second), Target: Target{Address: "127.0.0.1:50051", Insecure: true, Metadata: map[string]string{"x-tenant": "a b"}},
		Groups: []Group{{RPC: "Math/Sum", Clients: 2}}, Assert: []Assertion{{Expr: "errors == 0"}}}
	s.Defaults()
	out, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("again.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !sameScenario(s, again) {
		t.Errorf("round trip differs:\n%s", out)
	}
}

// sameScenario compares two scenarios, ignoring where they came from.
func sameScenario(a, b *Scenario) bool {
	x, y := *a, *b
	for _, s := range []*Scenario{&x, &y} {
		s.File, s.Source, s.pos = "", "", nil
		s.Assert = append([]Assertion(nil), s.Assert...)
		for i := range s.Assert {
			s.Assert[i].Pos = Pos{}
		}
		// Fault settings keep their text; positions and nodes differ.
		s.Faults = append([]Fault(nil), s.Faults...)
		for i := range s.Faults {
			s.Faults[i].Pos = Pos{}
			if s.Faults[i].Params != nil {
				params := map[string]Param{}
				for k, p := range s.Faults[i].Params {
					params[k] = Param{Value: p.Value}
				}
				s.Faults[i].Params = params
			}
		}
	}
	return reflect.DeepEqual(x, y)
}

func TestChaosRoundTrip(t *testing.T) {
	src := `name: chaos
duration: 30s
link: {toxiproxy: {address: 127.0.0.1:8474}}
groups:
  - name: subs
    rpc: Longlived/Subscribe
    clients: 10
    start: 5s
    reconnect: {base: 10ms, multiplier: 2, jitter: 0.1, max: 1s}
    read: {delay: 20ms}
    idle: 2s
    window: 64KiB
faults:
  - {at: 10s, kind: sever, scope: {group: subs, fraction: 0.3}}
  - {every: 5s, for: 2s, until: 20s, kind: latency, latency: 100ms, jitter: 20ms, direction: downstream}
`
	s, err := Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f := s.Faults[1]
	if f.Kind != "latency" || f.Every != Duration(5*time.Second) || f.Params["latency"].Value != "100ms" || f.Params["direction"].Pos != (Pos{Line: 15, Column: 94}) {
		t.Fatalf("fault decoded as %+v", f)
	}
	var params struct {
		Latency   Duration `yaml:"latency"`
		Jitter    Duration `yaml:"jitter"`
		Direction string   `yaml:"direction"`
	}
	if err := DecodeParams(s.File, "faults[1]", f.Params, &params); err != nil {
		t.Fatal(err)
	}
	if params.Latency != Duration(100*time.Millisecond) || params.Direction != "downstream" {
		t.Fatalf("params %+v", params)
	}
	var strict struct {
		Latency Duration `yaml:"latency"`
	}
	err = DecodeParams(s.File, "faults[1]", f.Params, &strict)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:15:") || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("unknown setting error = %v", err)
	}
	out, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("back.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if back.Link.Toxiproxy == nil || back.Link.Toxiproxy.Address != "127.0.0.1:8474" || len(back.Faults) != 2 ||
		back.Faults[1].Params["jitter"].Value != "20ms" || back.Groups[0].Read.Delay != Duration(20*time.Millisecond) {
		t.Fatalf("round trip lost something:\n%s", out)
	}
}
