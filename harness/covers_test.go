package harness_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/watchtest"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/generic"
)

// coversHead is a run against the watchtest store: writers Put, each
// acknowledged with the store's revision; groups of watchers added by
// each case watch from the start and resume from a template.
const coversHead = `name: covers
seed: 1
duration: 2s
target: {address: %q, insecure: true}
groups:
  - name: writers
    clients: 2
    pause: 4ms
    call:
      method: watchtest.kv.v1.KV/Put
      proto: [%[2]q]
      data: {key: "a2V5"}
`

// coversWatcher is one group of watchers resuming with start (a
// template), covering the writers.
const coversWatcher = `  - name: %s
    clients: 2
    reconnect: {base: 5ms, multiplier: 1.5, jitter: 0.2, max: 50ms}
    call:
      method: watchtest.kv.v1.Watch/Watch
      proto: [%q]
      data: {start_revision: %q}
      expect:
        covers: {group: writers, ack: header.revision, event: "events[].kv.mod_revision", from: header.revision}
`

// storeServer serves a watchtest store on loopback until the test ends.
func storeServer(t *testing.T, cutAfter int) (*watchtest.Store, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src := generic.Source{Proto: []string{watchtest.KVProto()}}
	put, err := generic.Resolve(ctx, src, "watchtest.kv.v1.KV/Put", nil)
	if err != nil {
		t.Fatal(err)
	}
	watch, err := generic.Resolve(ctx, src, "watchtest.kv.v1.Watch/Watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	st := watchtest.NewStore(watchtest.Services(put, watch))
	st.CutAfter = cutAfter
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	st.Register(gs)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); wg.Wait() })
	return st, lis.Addr().String()
}

// TestCoversOracle: through whole runs against a store in etcd's shape
// whose watch streams end every few responses (so every watcher resumes
// many times): watchers resuming from the last revision + 1 see every
// acknowledged write, through a restart that keeps the store too; a
// resume that skips 20 revisions, one that repeats the last revision,
// and a restart that loses the store's revisions each fail covers, naming
// the watcher, the revisions and the count; write_to_watch is measured.
func TestCoversOracle(t *testing.T) {
	t.Parallel()
	const resume = "{{last.header.revision + 1}}"
	for _, tc := range []struct {
		name string
		// start is the watchers' start_revision template.
		start string
		// restart, when set, restarts the store mid-run (at revision
		// 60), keeping its revisions or not.
		restart *bool
		pass    bool
		detail  []string
	}{
		{name: "resume from the last revision + 1", start: resume, pass: true},
		{name: "a restart that keeps the store", start: resume, restart: ptr(true), pass: true},
		{name: "a resume that skips 20 revisions", start: "{{last.header.revision + 21}}",
			detail: []string{"watchers/", "acknowledged writes of writers missing (header.revision ", " of 2 watchers failed"}},
		{name: "a resume that repeats the last revision", start: "{{last.header.revision}}",
			detail: []string{"watchers/", "received twice ("}},
		{name: "a restart that loses the store's revisions", start: resume, restart: ptr(false),
			detail: []string{"watchers/", "acknowledged writes of writers missing (header.revision 1", "2 of 2 watchers failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			store, addr := storeServer(t, 4)
			src := fmt.Sprintf(coversHead, addr, watchtest.KVProto()) + fmt.Sprintf(coversWatcher, "watchers", watchtest.KVProto(), tc.start) +
				"assert:\n  - covers: watchers\n  - watchers.write_to_watch.p99 < 1s\n"
			path := filepath.Join(t.TempDir(), "covers.yaml")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			sc, err := streambench.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			defer wg.Wait()
			if tc.restart != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Mid-run: once the writers have made 60 revisions.
					for store.Revision() < 60 && ctx.Err() == nil {
						time.Sleep(5 * time.Millisecond)
					}
					store.Restart(*tc.restart)
				}()
			}
			rep, err := streambench.Run(ctx, sc)
			if err != nil {
				t.Fatal(err)
			}
			v := verdictOf(t, rep, "covers: watchers")
			cv := rep.Group("watchers").Covers
			if cv == nil {
				t.Fatal("no covers in the report")
			}
			t.Logf("covers: %s: %s", v.Actual, v.Detail)
			if v.Pass != tc.pass {
				t.Fatalf("covers: pass %v, want %v: %s: %s", v.Pass, tc.pass, v.Actual, v.Detail)
			}
			for _, d := range tc.detail {
				if !strings.Contains(v.Detail, d) {
					t.Errorf("covers detail lacks %q:\n%s", d, v.Detail)
				}
			}
			if cv.Writes < 50 || cv.Started != 2 || cv.Covered == 0 {
				t.Errorf("too little evidence: %d writes, %d watchers started, %d covered", cv.Writes, cv.Started, cv.Covered)
			}
			if tc.pass {
				if cv.Missing+cv.Duplicates+cv.Reorders != 0 {
					t.Errorf("a passing oracle counted %d missing, %d duplicates, %d reorders", cv.Missing, cv.Duplicates, cv.Reorders)
				}
				if cv.WriteToWatch.Count == 0 {
					t.Error("no write_to_watch latency recorded")
				}
				if lat := verdictOf(t, rep, "watchers.write_to_watch.p99 < 1s"); !lat.Pass {
					t.Errorf("write_to_watch: %s %s", lat.Actual, lat.Detail)
				}
			} else {
				// The count named is the one counted.
				w := cv.Failing[0]
				want := fmt.Sprintf("watchers/%d (from %d): ", w.Client, w.From)
				if !strings.Contains(v.Detail, want) {
					t.Errorf("detail does not name watcher %d as %q:\n%s", w.Client, want, v.Detail)
				}
				if w.Missing > 0 && !strings.Contains(v.Detail, fmt.Sprintf("%d of %d acknowledged writes", w.Missing, w.Covered)) {
					t.Errorf("detail does not give the count %d of %d:\n%s", w.Missing, w.Covered, v.Detail)
				}
				if w.Duplicates > 0 && !strings.Contains(v.Detail, fmt.Sprintf("%d received twice (%s", w.Duplicates, w.DupFirst[0])) {
					t.Errorf("detail does not give %d duplicates from %s:\n%s", w.Duplicates, w.DupFirst[0], v.Detail)
				}
			}
		})
	}
}

// TestCoversNoEvidence: a covers oracle with nothing to judge fails and
// says why: no write acknowledged (the writers' method fails), no watcher
// started (the watchers' method fails), and a report without covers.
func TestCoversNoEvidence(t *testing.T) {
	t.Parallel()
	_, addr := storeServer(t, 0)
	for _, tc := range []struct {
		name, writer, watcher string
		want                  string
	}{
		{"no acknowledged write", "watchtest.kv.v1.KV/Nope", "watchtest.kv.v1.Watch/Watch", "no write was acknowledged to writers"},
		{"no watcher started", "watchtest.kv.v1.KV/Put", "watchtest.kv.v1.Watch/Nope", "no watcher received a response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// The method that fails is declared in a .proto the server
			// does not serve: every call ends Unimplemented.
			dir := t.TempDir()
			proto, err := os.ReadFile(watchtest.KVProto())
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Replace(string(proto), "rpc Put(PutRequest) returns (PutResponse);", "rpc Put(PutRequest) returns (PutResponse);\n  rpc Nope(PutRequest) returns (PutResponse);", 1)
			text = strings.Replace(text, "rpc Watch(WatchRequest) returns (stream WatchResponse);", "rpc Watch(WatchRequest) returns (stream WatchResponse);\n  rpc Nope(WatchRequest) returns (stream WatchResponse);", 1)
			pf := filepath.Join(dir, "kv.proto")
			if err := os.WriteFile(pf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			src := fmt.Sprintf(coversHead, addr, pf) + fmt.Sprintf(coversWatcher, "watchers", pf, "{{last.header.revision + 1}}") + "assert:\n  - covers: watchers\n"
			src = strings.Replace(src, "watchtest.kv.v1.KV/Put", tc.writer, 1)
			src = strings.Replace(src, "watchtest.kv.v1.Watch/Watch", tc.watcher, 1)
			src = strings.Replace(src, "duration: 2s", "duration: 500ms", 1)
			path := filepath.Join(dir, "covers.yaml")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			sc, err := streambench.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := streambench.Run(ctx, sc)
			if err != nil {
				t.Fatal(err)
			}
			v := verdictOf(t, rep, "covers: watchers")
			if v.Pass || !strings.Contains(v.Detail, tc.want) {
				t.Errorf("pass %v (%s: %s), want a failure saying %q", v.Pass, v.Actual, v.Detail, tc.want)
			}
		})
	}
}

// TestCoversScenarioErrors: a covers declaration naming an unknown group,
// or an ack path the writer's response type does not have, is the
// scenario's error (exit 2), at its file:line:column, naming the field
// and the valid choices, before any load.
func TestCoversScenarioErrors(t *testing.T) {
	t.Parallel()
	_, addr := storeServer(t, 0)
	for _, tc := range []struct {
		name, from, to string
		field          string
		want           []string
	}{
		{"unknown group", "covers: {group: writers,", "covers: {group: writter,", "groups[1].call.expect.covers.group",
			[]string{`unknown group "writter"`, `did you mean "writers"`, "valid choices: writers"}},
		{"no ack field", "ack: header.revision", "ack: header.rev", "groups[1].call.expect.covers.ack",
			[]string{"ack header.rev on watchtest.kv.v1.PutResponse", "has no field rev; its fields: revision"}},
		{"ack through a list", "ack: header.revision", `ack: "events[].kv"`, "groups[1].call.expect.covers.ack",
			[]string{"without []"}},
		{"event not on the watcher", "event: \"events[].kv.mod_revision\"", "event: \"events[].kv.revision\"", "groups[1].call.expect.covers.event",
			[]string{"watchtest.kv.v1.KeyValue has no field revision; its fields: key, mod_revision"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			src := fmt.Sprintf(coversHead, addr, watchtest.KVProto()) + fmt.Sprintf(coversWatcher, "watchers", watchtest.KVProto(), "{{last.header.revision + 1}}") + "assert:\n  - covers: watchers\n"
			if !strings.Contains(src, tc.from) {
				t.Fatalf("%q not in the scenario", tc.from)
			}
			src = strings.Replace(src, tc.from, tc.to, 1)
			path := filepath.Join(t.TempDir(), "covers.yaml")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			sc, err := streambench.Load(path)
			if err == nil {
				_, err = streambench.Run(ctx, sc)
			}
			errs, ok := scenario.AsErrors(err)
			if !ok || len(errs) == 0 {
				t.Fatalf("got %v, want a scenario error", err)
			}
			e := errs[0]
			line := strings.Count(src[:strings.Index(src, tc.to)], "\n") + 1
			if e.Field != tc.field || e.Pos.Line != line || e.Pos.Column == 0 {
				t.Errorf("error at %s %d:%d, want %s at line %d: %v", e.Field, e.Pos.Line, e.Pos.Column, tc.field, line, e)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Error(), w) {
					t.Errorf("%q lacks %q", e.Error(), w)
				}
			}
			if !strings.Contains(e.Error(), path+":") {
				t.Errorf("%q does not name the file", e.Error())
			}
		})
	}
}

// verdictOf is rep's verdict called name.
func verdictOf(t *testing.T, rep *reports.Report, name string) reports.Verdict {
	t.Helper()
	for _, v := range rep.Assertions {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no verdict %q among %v", name, rep.Assertions)
	return reports.Verdict{}
}
