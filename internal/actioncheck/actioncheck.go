// Package actioncheck checks a GitHub composite action's metadata file
// (action.yml) strictly: actionlint lints workflows, not composite actions,
// so a misspelt key, a step without its shell or a reference to an input
// that is not declared would otherwise only show on a runner.
package actioncheck

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Action is the metadata of a composite action, after GitHub's metadata
// syntax for actions; a key it does not list is an error.
type Action struct {
	Name        string            `yaml:"name"`
	Author      string            `yaml:"author"`
	Description string            `yaml:"description"`
	Inputs      map[string]Input  `yaml:"inputs"`
	Outputs     map[string]Output `yaml:"outputs"`
	Runs        Runs              `yaml:"runs"`
	Branding    *Branding         `yaml:"branding"`
}

// Input is one of an action's inputs.
type Input struct {
	Description        string `yaml:"description"`
	Required           bool   `yaml:"required"`
	Default            string `yaml:"default"`
	DeprecationMessage string `yaml:"deprecationMessage"`
}

// Output is one of a composite action's outputs.
type Output struct {
	Description string `yaml:"description"`
	Value       string `yaml:"value"`
}

// Runs says how the action runs; only composite actions are checked.
type Runs struct {
	Using string `yaml:"using"`
	Steps []Step `yaml:"steps"`
}

// Step is one step of a composite action.
type Step struct {
	ID               string            `yaml:"id"`
	If               string            `yaml:"if"`
	Name             string            `yaml:"name"`
	Uses             string            `yaml:"uses"`
	Run              string            `yaml:"run"`
	Shell            string            `yaml:"shell"`
	With             map[string]string `yaml:"with"`
	Env              map[string]string `yaml:"env"`
	ContinueOnError  string            `yaml:"continue-on-error"`
	WorkingDirectory string            `yaml:"working-directory"`
}

// Branding is the action's icon and color on the Marketplace.
type Branding struct {
	Icon  string `yaml:"icon"`
	Color string `yaml:"color"`
}

// shells are the values a run step's shell may take.
var shells = []string{"bash", "sh", "pwsh", "powershell", "python", "cmd"}

var (
	exprRE  = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
	inputRE = regexp.MustCompile(`\binputs\.([A-Za-z_][A-Za-z0-9_-]*)`)
	stepRE  = regexp.MustCompile(`\bsteps\.([A-Za-z_][A-Za-z0-9_-]*)\.`)
)

// Check decodes an action metadata file strictly (an unknown key is an
// error) and checks it: name and description are set, runs.using is
// composite, every step runs a command with a valid shell or uses an
// action, every input has a description, every inputs.X an expression
// names is declared and every declared input is used, and every steps.X
// names a step id. file names the file in the errors.
func Check(file string, data []byte) error {
	var a Action
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{file}, args...)...))
	}
	if strings.TrimSpace(a.Name) == "" {
		bad("name is required")
	}
	if strings.TrimSpace(a.Description) == "" {
		bad("description is required")
	}
	if a.Runs.Using != "composite" {
		bad("runs.using is %q, want composite", a.Runs.Using)
	}
	if len(a.Runs.Steps) == 0 {
		bad("runs.steps is empty")
	}
	for _, id := range sortedKeys(a.Inputs) {
		if strings.TrimSpace(a.Inputs[id].Description) == "" {
			bad("inputs.%s: description is required", id)
		}
	}
	for _, id := range sortedKeys(a.Outputs) {
		if strings.TrimSpace(a.Outputs[id].Value) == "" {
			bad("outputs.%s: value is required in a composite action", id)
		}
	}

	used := map[string]bool{}
	stepIDs := map[string]bool{}
	var refs []string // every expression, with where it is
	var where []string
	add := func(at, s string, bare bool) {
		if bare {
			refs, where = append(refs, s), append(where, at)
		}
		for _, m := range exprRE.FindAllStringSubmatch(s, -1) {
			refs, where = append(refs, m[1]), append(where, at)
		}
	}
	for _, id := range sortedKeys(a.Inputs) {
		add("inputs."+id+".default", a.Inputs[id].Default, false)
	}
	for _, id := range sortedKeys(a.Outputs) {
		add("outputs."+id+".value", a.Outputs[id].Value, false)
	}
	for i, st := range a.Runs.Steps {
		at := fmt.Sprintf("runs.steps[%d]", i)
		if st.Name != "" {
			at += " (" + st.Name + ")"
		}
		switch {
		case st.Run != "" && st.Uses != "":
			bad("%s: run and uses are exclusive", at)
		case st.Run == "" && st.Uses == "":
			bad("%s: neither run nor uses", at)
		case st.Run != "" && st.Shell == "":
			bad("%s: a run step needs shell (one of %s)", at, strings.Join(shells, ", "))
		case st.Run != "" && !slices.Contains(shells, st.Shell) && !strings.Contains(st.Shell, "{0}"):
			bad("%s: shell %q, want one of %s or a command with {0}", at, st.Shell, strings.Join(shells, ", "))
		case st.Uses != "" && st.Shell != "":
			bad("%s: shell is for run steps, not uses", at)
		case st.Uses == "" && len(st.With) > 0:
			bad("%s: with is for uses steps", at)
		}
		if st.ID != "" {
			if stepIDs[st.ID] {
				bad("%s: step id %q given twice", at, st.ID)
			}
			stepIDs[st.ID] = true
		}
		add(at+".if", st.If, !strings.Contains(st.If, "${{"))
		add(at+".name", st.Name, false)
		add(at+".uses", st.Uses, false)
		add(at+".run", st.Run, false)
		add(at+".shell", st.Shell, false)
		add(at+".continue-on-error", st.ContinueOnError, false)
		add(at+".working-directory", st.WorkingDirectory, false)
		for _, k := range sortedKeys(st.With) {
			add(at+".with."+k, st.With[k], false)
		}
		for _, k := range sortedKeys(st.Env) {
			add(at+".env."+k, st.Env[k], false)
		}
	}
	for i, r := range refs {
		for _, m := range inputRE.FindAllStringSubmatch(r, -1) {
			if _, ok := a.Inputs[m[1]]; !ok {
				bad("%s: inputs.%s is not a declared input (declared: %s)", where[i], m[1], strings.Join(sortedKeys(a.Inputs), ", "))
			}
			used[m[1]] = true
		}
		for _, m := range stepRE.FindAllStringSubmatch(r, -1) {
			if !stepIDs[m[1]] {
				bad("%s: steps.%s names no step id", where[i], m[1])
			}
		}
	}
	for _, id := range sortedKeys(a.Inputs) {
		if !used[id] {
			bad("inputs.%s is declared but never used", id)
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
