package harness_test

import (
	"github.com/streambench/streambench"

	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// parsePlan decodes src and resolves it into a plan: the whole validation
// of a scenario (its own rules, its RPCs', its faults' and assertions').
// It returns the effective scenario.
func parsePlan(file, src string) (*scenario.Scenario, error) {
	sc, err := scenario.Decode(file, []byte(src))
	if err != nil {
		return nil, err
	}
	p, err := streambench.NewPlan(sc)
	if err != nil {
		return nil, err
	}
	return p.Scenario(), nil
}

// minimal is the smallest valid scenario; validation cases append to it or
// replace its lines.
const minimal = `name: v
duration: 10s
groups:
  - rpc: Math/Pow
    clients: 4
`

func TestValidateErrors(t *testing.T) {
	rpcChoices := "valid choices: Longlived/Subscribe, Math/Pow, Math/Sum, Math/Sqrt or generic"
	tests := []struct {
		name string
		src  string
		want []wantErr
	}{
		{"version", "version: 2\n" + minimal,
			[]wantErr{{"f.yaml:1:10", "version", []string{"unsupported version 2; supported versions: 1"}}}},
		{"name missing", strings.Replace(minimal, "name: v\n", "", 1),
			[]wantErr{{"f.yaml:1:1", "name", []string{"must be set"}}}},
		{"name with a slash", strings.Replace(minimal, "name: v", "name: a/b", 1),
			[]wantErr{{"f.yaml:1:7", "name", []string{`"a/b" is not a safe file name`, "letters, digits, '.', '_' and '-'"}}}},
		{"name dot-dot", strings.Replace(minimal, "name: v", "name: ..", 1),
			[]wantErr{{"f.yaml:1:7", "name", []string{`".." is not a safe file name`}}}},
		{"duration missing", strings.Replace(minimal, "duration: 10s\n", "", 1),
			[]wantErr{{"f.yaml:1:1", "duration", []string{"must be set, e.g. duration: 30s"}}}},
		{"duration zero", strings.Replace(minimal, "10s", "0", 1),
			[]wantErr{{"f.yaml:2:11", "duration", []string{"must be > 0, got 0s"}}}},
		{"duration null", strings.Replace(minimal, "10s", "null", 1),
			[]wantErr{{"f.yaml:2:11", "duration", []string{"must be > 0, got 0s"}}}},
		{"duration negative", strings.Replace(minimal, "10s", "-1s", 1),
			[]wantErr{{"f.yaml:2:11", "duration", []string{"must be > 0, got -1s"}}}},
		{"duration too long", strings.Replace(minimal, "10s", "25h", 1),
			[]wantErr{{"f.yaml:2:11", "duration", []string{"must be at most 24h0m0s, got 25h0m0s"}}}},
		{"graceful_stop negative", minimal + "graceful_stop: -1s\n",
			[]wantErr{{"f.yaml:6:16", "graceful_stop", []string{"must be >= 0, got -1s"}}}},
		{"target both", minimal + "target: {address: 127.0.0.1:1, builtin: {}, insecure: true}\n",
			[]wantErr{{"f.yaml:6:9", "target", []string{"exactly one of target.builtin, target.address and target.command"}}}},
		{"address not host:port", minimal + "target: {address: localhost, insecure: true}\n",
			[]wantErr{{"f.yaml:6:19", "target.address", []string{`"localhost" is not host:port`}}}},
		{"address not loopback", minimal + "target: {address: \"example.com:443\", insecure: true}\n",
			[]wantErr{{"f.yaml:6:19", "target.address", []string{`host "example.com" is not a loopback address`, "127.0.0.0/8, ::1 or localhost"}}}},
		{"address private IP", minimal + "target: {address: \"10.0.0.1:80\", insecure: true}\n",
			[]wantErr{{"f.yaml:6:19", "target.address", []string{"not a loopback address"}}}},
		{"pprof port of an address", minimal + "target: {address: \"127.0.0.1:7070\", insecure: true, pprof: \"http://127.0.0.1:{pprof_port}\"}\n",
			[]wantErr{{"f.yaml:6:60", "target.pprof", []string{"{pprof_port} names a port streambench picks for a command target's process"}}}},
		{"pprof port the process is not told", minimal + "target: {command: [srv, \"127.0.0.1:{port}\"], pprof: \"http://127.0.0.1:{pprof_port}\"}\n",
			[]wantErr{{"f.yaml:6:53", "target.pprof", []string{"put {pprof_port} in an argument or an env entry too"}}}},
		{"pprof on the gRPC port of a command", minimal + "target: {command: [srv, \"127.0.0.1:{port}\"], pprof: \"http://127.0.0.1:{port}\"}\n",
			[]wantErr{{"f.yaml:6:53", "target.pprof", []string{"{port} is the port the process serves gRPC on", "use {pprof_port}", "--pprof 127.0.0.1:{pprof_port}"}}}},
		{"pprof on the gRPC port, told the pprof port", minimal + "target: {command: [srv, \"127.0.0.1:{port}\", \"127.0.0.1:{pprof_port}\"], pprof: \"http://127.0.0.1:{port}/\"}\n",
			[]wantErr{{"f.yaml:6:79", "target.pprof", []string{"{port} is the port the process serves gRPC on", "use {pprof_port}"}}}},
		{"pprof on {port} of an address", minimal + "target: {address: \"127.0.0.1:7070\", insecure: true, pprof: \"http://127.0.0.1:{port}\"}\n",
			[]wantErr{{"f.yaml:6:60", "target.pprof", []string{"{port} names a port streambench picks for a command target's process", "an address target's pprof has a port of its own"}}}},
		{"address bad port", minimal + "target: {address: \"[::1]:0\", insecure: true}\n",
			[]wantErr{{"f.yaml:6:19", "target.address", []string{`port "0" must be a number from 1 to 65535`}}}},
		{"address with link bufconn", minimal + "target: {address: \"127.0.0.2:50051\", insecure: true}\nlink: bufconn\n",
			[]wantErr{{"f.yaml:7:7", "link", []string{"bufconn is in-memory and reaches only a target in streambench's own process, such as the builtin target", "reach the address target (127.0.0.2:50051) over tcp"}}}},
		{"feed rate zero", minimal + "target: {builtin: {feed: {rate: 0}}}\n",
			[]wantErr{{"f.yaml:6:33", "target.builtin.feed.rate", []string{"must be > 0 and at most 1000000/s, got 0/s"}}}},
		{"feed rate unit us", minimal + "target: {builtin: {feed: {rate: 2/us}}}\n",
			nil}, // decode error, checked below
		{"feed rate too high", minimal + "target: {builtin: {feed: {rate: 2000/ms}}}\n",
			[]wantErr{{"f.yaml:6:33", "target.builtin.feed.rate", []string{"at most 1000000/s, got 2000000/s"}}}},
		{"feed sizes", minimal + "target:\n  builtin:\n    feed: {payload: 5MiB, ring: 0, queue: -1}\n",
			[]wantErr{
				{"f.yaml:8:21", "target.builtin.feed.payload", []string{"must be 0 to 4MiB, got 5MiB"}},
				{"f.yaml:8:33", "target.builtin.feed.ring", []string{"must be 1 to 10000000, got 0"}},
				{"f.yaml:8:43", "target.builtin.feed.queue", []string{"must be 1 to 1000000, got -1"}},
			}},
		{"keepalive negative", minimal + "target:\n  builtin:\n    server:\n      keepalive: {time: -1s, min_time: -2s}\n",
			[]wantErr{
				{"f.yaml:9:25", "target.builtin.server.keepalive.time", []string{"must be >= 0, got -1s"}},
				{"f.yaml:9:40", "target.builtin.server.keepalive.min_time", []string{"must be >= 0, got -2s"}},
			}},
		{"server window and buffers", minimal + "target:\n  builtin:\n    server: {window: 1KiB, buffers: {write: 65MiB, read: 1MiB, shared_write: true}}\n",
			[]wantErr{
				{"f.yaml:8:22", "target.builtin.server.window", []string{"from 64KiB to 2GiB-1, got 1KiB"}},
				{"f.yaml:8:45", "target.builtin.server.buffers.write", []string{"from 0 (gRPC's 32KiB) to 64MiB, got 65MiB"}},
			}},
		{"group buffers", "name: v\nduration: 1s\ngroups:\n  - {name: a, rpc: Math/Sum, clients: 1, buffers: {read: -1KiB}}\n",
			nil}, // a negative size is a decode error, checked below
		{"no groups", "name: v\nduration: 1s\ngroups: []\n",
			[]wantErr{{"f.yaml:3:9", "groups", []string{"at least one group is required"}}}},
		{"groups missing", "name: v\nduration: 1s\n",
			[]wantErr{{"f.yaml:1:1", "groups", []string{"at least one group is required"}}}},
		{"group names", "name: v\nduration: 1s\ngroups:\n  - {name: a, rpc: Math/Sum, clients: 1}\n  - {name: a, rpc: Math/Sum, clients: 1}\n  - {name: a.b, rpc: Math/Sum, clients: 1}\n",
			[]wantErr{
				{"f.yaml:5:12", "groups[1].name", []string{`duplicate group name "a" (also groups[0])`}},
				{"f.yaml:6:12", "groups[2].name", []string{`"a.b" is not a valid group name`, "no dots"}},
			}},
		{"group name not unique by default", minimal + "  - rpc: Math/Pow\n    clients: 1\n",
			[]wantErr{
				{"f.yaml:4:5", "groups[0].name", []string{"must be set", `defaults to "pow" only when one unnamed group drives Math/Pow`}},
				{"f.yaml:6:5", "groups[1].name", []string{"must be set"}},
			}},
		{"rpc unknown", strings.Replace(minimal, "Math/Pow", "Math/pow", 1),
			[]wantErr{{"f.yaml:4:10", "groups[0].rpc", []string{`unknown rpc "Math/pow"`, `did you mean "Math/Pow"?`, rpcChoices}}}},
		{"rpc short name", strings.Replace(minimal, "Math/Pow", "subscribe", 1),
			[]wantErr{{"f.yaml:4:10", "groups[0].rpc", []string{`did you mean "Longlived/Subscribe"?`, rpcChoices}}}},
		{"rpc missing", "name: v\nduration: 1s\ngroups:\n  - {name: g, clients: 1}\n",
			[]wantErr{{"f.yaml:4:5", "groups[0].rpc", []string{"must be set; " + rpcChoices}}}},
		{"clients missing", "name: v\nduration: 1s\ngroups:\n  - {rpc: Math/Sum}\n",
			[]wantErr{{"f.yaml:4:5", "groups[0].clients", []string{"must be set (1 to 1000000)"}}}},
		{"clients zero", strings.Replace(minimal, "clients: 4", "clients: 0", 1),
			[]wantErr{{"f.yaml:5:14", "groups[0].clients", []string{"must be 1 to 1000000, got 0"}}}},
		{"clients too many", strings.Replace(minimal, "clients: 4", "clients: 1000001", 1),
			[]wantErr{{"f.yaml:5:14", "groups[0].clients", []string{"must be 1 to 1000000, got 1000001"}}}},
		{"connections zero", minimal + "    connections: 0\n",
			[]wantErr{{"f.yaml:6:18", "groups[0].connections", []string{"must be >= 1, got 0"}}}},
		{"connections above clients", minimal + "    connections: 5\n",
			[]wantErr{{"f.yaml:6:18", "groups[0].connections", []string{"must be at most clients (4), got 5"}}}},
		{"messages zero", minimal + "    messages: 0\n",
			[]wantErr{{"f.yaml:6:15", "groups[0].messages", []string{"must be 1 to 10000000, got 0"}}}},
		{"messages too many", strings.Replace(minimal, "Math/Pow", "Math/Sqrt", 1) + "    messages: 10000001\n",
			[]wantErr{{"f.yaml:6:15", "groups[0].messages", []string{"must be 1 to 10000000, got 10000001"}}}},
		{"pow overflow with default base", minimal + "    messages: 64\n",
			[]wantErr{{"f.yaml:6:15", "groups[0].messages", []string{"base^(messages-1) = 2^63 overflows int64", "with base 2, messages may be at most 63"}}}},
		{"pow overflow with base", minimal + "    messages: 20\n    base: -10\n",
			[]wantErr{{"f.yaml:7:11", "groups[0].base", []string{"-10^19 overflows int64", "messages may be at most 19"}}}},
		{"durations negative", minimal + "    interval: -1ms\n    pause: -1s\n    stream_timeout: -1m\n",
			[]wantErr{
				{"f.yaml:6:15", "groups[0].interval", []string{"must be >= 0, got -1ms"}},
				{"f.yaml:7:12", "groups[0].pause", []string{"must be >= 0, got -1s"}},
				{"f.yaml:8:21", "groups[0].stream_timeout", []string{"must be >= 0, got -1m0s"}},
			}},
		{"payload negative", minimal + "    payload: -1\n",
			[]wantErr{{"f.yaml:6:14", "groups[0].payload", []string{"must be 0 to 4MiB, got -1B"}}}},
		{"payload too large", minimal + "    payload: 4194305\n",
			[]wantErr{{"f.yaml:6:14", "groups[0].payload", []string{"must be 0 to 4MiB, got 4194305B"}}}},
		{"all at once, in file order", `version: 3
name: "bad name"
duration: -1s
groups:
  - {name: x, rpc: Nope, clients: 0}
  - {name: x, rpc: Math/Sum, clients: 2, connections: 3, payload: 8MiB}
`, []wantErr{
			{"f.yaml:1:10", "version", []string{"unsupported version 3"}},
			{"f.yaml:2:7", "name", []string{"not a safe file name"}},
			{"f.yaml:3:11", "duration", []string{"must be > 0"}},
			{"f.yaml:5:20", "groups[0].rpc", []string{`unknown rpc "Nope"`}},
			{"f.yaml:5:35", "groups[0].clients", []string{"got 0"}},
			{"f.yaml:6:12", "groups[1].name", []string{"duplicate group name"}},
			{"f.yaml:6:55", "groups[1].connections", []string{"at most clients (2)"}},
			{"f.yaml:6:67", "groups[1].payload", []string{"got 8MiB"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parsePlan("f.yaml", tt.src)
			if tt.want == nil {
				if _, ok := scenario.AsErrors(err); !ok {
					t.Fatalf("want a decode error, got %v", err)
				}
				return
			}
			if s != nil {
				t.Error("got a scenario with the error")
			}
			checkErrs(t, err, tt.want...)
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for name, src := range map[string]string{
		"minimal":                 minimal,
		"address loopback v4":     minimal + "target: {address: \"127.1.2.3:50051\", insecure: true}\n",
		"address loopback v6":     minimal + "target: {address: \"[::1]:50051\", insecure: true}\n",
		"address localhost + tcp": minimal + "target: {address: \"localhost:50051\", insecure: true}\nlink: tcp\n",
		"explicit zeros":          minimal + "    payload: 0\n    interval: 0s\ngraceful_stop: 0\n",
		"pow at the limit":        minimal + "    messages: 63\n",
		"pow base 1":              minimal + "    messages: 10000000\n    base: 1\n",
		"pow base -2":             minimal + "    messages: 63\n    base: -2\n",
		"feed at the limits":      minimal + "target: {builtin: {feed: {rate: 1000/ms, payload: 4MiB, ring: 1, queue: 1}}}\n",
	} {
		if _, err := parsePlan("f.yaml", src); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

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
	es, ok := scenario.AsErrors(err)
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
	s, err := parsePlan("f.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	want := scenario.Scenario{
		Version:      1,
		Name:         "d",
		Duration:     scenario.Duration(10 * time.Second),
		GracefulStop: scenario.Duration(5 * time.Second),
		Target:       scenario.Target{Builtin: &scenario.Builtin{Feed: scenario.Feed{Rate: 100, Payload: 64, Ring: 4096, Queue: 1024}}},
		Link:         scenario.Link{Kind: scenario.LinkBufconn},
		Groups: []scenario.Group{
			{Name: "pow", RPC: "Math/Pow", Clients: 4, Connections: 1, Messages: 10, Base: ptr(int64(2)), Repeat: ptr(true), Reconnect: ptr(scenario.DefaultReconnect)},
			{Name: "subscribe", RPC: "Longlived/Subscribe", Clients: 2, Connections: 1, Repeat: ptr(true), Reconnect: ptr(scenario.DefaultReconnect)},
			{Name: "sum", RPC: "Math/Sum", Clients: 1, Connections: 1, Messages: 10, Repeat: ptr(true), Reconnect: ptr(scenario.DefaultReconnect)},
			{Name: "sum2", RPC: "Math/Sum", Clients: 1, Connections: 1, Messages: 10, Repeat: ptr(false), Reconnect: ptr(scenario.DefaultReconnect)},
		},
		File:   "f.yaml",
		Source: src,
	}
	got, _ := scenario.Marshal(s)
	exp, _ := scenario.Marshal(&want)
	if string(got) != string(exp) {
		t.Errorf("defaults:\n got %s\nwant %s", got, exp)
	}
}

func TestDefaultGroupNames(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    []scenario.Group
		names []string
	}{
		{"one per rpc", []scenario.Group{{RPC: "Math/Pow"}, {RPC: "Math/Sqrt"}}, []string{"pow", "sqrt"}},
		{"two unnamed of one rpc", []scenario.Group{{RPC: "Math/Pow"}, {RPC: "Math/Pow"}}, []string{"", ""}},
		{"name taken", []scenario.Group{{RPC: "Math/Pow"}, {Name: "pow", RPC: "Math/Sum"}}, []string{"", "pow"}},
		{"named sibling", []scenario.Group{{RPC: "Math/Pow"}, {Name: "p2", RPC: "Math/Pow"}}, []string{"pow", "p2"}},
		{"unknown rpc", []scenario.Group{{RPC: "Math/Nope"}}, []string{""}},
	} {
		s := scenario.Scenario{Groups: tt.in}
		streambench.RPCs().Defaults(&s)
		for i, g := range s.Groups {
			if g.Name != tt.names[i] {
				t.Errorf("%s: groups[%d].name = %q, want %q", tt.name, i, g.Name, tt.names[i])
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
