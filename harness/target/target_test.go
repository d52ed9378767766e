package target_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
)

type nothing struct{ name string }

func (n nothing) Label() string                                         { return target.Label(n.name, "") }
func (n nothing) Name() string                                          { return "the " + n.name + " target" }
func (nothing) Start(context.Context, target.Env) (target.Reach, error) { return target.Reach{}, nil }
func (nothing) Stop(time.Duration) error                                { return nil }
func (n nothing) Describe() target.Description                          { return target.Description{Target: n.name} }

func kind(name string) target.Kind {
	return target.Kind{Name: name, New: func(target.Spec) (target.Target, error) { return nothing{name}, nil }}
}

func TestCatalog(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kinds []target.Kind
		want  string
	}{
		{"no name", []target.Kind{{New: kind("x").New}}, "a kind has no name"},
		{"no constructor", []target.Kind{{Name: "x"}}, "kind x has no constructor"},
		{"twice", []target.Kind{kind("x"), kind("x")}, "kind x listed twice"},
	} {
		if _, err := target.New(tc.kinds...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	c, err := target.New(kind("builtin"), kind("address"))
	if err != nil {
		t.Fatal(err)
	}
	// With replaces a kind of the same name in place, or adds one; c is
	// unchanged.
	replaced := kind("builtin")
	replaced.Doc = "replaced"
	c2, err := c.With(replaced)
	if err != nil {
		t.Fatal(err)
	}
	c3, err := c2.With(kind("mine"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c3.Names(), ","); got != "builtin,address,mine" {
		t.Errorf("names %s", got)
	}
	if k, _ := c3.Lookup("builtin"); k.Doc != "replaced" {
		t.Error("With did not replace builtin")
	}
	if k, _ := c.Lookup("builtin"); k.Doc != "" || len(c.Names()) != 2 {
		t.Error("With changed the catalog it was called on")
	}
}

func TestResolve(t *testing.T) {
	c, err := target.New(kind("builtin"), kind("address"))
	if err != nil {
		t.Fatal(err)
	}
	decode := func(src string) *scenario.Scenario {
		t.Helper()
		sc, err := scenario.Decode("r.yaml", []byte("name: r\nduration: 1s\n"+src+"groups:\n  - {rpc: Math/Pow, clients: 1}\n"))
		if err != nil {
			t.Fatal(err)
		}
		sc.Defaults()
		return sc
	}
	k, tg, err := c.Resolve(decode("target: {address: 127.0.0.1:9, insecure: true}\n"), "")
	if err != nil || k.Name != "address" || tg.Describe().Target != "address" {
		t.Fatalf("address: %v %v %v", k.Name, tg, err)
	}
	if k, _, err := c.Resolve(decode(""), ""); err != nil || k.Name != "builtin" {
		t.Fatalf("default target: %v %v", k.Name, err)
	}
	_, _, err = c.Resolve(decode("target: {kind: mine}\n"), "")
	if err == nil || err.Error() != `r.yaml:3:16: target.kind: unknown target kind "mine"; valid choices: builtin or address` {
		t.Fatalf("unknown kind: %v", err)
	}
}
