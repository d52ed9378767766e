package scenario

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorString(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{"f.yaml", Pos{3, 5}, "groups[1].clients", "bad"}, "f.yaml:3:5: groups[1].clients: bad"},
		{Error{"f.yaml", Pos{3, 0}, "", "bad"}, "f.yaml:3: bad"},
		{Error{"f.yaml", Pos{}, "name", "bad"}, "f.yaml: name: bad"},
		{Error{"", Pos{2, 1}, "name", "bad"}, "2:1: name: bad"},
		{Error{"", Pos{}, "name", "bad"}, "name: bad"},
		{Error{"", Pos{}, "", "bad"}, "bad"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
	es := Errors{{File: "f", Pos: Pos{1, 1}, Msg: "a"}, {File: "f", Pos: Pos{2, 1}, Msg: "b"}}
	if got := es.Error(); got != "f:1:1: a\nf:2:1: b" {
		t.Errorf("Errors.Error() = %q", got)
	}
}

func TestAsErrors(t *testing.T) {
	e1 := &Error{File: "f", Msg: "one"}
	es := Errors{e1, {File: "f", Msg: "two"}}

	got, ok := AsErrors(fmt.Errorf("run: %w", es))
	if !ok || len(got) != 2 || got[0] != e1 {
		t.Errorf("AsErrors(wrapped Errors) = %v, %v", got, ok)
	}
	got, ok = AsErrors(fmt.Errorf("compile: %w", e1))
	if !ok || len(got) != 1 || got[0] != e1 {
		t.Errorf("AsErrors(wrapped *Error) = %v, %v", got, ok)
	}
	if _, ok := AsErrors(errors.New("disk full")); ok {
		t.Error("AsErrors accepted a foreign error")
	}
	if _, ok := AsErrors(nil); ok {
		t.Error("AsErrors(nil)")
	}
	if _, ok := AsErrors(Errors{}); ok {
		t.Error("AsErrors(empty Errors)")
	}
	var target *Error
	if !errors.As(error(es), &target) || target != e1 {
		t.Error("errors.As(Errors, *Error) does not find the first error")
	}
	if !errors.Is(es, e1) {
		t.Error("errors.Is(Errors, member)")
	}
}

func TestSuggest(t *testing.T) {
	choices := []string{"Longlived/Subscribe", "Math/Pow", "Math/Sum", "Math/Sqrt"}
	for in, want := range map[string]string{
		"Math/pow": "Math/Pow", "math/sqrt": "Math/Sqrt", "pow": "Math/Pow", "Subscribe": "Longlived/Subscribe",
		"Math/Sun": "Math/Sum", "Math/Sqr": "Math/Sqrt", "Math/Power": "Math/Pow", "Math/Powerful": "", "": "", "Foo": "",
	} {
		if got := suggest(in, choices); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"clinets", "clients", 2}, {"héllo", "hello", 1}} {
		if got := editDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
	if got := OneOf([]string{"a", "b", "c"}); got != "a, b or c" {
		t.Errorf("oneOf = %q", got)
	}
}
