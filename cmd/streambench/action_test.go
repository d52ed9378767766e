package main

import (
	"os"
	"os/exec"
	"path/filepath"
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

// actionStep returns the run script and env of action.yml's step with id
// (or name) step.
func actionStep(t *testing.T, step string) (script string, env map[string]string) {
	t.Helper()
	raw, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
		Runs struct {
			Steps []struct {
				ID   string            `yaml:"id"`
				Name string            `yaml:"name"`
				Run  string            `yaml:"run"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	input := regexp.MustCompile(`^\$\{\{ inputs\.([a-z0-9-]+) \}\}$`)
	for _, s := range a.Runs.Steps {
		if s.ID != step && s.Name != step {
			continue
		}
		env = map[string]string{}
		for k, v := range s.Env {
			if m := input.FindStringSubmatch(v); m != nil {
				v = a.Inputs[m[1]].Default
			}
			env[k] = v
		}
		return s.Run, env
	}
	t.Fatalf("action.yml has no step %q", step)
	return "", nil
}

// runActionStep runs a step's script with bash, its inputs at their
// defaults (over which set applies), and a fake streambench on PATH that
// logs its arguments; it returns the log.
func runActionStep(t *testing.T, step, dir string, set map[string]string) string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, env := actionStep(t, step)
	bin := filepath.Join(dir, "bin")
	log := filepath.Join(dir, "calls.log")
	fake := "#!/usr/bin/env bash\necho \"$*\" >> " + log + "\n"
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "streambench"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-e", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"),
		"GITHUB_OUTPUT="+filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary"))
	for k, v := range env {
		if o, ok := set[k]; ok {
			v = o
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("step %s: %v\n%s", step, err, out)
	}
	b, _ := os.ReadFile(log)
	return string(b)
}

// TestActionRunsSetsByDefault runs the action's own shell steps: by
// default every scenario runs --count 5 and compare gets the baseline's
// and the head's scenario folders (a set.json or report.json inside);
// count 1 runs once; allow-mismatch passes --allow-mismatch.
func TestActionRunsSetsByDefault(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scenarios"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"scenarios/smoke.yaml", "streambench-out/smoke/set.json", "streambench-out-baseline/smoke/set.json",
		"streambench-out/new/set.json"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	calls := runActionStep(t, "run", dir, nil)
	if !strings.Contains(calls, "run --no-progress --out streambench-out/smoke") || !strings.Contains(calls, "--count 5 scenarios/smoke.yaml") {
		t.Errorf("run step, defaults: %q; want run ... --count 5", calls)
	}
	one := t.TempDir()
	if err := os.MkdirAll(filepath.Join(one, "scenarios"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(one, "scenarios", "smoke.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if calls := runActionStep(t, "run", one, map[string]string{"COUNT": "1"}); strings.Contains(calls, "--count") {
		t.Errorf("run step, count 1: %q; want a single run", calls)
	}
	calls = runActionStep(t, "compare", dir, nil)
	if !strings.Contains(calls, "compare --html streambench-out/smoke/diff.html --summary-md streambench-out/smoke/compare.md streambench-out-baseline/smoke streambench-out/smoke") ||
		strings.Contains(calls, "--allow-mismatch") || strings.Contains(calls, "new") {
		t.Errorf("compare step, defaults: %q", calls)
	}
	if sum, _ := os.ReadFile(filepath.Join(dir, "summary")); !strings.Contains(string(sum), "`new`: no baseline reports") {
		t.Errorf("summary does not say the new scenario has no baseline: %q", sum)
	}
	if calls := runActionStep(t, "compare", t.TempDir(), nil); calls != "" {
		t.Errorf("compare without a baseline folder called %q", calls)
	}
	calls = runActionStep(t, "compare", dir, map[string]string{"ALLOW_MISMATCH": "true"})
	if !strings.Contains(calls, "--allow-mismatch streambench-out-baseline/smoke") {
		t.Errorf("compare step, allow-mismatch: %q", calls)
	}
}
