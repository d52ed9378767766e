package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// actionRunStep returns the script and env of action.yml's "run
// scenarios" step.
func actionRunStep(t *testing.T) (script string, env map[string]string) {
	t.Helper()
	raw, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Runs struct {
			Steps []struct {
				ID  string            `yaml:"id"`
				Env map[string]string `yaml:"env"`
				Run string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	for _, s := range a.Runs.Steps {
		if s.ID == "run" {
			return s.Run, s.Env
		}
	}
	t.Fatal("action.yml has no step with id run")
	return "", nil
}

// TestActionGatesATargetCommand runs the action's own run step (as GitHub
// runs a composite bash step: bash -eo pipefail) with the real binary on
// PATH: it starts a service with target-command, waits until its address
// accepts connections, runs the scenario against it and stops it. A
// command that exits at once, and an address that never listens, fail the
// step with exit 3 within the ready timeout, saying why.
func TestActionGatesATargetCommand(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := buildBinary(t)
	script, env := actionRunStep(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	scen, err := filepath.Abs(mini)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		command string
		timeout string
		code    int
		want    string
	}{
		{"serves", fmt.Sprintf("sleep 0.5; %q serve --addr %s", bin, addr), "30", 0, "passed=true"},
		{"exits at once", "echo cannot bind; exit 1", "30", 3, "the target command exited before " + addr + " accepted connections"},
		{"never listens", "sleep 20", "1", 3, addr + " did not accept connections within 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			inputs := map[string]string{
				"inputs.scenarios": scen, "inputs.duration": "", "inputs.out": filepath.Join(dir, "out"),
				"inputs.target": addr, "inputs.target-command": tc.command, "inputs.ready-timeout": tc.timeout,
				"inputs.insecure": "true", "inputs.cacert": "", "inputs.cert": "", "inputs.key": "", "inputs.cname": "",
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
			cmd.Env = append(os.Environ(),
				"PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"),
				"GITHUB_OUTPUT="+filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary"))
			expr := regexp.MustCompile(`^\$\{\{ (.+) \}\}$`)
			for k, v := range env {
				if m := expr.FindStringSubmatch(v); m != nil {
					v = inputs[m[1]] // github.* expressions: empty here
				}
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			start := time.Now()
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			ghOut, _ := os.ReadFile(filepath.Join(dir, "output"))
			all := string(out) + string(ghOut)
			if code != tc.code || !strings.Contains(all, tc.want) {
				t.Fatalf("exit %d after %v, want %d with %q:\n%s", code, time.Since(start), tc.code, tc.want, all)
			}
			if tc.code == 0 {
				if _, err := os.Stat(filepath.Join(dir, "out", "mini", "report.json")); err != nil {
					t.Errorf("no report: %v", err)
				}
				// The service was stopped: its port is free again.
				if c, err := exec.Command("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/"+fmt.Sprint(port)).CombinedOutput(); err == nil {
					t.Errorf("the target command still listens after the step: %s", c)
				}
			}
		})
	}
}
