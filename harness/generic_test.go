package harness_test

import (
	"github.com/streambench/streambench"

	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/selfcheck"
	"github.com/streambench/streambench/targets/builtin"
)

// genericScenario writes src into a folder next to a copy of the
// reference .proto, so the scenario names it by a relative path.
func genericScenario(t *testing.T, src string) *scenario.Scenario {
	t.Helper()
	dir := t.TempDir()
	proto, err := os.ReadFile("../targets/proto/streambench.proto")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "streambench.proto"), proto, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "generic.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := streambench.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// genericSrc drives the reference Math service through the generic RPC
// (no generated stubs: the .proto compiled in process), all three stream
// shapes, with the expectations a user would write for a service of their
// own.
const genericSrc = `name: generic
seed: 4
duration: 2s
groups:
  - name: pow
    clients: 6
    call:
      method: streambench.v1.Math/Pow
      proto: [streambench.proto]
      data: {base: 2, count: 8, payload_bytes: 16, interval_nanos: 1000000}
      expect:
        count: 8
        sequence: seq
        timestamp: sent_unix_nano
        fields: [{path: payload, size: 16}]
  - name: sum
    clients: 4
    messages: 10
    call:
      method: streambench.v1.Math/Sum
      proto: [streambench.proto]
      data: {seq: "{{index}}", value: "{{index}}"}
      expect:
        count: 1
        fields: [{path: sum, equals: 45}, {path: count, equals: 10}]
  - name: sqrt
    clients: 4
    call:
      method: streambench.v1.Math/Sqrt
      proto: [streambench.proto]
      data: [{seq: 0, value: 4}, {seq: 1, value: 9}, {seq: 2, value: 16}]
      expect:
        count: 3
        sequence: seq
  - name: unsub
    clients: 2
    call:
      method: streambench.v1.Longlived/Unsubscribe
      proto: [streambench.proto]
      data: {id: 999999}
      expect:
        count: 1
        fields: [{path: found, equals: false}]
  - name: feed
    clients: 4
    call:
      method: streambench.v1.Longlived/Subscribe
      proto: [streambench.proto]
      data: {id: "{{client}}", from_seq: "{{last.seq + 1}}"}
      expect: {sequence: seq, timestamp: sent_unix_nano}
assert:
  - eof: clean
  - correct
  - no_loss
  - no_duplicates
  - errors == 0
  - pow.streams.completed > 5
  - sum.streams.completed > 3
  - sqrt.streams.completed > 3
  - feed.messages.received > 100
  - unsub.streams.completed > 10
`

func TestGenericCallsPassOnTheReferenceServers(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	sc := genericScenario(t, genericSrc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := streambench.Run(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		for _, g := range rep.Groups {
			t.Logf("%s: ends %v violations %v samples %+v", g.Name, g.Ends, g.Violations, g.Samples)
		}
		t.Fatalf("failed: %+v", rep.Failed())
	}
	if g := rep.Group("pow"); g.Messages.Received < 8*6 || g.Latency.Count == 0 {
		t.Errorf("pow: %+v", g.Messages)
	}
}

// TestGenericCallsCatchPlantedBugs: the same oracles as the reference
// drivers, through declared expectations: a Pow that ends early is a
// premature EOF; a Sum that drops its last value is a wrong value; a Pow
// that skips a seq is a gap.
func TestGenericCallsCatchPlantedBugs(t *testing.T) {
	t.Parallel() // asserts no leaks, so it runs beside the other in-process runs
	for _, tc := range []struct {
		bug, fails string
	}{
		{"pow_early_eof", "eof: clean"},
		{"sum_drops_last", "correct"},
		{"subscribe_skips_seq", "no_loss"},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			sc := genericScenario(t, genericSrc)
			bug, err := selfcheck.Lookup(tc.bug)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := streambench.Run(ctx, sc, selfcheck.Options(bug)...)
			if err != nil {
				t.Fatal(err)
			}
			failed := false
			for _, v := range rep.Failed() {
				failed = failed || v.Name == tc.fails
			}
			if !failed {
				t.Errorf("%s did not fail; failed: %+v", tc.fails, rep.Failed())
			}
		})
	}
}

// TestGenericCallErrorsNameTheLine: a method the .proto does not have, a
// request that does not fit the message, a field path that does not exist
// are exit-2 errors at the scenario's line, before any load — found by
// Load (what validate runs), not only once the target is up.
func TestGenericCallErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{"method: streambench.v1.Math/Pow", "method: streambench.v1.Math/Cube", "generic.yaml:8:15: groups[0].call.method: service streambench.v1.Math has no method Cube; its methods: Pow, Sum, Sqrt"},
		{"data: {base: 2,", "data: {bass: 2,", `generic.yaml:10:14: groups[0].call.data.bass: streambench.v1.PowRequest has no field bass; its fields: base, count`},
		{"data: {base: 2,", `data: {base: "{{last.nope}}",`, `generic.yaml:10:14: groups[0].call.data.base: {{last.nope}}: streambench.v1.PowResponse has no field nope`},
		{"sequence: seq\n        timestamp", "sequence: seqq\n        timestamp", "generic.yaml:13:19: groups[0].call.expect.sequence: sequence seqq: streambench.v1.PowResponse has no field seqq"},
		{"sequence: seq\n        timestamp", "sequence: {path: \"payload[].x\", mode: increasing}\n        timestamp", "generic.yaml:13:26: groups[0].call.expect.sequence.path: sequence payload[].x: payload is not a repeated field; [] reads every element of a list (remove it)"},
		{"sequence: seq\n        timestamp", "sequence: seq\n        data_field: nope\n        timestamp", "generic.yaml:14:21: groups[0].call.expect.data_field: data_field nope: streambench.v1.PowResponse has no field nope"},
		{"proto: [streambench.proto]\n      data: {base", "proto: [missing.proto]\n      data: {base", "groups[0].call.proto: compile missing.proto"},
		{`data: {seq: "{{index}}"`, `data: {seq: "{{indx}}"`, `groups[1].call.data: seq: {{indx}}: unknown variable "indx"`},
	} {
		src := strings.Replace(genericSrc, tc.from, tc.to, 1)
		if src == genericSrc {
			t.Fatalf("%q not in the scenario", tc.from)
		}
		dir := t.TempDir()
		proto, _ := os.ReadFile("../targets/proto/streambench.proto")
		_ = os.WriteFile(filepath.Join(dir, "streambench.proto"), proto, 0o644)
		path := filepath.Join(dir, "generic.yaml")
		_ = os.WriteFile(path, []byte(src), 0o644)
		var err error
		if sc, lerr := streambench.Load(path); lerr != nil {
			err = lerr
		} else {
			_, err = streambench.Run(context.Background(), sc, harness.WithDuration(time.Second))
		}
		if _, ok := scenario.AsErrors(err); !ok || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: err = %v, want scenario error %q", tc.from, tc.to, err, tc.want)
		}
	}
}

// TestBackendCountsLeaveOutTheReflectionLookup: a generic group resolved
// over server reflection on a target of several backends counts only its
// clients' streams per backend. The lookup is streambench's own stream,
// ended by a cancel, and was counted open on its backend for the whole run
// ("201 of 200 streams").
func TestBackendCountsLeaveOutTheReflectionLookup(t *testing.T) {
	const clients = 4
	var addrs []string
	for range 2 {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := builtin.New(builtin.Config{Introspection: true})
		if err := srv.Serve(lis); err != nil {
			t.Fatal(err)
		}
		defer srv.Close(time.Second)
		addrs = append(addrs, lis.Addr().String())
	}
	// Each client's one stream outlasts the run: open until the end.
	src := fmt.Sprintf(`name: own-streams
seed: 1
duration: 1500ms
target:
  insecure: true
  backends: {addresses: [%q, %q]}
groups:
  - name: pow
    clients: %d
    call:
      method: streambench.v1.Math/Pow
      data: {base: 1, count: 100000, interval_nanos: 10000000}
`, addrs[0], addrs[1], clients)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := streambench.Run(ctx, decode(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Backends == nil || len(rep.Backends.Windows) == 0 {
		t.Fatalf("no per-backend windows: %+v", rep.Backends)
	}
	opened := uint64(0)
	open := map[float64]int64{}
	for _, w := range rep.Backends.Windows {
		opened += w.Opened
		open[w.Offset] += w.Active
	}
	if want := rep.Groups[0].Streams.Opened; opened != want || want != clients {
		t.Errorf("backends opened %d streams, the group %d, want %d", opened, want, clients)
	}
	for off, n := range open {
		if n > clients {
			t.Errorf("at %.0fs the backends held %d streams open of %d clients' streams", off, n, clients)
		}
	}
}

// TestUnbuiltRequestsAreRunErrors: a request that cannot be built mid-run
// (text written into an integer field grows past int64 from the previous
// stream's sum) is an error of the run, in report.Errors and so in the
// summary, naming the group and why; the same group with a request that
// can always be built has none.
func TestUnbuiltRequestsAreRunErrors(t *testing.T) {
	dir := t.TempDir()
	proto, _ := os.ReadFile("../targets/proto/streambench.proto")
	_ = os.WriteFile(filepath.Join(dir, "streambench.proto"), proto, 0o644)
	for _, tc := range []struct {
		value, want string
	}{
		{`"{{index}}"`, ""},
		{`"9{{last.sum}}"`, "group sum: "},
	} {
		src := "name: unbuilt\nduration: 1s\ngraceful_stop: 1s\ngroups:\n  - name: sum\n    clients: 1\n    messages: 2\n    call:\n" +
			"      method: streambench.v1.Math/Sum\n      proto: [streambench.proto]\n      data: {seq: \"{{index}}\", value: " + tc.value + "}\n"
		path := filepath.Join(dir, "unbuilt.yaml")
		_ = os.WriteFile(path, []byte(src), 0o644)
		sc, err := streambench.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := streambench.Run(context.Background(), sc)
		if rep == nil {
			t.Fatal(err)
		}
		got := strings.Join(rep.Errors, "; ")
		if (err != nil) != (got != "") {
			t.Errorf("%s: Run's error %v, the report's %q", tc.value, err, got)
		}
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s: errors %s", tc.value, got)
		case tc.want != "" && (!strings.Contains(got, tc.want) || !strings.Contains(got, "could not be built")):
			t.Errorf("%s: errors %q, want %q ... could not be built", tc.value, got, tc.want)
		}
	}
}
