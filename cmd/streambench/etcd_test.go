package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/internal/testenv"
)

// TestEtcdWatchScenario runs scenarios/etcd-watch.yaml against a real
// etcd (bench/etcd, built by this test from the module cache) as a
// command target: with the correct resume every assertion passes; a
// resume that skips 20 revisions (highest + 21), one that repeats the
// last revision (highest, not + 1) and a restart without persistence (no
// --data-dir: a fresh store every start) each fail covers, naming the
// watcher, the revisions and the count. Without the Go module proxy etcd
// cannot be built and the test skips, unless STREAMBENCH_REQUIRE_ETCD is
// set (as .ci/run does).
func TestEtcdWatchScenario(t *testing.T) {
	testenv.Long(t)
	if testing.Short() {
		t.Skip("builds etcd and runs four 20 s scenarios")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root := buildServer(ctx, t, "bench/etcd/build-server.sh", "etcd-server", "STREAMBENCH_REQUIRE_ETCD")
	const resume = `start_revision: "{{last.header.revision + 1}}"`
	const persist = `, --data-dir, "../out/etcd-watch-data-{port}"`
	bin := buildBinary(t)
	for _, tc := range []struct {
		name, from, to string
		pass           bool
		detail         []string
	}{
		{"correct resume", "", "", true, nil},
		{"a resume that skips 20 revisions", resume, `start_revision: "{{last.header.revision + 21}}"`, false,
			[]string{"watchers failed: watchers/", "acknowledged writes of writers missing (header.revision "}},
		{"a resume that repeats the last revision", resume, `start_revision: "{{last.header.revision}}"`, false,
			[]string{"watchers failed: watchers/", "received twice ("}},
		{"a restart without persistence", persist, "", false,
			[]string{"watchers failed: watchers/", "acknowledged writes of writers missing (header.revision "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, v, stdout, err := runVariant(ctx, t, bin, root, "etcd-watch", tc.from, tc.to, "covers: watchers")
			if tc.pass && err != nil {
				t.Fatalf("run: %v\n%s", err, stdout)
			}
			t.Logf("covers: %s; %s", v.Actual, v.Detail)
			if v.Pass != tc.pass {
				t.Fatalf("covers: pass %v, want %v: %s: %s\n%s", v.Pass, tc.pass, v.Actual, v.Detail, stdout)
			}
			for _, d := range tc.detail {
				if !strings.Contains(v.Detail, d) {
					t.Errorf("covers detail lacks %q: %s", d, v.Detail)
				}
			}
			if cv := rep.Group("watchers").Covers; cv == nil || cv.Writes < 500 || cv.Started != 10 {
				t.Errorf("too little evidence: %+v", cv)
			}
			if !tc.pass && err == nil {
				t.Error("the run exited 0 with covers failing")
			}
		})
	}
}
