package generic

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/streambench/streambench/harness/scenario"
)

// adsProto is the absolute path of testdata/ads.proto.
func adsProto(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("testdata/ads.proto")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// adsGroup is a group calling adstest.v1.Ads/method with data.
func adsGroup(t testing.TB, method, data string, messages int) scenario.Group {
	return scenario.Group{Name: "g", Messages: messages, Call: &scenario.Call{
		Method: "adstest.v1.Ads/" + method, Proto: []string{adsProto(t)},
		Data: &scenario.Data{JSON: data},
	}}
}

func errAtField(field, msg string) error { return errors.New(field + ": " + msg) }

// TestTemplatesTypedBeforeTheLoad: every template is checked against the
// method's request and response types at setup, and a problem names the
// key it stands at (call.data.<path>, which the scenario places at its
// line and column) and what would fit. Each bad case has a good twin that
// passes, so a check that refused everything would fail too.
func TestTemplatesTypedBeforeTheLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name, method, data string
		messages           int
		equals             string
		want               string // "" : accepted
	}{
		{"xds ack", "Stream", `{"type_url": "T", "version_info": "{{accepted.version_info}}", "response_nonce": "{{last.nonce}}"}`, 2, "", ""},
		{"unknown field", "Stream", `{"kee": 1}`, 1, "", "call.data.kee: adstest.v1.DiscoveryRequest has no field kee; its fields: version_info, response_nonce"},
		{"unknown nested field", "Stream", `{"node": {"idd": "x"}}`, 1, "", "call.data.node.idd: adstest.v1.Node has no field idd"},
		{"json names", "Stream", `{"versionInfo": "1", "startRevision": "7", "node": {"id": "{{client}}"}}`, 1, "", ""},
		{"string response field into an int", "Stream", `{"start_revision": "{{last.version_info}}"}`, 1, "", "call.data.start_revision: {{last.version_info}}: the response's version_info is a string; the request's start_revision is an int64"},
		{"int response field into an int", "Stream", `{"start_revision": "{{last.revision + 1}}"}`, 1, "", ""},
		{"int response field into a string", "Stream", `{"version_info": "{{last.revision}}"}`, 1, "", ""},
		{"no such response field", "Stream", `{"version_info": "{{last.versoin}}"}`, 1, "", "call.data.version_info: {{last.versoin}}: adstest.v1.DiscoveryResponse has no field versoin"},
		{"no such accepted field", "Stream", `{"version_info": "{{accepted.versoin}}"}`, 1, "", "has no field versoin"},
		{"a list is not a value", "Stream", `{"version_info": "{{last.resources}}"}`, 1, "", "resources is a list or map"},
		{"addend on a string", "Stream", `{"version_info": "{{last.version_info + 1}}"}`, 1, "", "only an integer takes + or -"},
		{"max through a list", "Stream", `{"start_revision": "{{max.resources[].revision + 1}}"}`, 1, "", ""},
		{"max of string integers into a string", "Stream", `{"version_info": "{{max.version_info}}"}`, 1, "", ""},
		{"max through a list without []", "Stream", `{"start_revision": "{{max.resources.revision}}"}`, 1, "", "resources is a list; write resources[]"},
		{"max into a bool", "Stream", `{"flag": "{{max.revision}}"}`, 1, "", "{{max.revision}} is an integer; flag is a bool"},
		{"now into int32", "Stream", `{"small": "{{now}}"}`, 1, "", "too big for small"},
		{"now into int64", "Stream", `{"start_revision": "{{now}}"}`, 1, "", ""},
		{"bytes N into a string", "Stream", `{"version_info": "{{bytes 3}}"}`, 1, "", "{{bytes 3}} is bytes; version_info is a string"},
		{"a number into a string", "Stream", `{"version_info": 7}`, 1, "", `got the number 7 (quote it: "7")`},
		{"a string into a bool", "Stream", `{"flag": "yes"}`, 1, "", "flag is a bool"},
		{"not base64", "Stream", `{"key": "key-1!"}`, 1, "", `key is bytes: "key-1!" is not base64; write text as text:key-1!`},
		{"text bytes", "Stream", `{"key": "text:key-{{client}}", "keys": ["text:a", "text:b-{{index}}"]}`, 1, "", ""},
		{"text with variables into bytes", "Stream", `{"key": "key-{{client}}"}`, 1, "", "text with variables in it is written text:"},
		{"unknown enum value", "Stream", `{"mode": "MODE_SLOW"}`, 1, "", "has no value MODE_SLOW; its values: MODE_UNSPECIFIED, MODE_FAST"},
		{"enum by name", "Stream", `{"mode": "MODE_FAST", "labels": {"a": "b"}, "meta": {"any": ["thing", 1]}, "ratio": "{{index}}"}`, 1, "", ""},
		{"a scalar for a list", "Stream", `{"resource_names": "a"}`, 1, "", "resource_names is a repeated field: give a list"},
		{"a string for a message", "Stream", `{"node": "{{last.version_info}}"}`, 1, "", "the response's version_info is a string; the request's node is a message adstest.v1.Node"},
		{"a message into its own type", "Stream", `{"node": "{{last.node}}"}`, 1, "", ""},
		{"not a mapping", "Stream", `"x"`, 1, "", "call.data: a request is a mapping of adstest.v1.DiscoveryRequest's fields, got a string"},
		{"a list's entry", "Stream", `[{"type_url": "T"}, {"response_nonce": "{{last.nonce}}", "kee": 1}]`, 2, "", "call.data[1].kee: adstest.v1.DiscoveryRequest has no field kee"},
		{"a list shorter than messages", "Stream", `[{"type_url": "T"}, {"response_nonce": "{{last.nonce}}"}]`, 8, "", ""},
		{"a list longer than messages", "Stream", `[{"type_url": "T"}, {}, {}]`, 2, "", "call.data: lists 3 requests, but messages is 2"},
		{"a list for a unary call", "Fetch", `[{}, {}]`, 2, "", "call.data: lists 2 requests, but adstest.v1.Ads/Fetch takes one request per stream"},
		{"equals reads the response", "Stream", `{}`, 1, `"{{accepted.version_info}}"`, ""},
		{"equals with a bad path", "Stream", `{}`, 1, `"{{accepted.nope}}"`, "call.expect.fields[0].equals: {{accepted.nope}}: adstest.v1.DiscoveryResponse has no field nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := adsGroup(t, tc.method, tc.data, tc.messages)
			if tc.equals != "" {
				g.Call.Expect.Fields = []scenario.FieldCheck{{Path: "version_info", Equals: &scenario.Data{JSON: tc.equals}}}
			}
			_, err := setup(ctx, g, "", errAtField, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestListAgainstMessages: without messages a list's length is the
// stream's; with it, a shorter list repeats its last entry and a longer
// one is refused at validation (no target needed).
func TestListAgainstMessages(t *testing.T) {
	for _, tc := range []struct {
		name     string
		data     string
		messages int
		set      bool
		want     int    // messages after defaults
		problem  string // check's problem
	}{
		{"list, messages not set", `[{}, {}, {}]`, 0, false, 3, ""},
		{"list shorter than messages", `[{}, {}]`, 8200, true, 8200, ""},
		{"list as long as messages", `[{}, {}]`, 2, true, 2, ""},
		{"list longer than messages", `[{}, {}, {}]`, 2, true, 2, "lists 3 requests, but messages is 2"},
		{"one mapping", `{}`, 0, false, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := adsGroup(t, "Stream", tc.data, tc.messages)
			has := func(f string) bool { return f == "messages" && tc.set }
			defaults(&g, has)
			if g.Messages != tc.want {
				t.Errorf("messages %d, want %d", g.Messages, tc.want)
			}
			_, problem := check(g, has)
			if tc.problem == "" && problem != "" || tc.problem != "" && !strings.Contains(problem, tc.problem) {
				t.Errorf("check: %q, want %q", problem, tc.problem)
			}
		})
	}
}

// TestResumeAllocs: per message, raising the highest values and building
// an ACK from the last and accepted responses allocate nothing: the work
// is bound once, at setup.
func TestResumeAllocs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := adsGroup(t, "Stream", `{"version_info": "{{accepted.version_info}}", "response_nonce": "{{last.nonce}}", "start_revision": "{{max.resources[].revision + 1}}", "type_url": "T"}`, 2)
	c, err := setup(ctx, g, "", errAtField, nil)
	if err != nil {
		t.Fatal(err)
	}
	call := c.(*Call)
	if call.builders[0].base == nil {
		t.Fatal("the ACK template goes through JSON")
	}
	res := msg(t, call.method.Output(), `{"version_info": "7", "nonce": "n7", "resources": [{"revision": "3"}, {"revision": "9"}, {"revision": "5"}]}`)
	v := &Vars{Last: res, Accepted: res, Max: make([]Highest, len(call.maxes))}
	b := call.builders[0]
	b.one = nil
	for i, spec := range call.maxes {
		spec.highest(res, &v.Max[i])
	}
	req, err := b.build(v, protojson.UnmarshalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := protojson.Marshal(req); !strings.Contains(strings.ReplaceAll(string(js), " ", ""), `"versionInfo":"7","responseNonce":"n7","typeUrl":"T","startRevision":"10"`) {
		t.Errorf("built %s", js)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		for i, spec := range call.maxes {
			spec.highest(res, &v.Max[i])
		}
	}); allocs != 0 {
		t.Errorf("highest: %v allocations per response", allocs)
	}
	// dynamicpb boxes a string value when it sets it (its type check):
	// one allocation per string field, the two of the ACK. The JSON path
	// (render, then protojson) that {{last.F}} took before is the yardstick.
	built := testing.AllocsPerRun(100, func() {
		if _, err := b.build(v, protojson.UnmarshalOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	viaJSON := testing.AllocsPerRun(100, func() {
		raw, err := b.t.Render(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := protojson.Unmarshal(raw, dynamicpb.NewMessage(call.method.Input())); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations per request: %v built, %v through JSON", built, viaJSON)
	if built > 2 {
		t.Errorf("%v allocations per request, want at most 2 (the two strings)", built)
	}
}
