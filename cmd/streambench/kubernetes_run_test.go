//go:build kubernetes

package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// runScript runs deploy/kubernetes/run.sh with args and extra environment,
// bounded by a deadline, and returns its combined output and exit code.
func runScript(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("run.sh is a POSIX shell script")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{filepath.Join(manifests, "run.sh")}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return string(out), exit.ExitCode()
	default:
		t.Fatalf("run.sh %v: %v\n%s", args, err, out)
		return "", 0
	}
}

// TestKubernetesRunScriptRendersStrictManifests: what run.sh applies —
// the manifests with the namespace's target, the storage class, the image
// and the start barrier substituted — decodes strictly with the official
// types and carries the parameters.
func TestKubernetesRunScriptRendersStrictManifests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	before := time.Now().UTC()
	out, code := runScript(t, nil, "-n", "load-test", "-s", "nfs-rwx", "-i", "registry.example/streambench:v1.2.3", "-d", "90", "-o", dir)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	all := loadManifestsIn(t, dir)
	pvc := all["pvc.yaml"][0].(*corev1.PersistentVolumeClaim)
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "nfs-rwx" {
		t.Errorf("storageClassName %v, want nfs-rwx", pvc.Spec.StorageClassName)
	}
	job := all["job.yaml"][0].(*batchv1.Job)
	c := job.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example/streambench:v1.2.3" {
		t.Errorf("shards' image %q", c.Image)
	}
	if img := all["merge-job.yaml"][0].(*batchv1.Job).Spec.Template.Spec.Containers[0].Image; img != c.Image {
		t.Errorf("merge image %q, want %q", img, c.Image)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if want := "streambench-target.load-test.svc.cluster.local:7070"; env["TARGET"] != want {
		t.Errorf("TARGET %q, want %q", env["TARGET"], want)
	}
	at, err := time.Parse(time.RFC3339, env["START_AT"])
	if err != nil {
		t.Fatalf("START_AT: %v", err)
	}
	if lo, hi := before.Add(89*time.Second), time.Now().Add(91*time.Second); at.Before(lo.Truncate(time.Second)) || at.After(hi) {
		t.Errorf("START_AT %s, want 90s after %s", at, before)
	}
	// Without -s the claim keeps the cluster's default class.
	dir2 := t.TempDir()
	if out, code := runScript(t, nil, "-o", dir2); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if sc := loadManifestsIn(t, dir2)["pvc.yaml"][0].(*corev1.PersistentVolumeClaim).Spec.StorageClassName; sc != nil {
		t.Errorf("storageClassName %q without -s", *sc)
	}
}

func TestKubernetesRunScriptRejectsBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-n", "Bad_Namespace", "-o", "x"},
		{"-s", "a b", "-o", "x"},
		{"-d", "soon", "-o", "x"},
		{"-d", "7200", "-o", "x"},
		{"-t", "no-port", "-o", "x"},
		{"-f", "/no/such/scenario.yaml", "-o", "x"},
		{"-q"},
		{"extra"},
	} {
		out, code := runScript(t, nil, args...)
		if code != 2 || !strings.Contains(out, "run.sh:") && !strings.Contains(out, "usage:") {
			t.Errorf("run.sh %v: exit %d, want 2 with a message:\n%s", args, code, out)
		}
	}
}

// fakeKubectl answers run.sh as a cluster would: every call is recorded,
// every applied file kept, and the Jobs' conditions and the merge pod's
// exit code are what the test says.
const fakeKubectl = `#!/bin/sh
echo "$*" >>"$FAKE_DIR/calls"
last=""
for a; do last=$a; done
case "$*" in
*" apply -f "*) cp "$last" "$FAKE_DIR/applied-$(basename "$last")" ;;
*"get namespace"*) exit 1 ;;
*"get job streambench-shards"*) printf '%s' "$FAKE_SHARDS" ;;
*"get job streambench-merge"*) printf '%s' "$FAKE_MERGE" ;;
*"get pods -l job-name=streambench-merge"*) printf '%s' "$FAKE_EXIT" ;;
esac
exit 0
`

// TestKubernetesRunScriptVerdict runs run.sh against a fake kubectl: it
// exits with the merge's verdict, 3 when a shard failed (without merging)
// or a wait ran out, deletes a previous run's Jobs before applying new
// ones, and passes the namespace to every call.
func TestKubernetesRunScriptVerdict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		shards, merge, exit  string
		want                 int
		wantOut              string
		wantMerge, wantShard bool
	}{
		{"passed", "SuccessCriteriaMet Complete ", "Complete ", "", 0, "verdict: 0 (every assertion passed)", true, true},
		{"an assertion failed", "Complete ", "FailureTarget Failed ", "1", 1, "verdict: 1 (an assertion failed)", true, true},
		{"reports of different runs", "Complete ", "Failed ", "2", 2, "verdict: 2", true, true},
		{"merge failed without an exit code", "Complete ", "Failed ", "", 3, "verdict: 3", true, true},
		{"a shard failed", "Failed ", "", "", 3, "verdict: 3 (a shard broke", false, true},
		{"shards never finish", "", "", "", 3, "neither completed nor failed within 1s", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte(fakeKubectl), 0o755); err != nil {
				t.Fatal(err)
			}
			out, code := runScript(t, []string{
				"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"),
				"FAKE_DIR=" + dir, "FAKE_SHARDS=" + tt.shards, "FAKE_MERGE=" + tt.merge, "FAKE_EXIT=" + tt.exit,
				"POLL=1",
			}, "-n", "load-test", "-s", "nfs-rwx", "-d", "0", "-w", "1")
			if code != tt.want || !strings.Contains(out, tt.wantOut) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, tt.want, tt.wantOut, out)
			}
			data, err := os.ReadFile(filepath.Join(dir, "calls"))
			if err != nil {
				t.Fatal(err)
			}
			calls := strings.Split(strings.TrimSpace(string(data)), "\n")
			deleted, appliedJob := -1, -1
			for i, c := range calls {
				if !strings.HasPrefix(c, "--namespace load-test ") && c != "create namespace load-test" {
					t.Errorf("call %q without the namespace", c)
				}
				if strings.Contains(c, "delete job streambench-shards streambench-merge") {
					deleted = i
				}
				if strings.Contains(c, "apply -f") && strings.HasSuffix(c, "/job.yaml") && appliedJob < 0 {
					appliedJob = i
				}
			}
			if deleted < 0 || appliedJob < 0 || deleted > appliedJob {
				t.Errorf("the previous Jobs must be deleted before the shards are applied:\n%s", data)
			}
			if !strings.Contains(string(data), "create namespace load-test") {
				t.Errorf("the missing namespace was not created:\n%s", data)
			}
			_, err = os.Stat(filepath.Join(dir, "applied-merge-job.yaml"))
			if merged := err == nil; merged != tt.wantMerge {
				t.Errorf("merge applied %v, want %v", merged, tt.wantMerge)
			}
			// What was applied decodes strictly.
			applied := filepath.Join(dir, "applied")
			if err := os.Mkdir(applied, 0o755); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "applied-*.yaml"))
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(applied, strings.TrimPrefix(filepath.Base(f), "applied-")), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			all := loadManifestsIn(t, applied)
			if pvc := all["pvc.yaml"][0].(*corev1.PersistentVolumeClaim); pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "nfs-rwx" {
				t.Errorf("applied claim's storage class %v", pvc.Spec.StorageClassName)
			}
			if len(all["job.yaml"]) != 1 {
				t.Errorf("shards applied %d times", len(all["job.yaml"]))
			}
		})
	}
}
