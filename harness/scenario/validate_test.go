package scenario

import (
	"strings"
	"testing"
)

func TestValidateInCode(t *testing.T) {
	var s Scenario
	err := s.Validate()
	want := []string{
		"name: must be set; it names the report folder (out/<name>/)",
		"duration: must be set, e.g. duration: 30s",
		"target: set one of target.builtin, target.address and target.command",
		"groups: at least one group is required",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("Validate of an empty scenario:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}

	s = Scenario{
		Name:     "code",
		Duration: Duration(1e9),
		Groups:   []Group{{Name: "sum", RPC: "Math/Sum", Clients: 1}},
		Assert:   []Assertion{{Expr: "errors == 0"}, {}},
	}
	s.Defaults()
	err = s.Validate()
	if err == nil || err.Error() != "assert[1]: empty assertion; "+assertionForms {
		t.Errorf("Validate: %v", err)
	}
	s.Assert = s.Assert[:1]
	if err := s.Validate(); err != nil {
		t.Errorf("Validate of a valid scenario built in code: %v", err)
	}
	// The link's default is the plan's (it follows the target kind).
	if s.Link.Kind != "" || s.Groups[0].Connections != DefaultConnections {
		t.Errorf("Defaults in code: %+v", s)
	}
	s.Link.Kind = "carrier-pigeon"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `link: unknown link "carrier-pigeon"; valid choices: bufconn, tcp or toxiproxy`) {
		t.Errorf("Validate of a bad link kind: %v", err)
	}
}
