package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/streambench/streambench/internal/actioncheck"
)

// TestActionMetadata checks action.yml beyond what actionlint covers for
// composite actions (internal/actioncheck: a strict decode against the
// metadata schema, every run step's shell, inputs declared and used).
func TestActionMetadata(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := actioncheck.Check("action.yml", raw); err != nil {
		t.Fatal(err)
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
// logs its arguments; it returns the log and fails the test when the step
// fails.
func runActionStep(t *testing.T, step, dir string, set map[string]string) string {
	t.Helper()
	calls, code, out := runActionStepExit(t, step, dir, set)
	if code != 0 {
		t.Fatalf("step %s: exit %d\n%s", step, code, out)
	}
	return calls
}

// runActionStepExit is runActionStep for a step that may fail: the fake
// streambench exits with $FAKE_CODE when its last argument contains
// $FAKE_FAIL. It returns the log, the step's exit code and its output.
func runActionStepExit(t *testing.T, step, dir string, set map[string]string) (calls string, code int, out string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, env := actionStep(t, step)
	bin := filepath.Join(dir, "bin")
	log := filepath.Join(dir, "calls.log")
	fake := "#!/usr/bin/env bash\necho \"$*\" >> " + log + "\n" +
		"for a; do last=$a; done\n" +
		"if [ -n \"$FAKE_FAIL\" ] && [[ \"$last\" == *\"$FAKE_FAIL\"* ]]; then exit \"$FAKE_CODE\"; fi\n"
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "streambench"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-e", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"),
		"GITHUB_OUTPUT="+filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary"),
		"GITHUB_JOB=bench")
	for k, v := range env {
		if o, ok := set[k]; ok {
			v = o
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for _, k := range []string{"FAKE_FAIL", "FAKE_CODE"} {
		cmd.Env = append(cmd.Env, k+"="+set[k])
	}
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("step %s: %v", step, err)
	}
	l, _ := os.ReadFile(log)
	return string(l), code, string(b)
}

// TestActionRunsScenarios runs the action's own shell steps: by default
// every scenario runs once (count 1, a pull request's budget), count 5
// runs --count 5, and compare gets the baseline's and the head's scenario
// folders (a set.json or report.json inside); allow-mismatch passes
// --allow-mismatch.
func TestActionRunsScenarios(t *testing.T) {
	t.Parallel()
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
	calls := runActionStep(t, "run", dir, map[string]string{"COUNT": "5"})
	if !strings.Contains(calls, "run --no-progress --out streambench-out/smoke") || !strings.Contains(calls, "--count 5 scenarios/smoke.yaml") {
		t.Errorf("run step, count 5: %q; want run ... --count 5", calls)
	}
	one := t.TempDir()
	if err := os.MkdirAll(filepath.Join(one, "scenarios"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(one, "scenarios", "smoke.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if calls := runActionStep(t, "run", one, nil); !strings.Contains(calls, "run --no-progress") || strings.Contains(calls, "--count") {
		t.Errorf("run step, defaults: %q; want a single run", calls)
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

// TestActionComparesEveryScenario: a compare that breaks (exit 2 or 3) on
// one scenario does not skip the others; the step then fails with the
// worst exit, and a regression elsewhere is still reported.
func TestActionComparesEveryScenario(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		fail string
		code string
		want int
	}{
		{"", "", 0},
		{"out/b", "1", 0}, // a regression: the gate step fails on it, not compare
		{"out/b", "2", 2},
		{"out/a", "3", 3},
	} {
		dir := t.TempDir()
		for _, n := range []string{"a", "b", "c"} {
			for _, side := range []string{"streambench-out", "streambench-out-baseline"} {
				p := filepath.Join(dir, side, n, "set.json")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		calls, code, out := runActionStepExit(t, "compare", dir, map[string]string{"FAKE_FAIL": tt.fail, "FAKE_CODE": tt.code})
		if code != tt.want {
			t.Errorf("%s exit %s: step exit %d, want %d\n%s", tt.fail, tt.code, code, tt.want, out)
		}
		if n := strings.Count(calls, "compare "); n != 3 {
			t.Errorf("%s exit %s: %d compares, want all 3:\n%s", tt.fail, tt.code, n, calls)
		}
		output, _ := os.ReadFile(filepath.Join(dir, "output"))
		if want := "regressed=" + map[bool]string{true: "true", false: "false"}[tt.code == "1"]; !strings.Contains(string(output), want) {
			t.Errorf("%s exit %s: outputs %q, want %s", tt.fail, tt.code, output, want)
		}
	}
}

// TestActionArtifactName: empty, the name is unique per job and per
// scenarios and out; given, it is used as it is.
func TestActionArtifactName(t *testing.T) {
	t.Parallel()
	name := func(set map[string]string) string {
		dir := t.TempDir()
		runActionStep(t, "name", dir, set)
		out, _ := os.ReadFile(filepath.Join(dir, "output"))
		return strings.TrimSpace(strings.TrimPrefix(string(out), "artifact="))
	}
	a := name(nil)
	b := name(map[string]string{"SCENARIOS": "bench/other.yaml"})
	c := name(map[string]string{"OUT": "out-2"})
	if !strings.HasPrefix(a, "streambench-bench-") || a == b || a == c || b == c {
		t.Errorf("default names %q, %q, %q: want streambench-bench-<hash>, all different", a, b, c)
	}
	if got := name(map[string]string{"NAME": "mine"}); got != "mine" {
		t.Errorf("given name: %q", got)
	}
}
