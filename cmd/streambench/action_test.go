package main

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestActionMetadata checks action.yml beyond what actionlint covers for
// composite actions: it parses, it is composite, every run step names its
// shell, and every ${{ inputs.x }} it uses is declared.
func TestActionMetadata(t *testing.T) {
	raw, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Name    string                    `yaml:"name"`
		Inputs  map[string]map[string]any `yaml:"inputs"`
		Outputs map[string]map[string]any `yaml:"outputs"`
		Runs    struct {
			Using string           `yaml:"using"`
			Steps []map[string]any `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if a.Name == "" || a.Runs.Using != "composite" || len(a.Runs.Steps) == 0 {
		t.Fatalf("action.yml: name %q, runs.using %q, %d steps", a.Name, a.Runs.Using, len(a.Runs.Steps))
	}
	for i, s := range a.Runs.Steps {
		_, run := s["run"]
		_, uses := s["uses"]
		if run == uses {
			t.Errorf("step %d: want exactly one of run and uses", i)
		}
		if run && s["shell"] == nil {
			t.Errorf("step %d (%v): a composite run step needs shell", i, s["name"])
		}
	}
	for _, m := range regexp.MustCompile(`inputs\.([a-z0-9-]+)`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := a.Inputs[m[1]]; !ok {
			names := make([]string, 0, len(a.Inputs))
			for k := range a.Inputs {
				names = append(names, k)
			}
			sort.Strings(names)
			t.Errorf("action.yml uses inputs.%s, declared: %s", m[1], strings.Join(names, ", "))
		}
	}
}
