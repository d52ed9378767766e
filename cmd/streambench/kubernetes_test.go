//go:build kubernetes

// The kubernetes build tag keeps k8s.io/api (about half a minute of
// compiling under -race on two cores) out of the README's go test -race
// ./...; .ci/run sets it.

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/streambench/streambench/harness/scenario"
)

const manifests = "../../deploy/kubernetes"

// decodeStrict decodes one manifest document into the official type of
// its kind, rejecting unknown fields: a typo in a field fails here.
func decodeStrict(t *testing.T, file string, doc []byte) any {
	t.Helper()
	var head struct{ Kind, APIVersion string }
	if err := yaml.Unmarshal(doc, &head); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var obj any
	switch head.APIVersion + " " + head.Kind {
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	case "v1 PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "batch/v1 Job":
		obj = &batchv1.Job{}
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	default:
		t.Fatalf("%s: a %s %s this test does not know; add its type", file, head.APIVersion, head.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return obj
}

// loadManifests decodes every document of every manifest.
func loadManifests(t *testing.T) map[string][]any {
	t.Helper()
	return loadManifestsIn(t, manifests)
}

// loadManifestsIn decodes every document of every manifest in dir.
func loadManifestsIn(t *testing.T, dir string) map[string][]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	out := map[string][]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			out[filepath.Base(f)] = append(out[filepath.Base(f)], decodeStrict(t, f, []byte(doc)))
		}
	}
	return out
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	all := loadManifests(t)
	for _, want := range []string{"configmap.yaml", "pvc.yaml", "job.yaml", "merge-job.yaml", "target.yaml"} {
		if len(all[want]) == 0 {
			t.Errorf("missing %s", want)
		}
	}
	// The strictness is real: a misspelt field fails.
	if err := yaml.UnmarshalStrict([]byte("apiVersion: batch/v1\nkind: Job\nspec:\n  completionMod: Indexed\n"), &batchv1.Job{}); err == nil {
		t.Error("strict decoding accepted an unknown field")
	}
}

// expand does what the kubelet does to a container's args: $(VAR) becomes
// the variable's value.
func expand(arg string, env map[string]string) string {
	return regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(arg, func(m string) string {
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// TestKubernetesJobMatchesShardFlags: the Job is Indexed with one pod per
// shard, SHARDS equals its completions, and every pod's args — expanded as
// the kubelet would — are a `streambench run` that parses and plans shard
// i of n of the ConfigMap's scenario; the merge Job reads each shard's
// report from where the shards write it.
func TestKubernetesJobMatchesShardFlags(t *testing.T) {
	t.Parallel()
	all := loadManifests(t)
	job := all["job.yaml"][0].(*batchv1.Job)
	cm := all["configmap.yaml"][0].(*corev1.ConfigMap)
	merge := all["merge-job.yaml"][0].(*batchv1.Job)
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatal("the shards' Job must be completionMode: Indexed")
	}
	n := int(*job.Spec.Completions)
	if job.Spec.Parallelism == nil || int(*job.Spec.Parallelism) != n {
		t.Errorf("parallelism %v, want completions (%d): the shards must run at once", job.Spec.Parallelism, n)
	}
	c := job.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["SHARDS"] != fmt.Sprint(n) {
		t.Errorf("SHARDS = %q, want the completions, %d", env["SHARDS"], n)
	}
	scen := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(scen, []byte(cm.Data["scenario.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	var mounted string
	for _, m := range c.VolumeMounts {
		if m.Name == "scenario" {
			mounted = m.MountPath
		}
	}
	var outs []string
	total := 0
	for i := range n {
		env["JOB_COMPLETION_INDEX"] = fmt.Sprint(i)
		var args []string
		for _, a := range c.Args {
			args = append(args, strings.Replace(expand(a, env), mounted+"/scenario.yaml", scen, 1))
		}
		if args[0] != "run" || !slices.Contains(args, fmt.Sprintf("--shard=%d/%d", i, n)) {
			t.Fatalf("pod %d args %v: want run --shard=%d/%d", i, args, i, n)
		}
		var out bytes.Buffer
		cmd := newRunCmd(&out, &out)
		if err := cmd.ParseFlags(args[1:]); err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
		var f runFlags
		f.target, _ = cmd.Flags().GetString("target")
		f.shard, _ = cmd.Flags().GetString("shard")
		f.allowRemote, _ = cmd.Flags().GetBool("allow-remote-target")
		f.insecure, _ = cmd.Flags().GetBool("insecure")
		plan, err := planOf(cmd, cmd.Flags().Arg(0), f)
		if err != nil {
			t.Fatalf("pod %d: the scenario does not plan: %v", i, err)
		}
		if sh := plan.Shard(); sh == nil || sh.Index != i || sh.Count != n {
			t.Errorf("pod %d plans shard %v", i, sh)
		}
		total += plan.Clients()
		o, _ := cmd.Flags().GetString("out")
		outs = append(outs, filepath.Join(o, "report.json"))
		if at, _ := cmd.Flags().GetString("start-at"); at == "" {
			t.Error("no start barrier")
		}
	}
	sc, err := scenario.Decode("configmap", []byte(cm.Data["scenario.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, g := range sc.Groups {
		want += g.Clients
	}
	if total != want {
		t.Errorf("the shards run %d clients, the scenario has %d", total, want)
	}
	margs := merge.Spec.Template.Spec.Containers[0].Args
	if margs[0] != "merge" || !slices.Equal(margs[len(margs)-n:], outs) {
		t.Errorf("merge args %v, want the shards' reports %v", margs, outs)
	}
}
