package actioncheck

import (
	"os"
	"strings"
	"testing"
)

// TestRepositoryAction checks the action.yml at the repository root, the
// one `uses: streambench/streambench@…` runs.
func TestRepositoryAction(t *testing.T) {
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := Check("action.yml", data); err != nil {
		t.Fatal(err)
	}
}

const good = `name: x
description: an action
inputs:
  who:
    description: whom to greet
    default: world
  token:
    description: a token
    default: ${{ github.token }}
outputs:
  said:
    description: what was said
    value: ${{ steps.greet.outputs.said }}
runs:
  using: composite
  steps:
    - id: greet
      if: inputs.who != ''
      shell: bash
      env:
        WHO: ${{ inputs.who }}
      run: echo "said=hello $WHO" >> "$GITHUB_OUTPUT"
    - uses: actions/upload-artifact@v4
      continue-on-error: true
      with:
        name: x
        github-token: ${{ inputs.token }}
`

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old with new in good
		want     string // in the error; empty: no error
	}{
		{"good", "", "", ""},
		{"misspelt top-level key", "description: an action", "descripton: an action", "field descripton not found"},
		{"misspelt step key", "      shell: bash", "      shel: bash", "field shel not found"},
		{"misspelt input key", "    default: world", "    defualt: world", "field defualt not found"},
		{"no name", "name: x\n", "", "name is required"},
		{"no description", "description: an action\n", "", "description is required"},
		{"not composite", "using: composite", "using: node20", `runs.using is "node20"`},
		{"run without shell", "      shell: bash\n", "", "a run step needs shell"},
		{"unknown shell", "shell: bash", "shell: zsh", `shell "zsh"`},
		{"shell on uses", "      continue-on-error: true", "      shell: bash", "shell is for run steps"},
		{"input typo in env", "${{ inputs.who }}", "${{ inputs.hwo }}", "inputs.hwo is not a declared input"},
		{"input typo in if", "if: inputs.who != ''", "if: inputs.wh != ''", "inputs.wh is not a declared input"},
		{"input typo in with", "${{ inputs.token }}", "${{ inputs.tokn }}", "inputs.tokn is not a declared input"},
		{"unused input", "${{ inputs.token }}", "${{ github.token }}", "inputs.token is declared but never used"},
		{"input without description", "    description: whom to greet\n", "", "inputs.who: description is required"},
		{"output without value", "    value: ${{ steps.greet.outputs.said }}\n", "", "outputs.said: value is required"},
		{"unknown step id", "steps.greet.outputs", "steps.great.outputs", "steps.great names no step id"},
		{"both run and uses", "    - uses: actions/upload-artifact@v4", "    - uses: actions/upload-artifact@v4\n      run: echo", "run and uses are exclusive"},
		{"not yaml", "name: x", "name: [x", "action.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := good
			if tt.old != "" {
				if !strings.Contains(doc, tt.old) {
					t.Fatalf("the good action has no %q", tt.old)
				}
				doc = strings.Replace(doc, tt.old, tt.new, 1)
			}
			err := Check("action.yml", []byte(doc))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("no error, want one containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestPlantedTypoInRepositoryAction: the repository's own action with one
// input name misspelt where a step reads it fails the check.
func TestPlantedTypoInRepositoryAction(t *testing.T) {
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	const ref = "${{ inputs.scenarios }}"
	if !strings.Contains(string(data), ref) {
		t.Fatalf("action.yml no longer reads %s", ref)
	}
	bad := strings.Replace(string(data), ref, "${{ inputs.scenario }}", 1)
	err = Check("action.yml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "inputs.scenario is not a declared input") {
		t.Fatalf("got %v, want an undeclared input error", err)
	}
}
