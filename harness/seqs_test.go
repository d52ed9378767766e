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
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/internal/watchtest"
	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/targets/generic"
)

// seqsSrc watches a server in etcd's shape (three events per response
// under a global revision, created and progress responses without
// events) and one in xDS's (string versions, responses without a
// version), each correct and with a planted bug.
const seqsSrc = `name: seqs
seed: 1
duration: 1500ms
target: {address: %q, insecure: true}
groups:
  - name: watch
    clients: 2
    call:
      method: watchtest.v1.Watch/Watch
      proto: [%[2]q]
      data: {behavior: dense, start_revision: 1}
      expect:
        sequence: "events[].kv.mod_revision"
  - name: watch_sparse
    clients: 1
    call:
      method: watchtest.v1.Watch/Watch
      proto: [%[2]q]
      data: {behavior: sparse, step: 5}
      expect:
        sequence: {path: "events[].kv.mod_revision", mode: increasing}
        data_field: events
  - name: watch_skip
    clients: 1
    call:
      method: watchtest.v1.Watch/Watch
      proto: [%[2]q]
      data: {behavior: skip}
      expect:
        sequence: "events[].kv.mod_revision"
  - name: watch_repeat
    clients: 1
    call:
      method: watchtest.v1.Watch/Watch
      proto: [%[2]q]
      data: {behavior: repeat}
      expect:
        sequence: "events[].kv.mod_revision"
  - name: xds
    clients: 1
    call:
      method: watchtest.v1.Watch/Discover
      proto: [%[2]q]
      data: {behavior: plain}
      expect:
        sequence: {path: version_info, mode: increasing}
        data_field: version_info
  - name: xds_back
    clients: 1
    call:
      method: watchtest.v1.Watch/Discover
      proto: [%[2]q]
      data: {behavior: back}
      expect:
        sequence: {path: version_info, mode: increasing}
        data_field: version_info
assert:
  - no_loss: watch
  - no_duplicates: watch
  - no_loss: watch_sparse
  - no_duplicates: watch_sparse
  - no_loss: watch_skip
  - no_duplicates: watch_repeat
  - no_loss: watch_repeat
  - no_duplicates: xds
  - correct: xds
  - no_duplicates: xds_back
`

// TestSequencesInRealShapes: through the whole run, against a gRPC
// server of our own on loopback: correct watches (dense, and increasing
// with gaps) and versions pass, and their control responses are not
// messages received; a watch that skips 20 revisions fails no_loss
// naming them, one that repeats a revision fails no_duplicates, and
// versions going back (a restart) fail no_duplicates.
func TestSequencesInRealShapes(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	md, err := generic.Resolve(ctx, generic.Source{Proto: []string{watchtest.Proto()}}, "watchtest.v1.Watch/Watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := watchtest.New(md.Parent().(protoreflect.ServiceDescriptor))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	srv.Register(gs)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = gs.Serve(lis) }()
	defer func() { gs.Stop(); wg.Wait() }()

	path := filepath.Join(t.TempDir(), "seqs.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(seqsSrc, lis.Addr().String(), watchtest.Proto())), 0o644); err != nil {
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
	verdicts := map[string]reports.Verdict{}
	for _, v := range rep.Assertions {
		verdicts[v.Name] = v
	}
	for _, tc := range []struct {
		name   string
		pass   bool
		detail string
	}{
		{"no_loss: watch", true, ""},
		{"no_duplicates: watch", true, ""},
		{"no_loss: watch_sparse", true, ""},
		{"no_duplicates: watch_sparse", true, ""},
		{"no_loss: watch_skip", false, "e.g. watch_skip: gap: events[].kv.mod_revision 36 after 15: 16..35 missing (20 lost)"},
		{"no_duplicates: watch_repeat", false, "e.g. watch_repeat: duplicate: events[].kv.mod_revision 15 again"},
		{"no_loss: watch_repeat", true, ""},
		{"no_duplicates: xds", true, ""},
		{"correct: xds", true, ""},
		{"no_duplicates: xds_back", false, `e.g. xds_back: reorder: version_info "1" after "9": went back`},
	} {
		v, ok := verdicts[tc.name]
		switch {
		case !ok:
			t.Errorf("%s: no verdict", tc.name)
		case v.Pass != tc.pass || !strings.Contains(v.Detail, tc.detail):
			t.Errorf("%s: pass %v (%s: %s), want pass %v with %q", tc.name, v.Pass, v.Actual, v.Detail, tc.pass, tc.detail)
		}
	}
	// Control responses are not messages received: the correct watch
	// received no more responses than the server sent with events.
	for _, g := range []struct{ group, behavior string }{{"watch", "dense"}, {"xds", "plain"}} {
		c := srv.Counts(g.behavior)
		got := rep.Group(g.group).Messages.Received
		if got == 0 || got > uint64(c.Data.Load()) || c.Control.Load() == 0 {
			t.Errorf("%s: received %d; the server sent %d data and %d control responses", g.group, got, c.Data.Load(), c.Control.Load())
		}
	}
}
