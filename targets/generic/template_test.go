package generic

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func vars() *Vars {
	return &Vars{Index: 3, Client: 7, Stream: 2, Now: func() time.Time { return time.Unix(0, 42) }, Rand: rand.New(rand.NewPCG(1, 2))}
}

func TestTemplateRenders(t *testing.T) {
	last := wrapperspb.Int64(41).ProtoReflect()
	for _, tc := range []struct {
		tmpl, want string
		last       protoreflect.Message
	}{
		{`{"a": 1, "b": "x"}`, `{"a":1,"b":"x"}`, nil},
		{`{"i": "{{index}}", "c": "{{ client }}", "s": "{{stream}}", "n": "{{now}}"}`, `{"c":7,"i":3,"n":42,"s":2}`, nil},
		{`{"name": "client-{{client}}/{{index + 1}}"}`, `{"name":"client-7/4"}`, nil},
		{`{"from": "{{last.value + 1}}"}`, `{"from":42}`, last},
		// Nothing to resume from: the field is left out (its zero value),
		// the addend not applied.
		{`{"from": "{{last.value + 1}}"}`, `{}`, nil},
		{`{"from": "{{last.value + 1}}", "a": 1}`, `{"a":1}`, nil},
		{`{"name": "v{{last.value + 1}}"}`, `{"name":"v1"}`, nil},
		{`["{{last.value + 1}}"]`, `[1]`, nil},
		{`{"from": "{{accepted.value}}"}`, `{}`, last},
		{`{"from": "{{max.value + 1}}"}`, `{}`, last},
		{`[{"v": "{{index - 3}}"}, {"w": ["{{client}}", 5]}]`, `[{"v":0},{"w":[7,5]}]`, nil},
		{`{"body": "{{bytes 4}}"}`, `{"body":"AAAAAA=="}`, nil},
	} {
		tp, err := ParseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		v := vars()
		v.Last = tc.last
		out, err := tp.Render(v)
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		var got, want any
		if json.Unmarshal(out, &got) != nil || json.Unmarshal([]byte(tc.want), &want) != nil {
			t.Fatalf("%s rendered %s", tc.tmpl, out)
		}
		if g, _ := json.Marshal(got); string(g) != string(mustJSON(t, want)) {
			t.Errorf("%s rendered %s, want %s", tc.tmpl, out, tc.want)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTemplateRefuses(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{`{"a": "{{indx}}"}`, `unknown variable "indx"`},
		{`{"a": "{{last}}"}`, "last needs a field"},
		{`{"a": "{{index.x}}"}`, "index has no fields"},
		{`{"a": "{{index * 2}}"}`, "not a variable"},
		{`{"a": "{{index"}`, "unclosed or nested"},
		{`{"a": "x}}"}`, "unclosed or nested"},
		{`{"a": `, "template:"},
		{`{"a": "{{bytes 99999999}}"}`, "at most"},
	} {
		if _, err := ParseTemplate(tc.tmpl); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.tmpl, err, tc.want)
		}
	}
}

func TestTemplateFieldsOfTheResponse(t *testing.T) {
	tp, err := ParseTemplate(`{"x": "{{last.nope}}"}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.CheckFields((&structpb.Value{}).ProtoReflect().Descriptor()); err == nil || !strings.Contains(err.Error(), "has no field nope") {
		t.Errorf("CheckFields: %v", err)
	}
	if !tp.Uses("last.nope") || tp.Uses("index") {
		t.Error("Uses")
	}
}

func TestSplitMethod(t *testing.T) {
	for in, ok := range map[string]bool{
		"grpc.testing.TestService/StreamingOutputCall": true,
		"grpc.testing.TestService.StreamingOutputCall": true,
		"pkg.Svc/":    false,
		"Svc":         false,
		"a b.Svc/M":   false,
		"pkg.Svc/M/N": false,
	} {
		if _, _, err := SplitMethod(in); (err == nil) != ok {
			t.Errorf("SplitMethod(%q) = %v", in, err)
		}
	}
}

// fuzzSeeds start the template fuzzers.
var fuzzSeeds = []string{`{"a":"{{index}}"}`, `["{{last.x.y + 3}}", "p{{client}}q"]`, `"{{now}}"`, `{"a":{"b":[1,"{{rand}}"]}}`, `{{`, `"}}{{"`,
	`{"version_info": "{{accepted.version_info}}", "response_nonce": "{{last.nonce}}"}`,
	`{"start_revision": "{{max.resources[].revision + 1}}", "key": "text:k-{{client}}"}`,
	`{"keys": ["text:a", "{{bytes 2}}"], "node": "{{last.node}}", "labels": {"a": "{{max.revisions[]}}"}}`,
	`{"mode": "MODE_FAST", "meta": {"x": "{{last.nope}}"}, "small": "{{index - 1}}", "ratio": "1{{last.revision}}"}`}

// FuzzTemplate: no input panics, and a template that parses renders to
// valid JSON.
func FuzzTemplate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTemplate(s)
		if err != nil {
			return
		}
		out, err := tp.Render(vars())
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%q rendered invalid JSON %q", s, out)
		}
	})
}

// FuzzBind: no template panics when it is bound to a method's types, and
// one that binds can be built — before any response and after one — so
// that nothing the check lets through fails on every message of a run.
func FuzzBind(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	md, err := Resolve(context.Background(), Source{Proto: []string{adsProto(f)}}, "adstest.v1.Ads/Stream", nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTemplate(s)
		if err != nil {
			return
		}
		bd := &binder{out: md.Output()}
		if bd.request(tp, md.Input()) != nil {
			return
		}
		b, err := newBuilder(tp, md.Input())
		if err != nil {
			return // the static part does not fit: refused at setup
		}
		b.useWire(newWirePlan(md.Input())) // built in its wire form too, where it can be
		if err := tryBuild(b, md.Output(), len(bd.maxes)); err != nil && b.base != nil {
			t.Fatalf("%q binds but does not build: %v", s, err)
		}
	})
}
