package generic

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
)

// watchMethod resolves a method of testdata/watch.proto.
func watchMethod(t testing.TB, name string) protoreflect.MethodDescriptor {
	t.Helper()
	proto, err := filepath.Abs("../../internal/watchtest/watch.proto")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := Resolve(ctx, Source{Proto: []string{proto}}, "watchtest.v1.Watch/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// msg builds a message of type md from its JSON.
func msg(t testing.TB, md protoreflect.MessageDescriptor, js string) *dynamicpb.Message {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return m
}

// seqLog records what a sequence checker reports.
type seqLog struct {
	counts  map[record.Kind]uint64
	details []string
	values  []int64
}

func (l *seqLog) violate(k record.Kind, n uint64, detail string) {
	l.counts[k] += n
	if detail != "" {
		l.details = append(l.details, k.String()+": "+detail)
	}
}
func (l *seqLog) wants(record.Kind) bool { return true }
func (l *seqLog) seq(v int64)            { l.values = append(l.values, v) }

// events is a watch response carrying one event per revision.
func events(revs ...int) string {
	var es []string
	for _, r := range revs {
		es = append(es, fmt.Sprintf(`{"kv": {"key": "a2V5", "modRevision": "%d"}}`, r))
	}
	return `{"events": [` + strings.Join(es, ", ") + `]}`
}

// TestSequenceChecker: dense and increasing sequences, read through
// repeated fields (every event of a response, in order), from plain and
// string fields; gaps are lost values (named), repeats duplicates, going
// back reorders, in both modes; a response without a value is none.
func TestSequenceChecker(t *testing.T) {
	watch := watchMethod(t, "Watch").Output()
	disc := watchMethod(t, "Discover").Output()
	const rev = "events[].kv.mod_revision"
	for _, tc := range []struct {
		name      string
		out       protoreflect.MessageDescriptor
		seq       scenario.Sequence
		responses []string
		counts    map[record.Kind]uint64
		values    int
		details   []string
	}{
		{"dense batches pass", watch, scenario.Sequence{Path: rev},
			[]string{events(1, 2, 3), events(4), events(5, 6)}, nil, 6, nil},
		{"dense skipped range", watch, scenario.Sequence{Path: rev},
			[]string{events(1, 2, 3), events(24, 25)}, map[record.Kind]uint64{record.Gap: 20}, 5,
			[]string{"gap: events[].kv.mod_revision 24 after 3: 4..23 missing (20 lost)"}},
		{"dense one missing inside a batch", watch, scenario.Sequence{Path: rev},
			[]string{events(1, 3)}, map[record.Kind]uint64{record.Gap: 1}, 2,
			[]string{"gap: events[].kv.mod_revision 3 after 1: 2 missing (1 lost)"}},
		{"dense repeat across batches", watch, scenario.Sequence{Path: rev},
			[]string{events(1, 2, 3), events(3, 4)}, map[record.Kind]uint64{record.Duplicate: 1}, 5,
			[]string{"duplicate: events[].kv.mod_revision 3 again"}},
		{"dense going back", watch, scenario.Sequence{Path: rev},
			[]string{events(5, 6, 7), events(2)}, map[record.Kind]uint64{record.Reorder: 1}, 4,
			[]string{"reorder: events[].kv.mod_revision 2 after 7: went back"}},
		{"control responses carry no value", watch, scenario.Sequence{Path: rev},
			[]string{`{"created": true}`, events(1, 2), `{"header": {"revision": "9"}}`, events(3)}, nil, 3, nil},
		{"increasing allows gaps", watch, scenario.Sequence{Path: rev, Mode: scenario.SeqIncreasing},
			[]string{events(10, 15), events(40)}, nil, 3, nil},
		{"increasing repeat", watch, scenario.Sequence{Path: rev, Mode: scenario.SeqIncreasing},
			[]string{events(10, 15), events(15, 20)}, map[record.Kind]uint64{record.Duplicate: 1}, 4,
			[]string{"duplicate: events[].kv.mod_revision 15 again"}},
		{"increasing going back", watch, scenario.Sequence{Path: rev, Mode: scenario.SeqIncreasing},
			[]string{events(10, 15), events(12)}, map[record.Kind]uint64{record.Reorder: 1}, 3,
			[]string{"reorder: events[].kv.mod_revision 12 after 15: went back"}},
		{"repeated scalar", watch, scenario.Sequence{Path: "revisions[]"},
			[]string{`{"revisions": ["1", "2"]}`, `{"revisions": ["4"]}`}, map[record.Kind]uint64{record.Gap: 1}, 3,
			[]string{"gap: revisions[] 4 after 2: 3 missing (1 lost)"}},
		{"plain field", watch, scenario.Sequence{Path: "header.revision"},
			[]string{`{"header": {"revision": "1"}}`, `{"header": {"revision": "2"}}`}, nil, 2, nil},
		{"string versions", disc, scenario.Sequence{Path: "version_info", Mode: scenario.SeqIncreasing},
			[]string{`{"versionInfo": "1"}`, `{"versionInfo": "2"}`, `{"versionInfo": "9"}`, `{"versionInfo": "10"}`}, nil, 4, nil},
		{"string versions dense", disc, scenario.Sequence{Path: "version_info"},
			[]string{`{"versionInfo": "8"}`, `{"versionInfo": "9"}`, `{"versionInfo": "10"}`, `{"versionInfo": "11"}`}, nil, 4, nil},
		{"string version going back (a restart)", disc, scenario.Sequence{Path: "version_info", Mode: scenario.SeqIncreasing},
			[]string{`{"versionInfo": "1"}`, `{"versionInfo": "2"}`, `{"versionInfo": "1"}`}, map[record.Kind]uint64{record.Reorder: 1}, 3,
			[]string{`reorder: version_info "1" after "2": went back`}},
		{"string version repeated", disc, scenario.Sequence{Path: "version_info", Mode: scenario.SeqIncreasing},
			[]string{`{"versionInfo": "3"}`, `{"versionInfo": "3"}`}, map[record.Kind]uint64{record.Duplicate: 1}, 2,
			[]string{`duplicate: version_info "3" again`}},
		{"string dense gap", disc, scenario.Sequence{Path: "version_info"},
			[]string{`{"versionInfo": "1"}`, `{"versionInfo": "4"}`}, map[record.Kind]uint64{record.Gap: 2}, 2,
			[]string{`gap: version_info "4" after "1": "2".."3" missing (2 lost)`}},
		// "resume" starts a new stream of a client that resumes.
		{"a new stream resends the last version (xDS state of the world)", disc, scenario.Sequence{Path: "version_info", Mode: scenario.SeqIncreasing, Resend: true},
			[]string{`{"versionInfo": "3"}`, `{"versionInfo": "4"}`, "resume", `{"versionInfo": "4"}`, `{"versionInfo": "5"}`}, nil, 4, nil},
		{"a resend is a duplicate without resend", disc, scenario.Sequence{Path: "version_info", Mode: scenario.SeqIncreasing},
			[]string{`{"versionInfo": "3"}`, `{"versionInfo": "4"}`, "resume", `{"versionInfo": "4"}`}, map[record.Kind]uint64{record.Duplicate: 1}, 3,
			[]string{`duplicate: version_info "4" again`}},
		{"resend: going back on a new stream is still a reorder", disc, scenario.Sequence{Path: "version_info", Mode: scenario.SeqIncreasing, Resend: true},
			[]string{`{"versionInfo": "3"}`, `{"versionInfo": "4"}`, "resume", `{"versionInfo": "1"}`}, map[record.Kind]uint64{record.Reorder: 1}, 3,
			[]string{`reorder: version_info "1" after "4": went back`}},
		{"resend: a repeat within a stream is still a duplicate", disc, scenario.Sequence{Path: "version_info", Mode: scenario.SeqIncreasing, Resend: true},
			[]string{`{"versionInfo": "3"}`, "resume", `{"versionInfo": "3"}`, `{"versionInfo": "3"}`}, map[record.Kind]uint64{record.Duplicate: 1}, 3,
			[]string{`duplicate: version_info "3" again`}},
		{"a string that is no integer", disc, scenario.Sequence{Path: "version_info", Mode: scenario.SeqIncreasing},
			[]string{`{"versionInfo": "1"}`, `{"versionInfo": "v2"}`, `{"versionInfo": "2"}`}, map[record.Kind]uint64{record.WrongValue: 1}, 3,
			[]string{`wrong_value: sequence version_info is "v2", not an integer`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := resolveSeq(tc.out, tc.seq)
			if err != nil {
				t.Fatal(err)
			}
			c := seqChecker{spec: spec}
			log := &seqLog{counts: map[record.Kind]uint64{}}
			values := 0
			for _, r := range tc.responses {
				if r == "resume" {
					c.resume()
					continue
				}
				values += c.observe(msg(t, tc.out, r), log)
			}
			if values != tc.values {
				t.Errorf("%d values, want %d", values, tc.values)
			}
			for k, n := range log.counts {
				if n != tc.counts[k] {
					t.Errorf("%s: %d, want %d", k, n, tc.counts[k])
				}
			}
			for k, n := range tc.counts {
				if log.counts[k] != n {
					t.Errorf("%s: %d, want %d", k, log.counts[k], n)
				}
			}
			if strings.Join(log.details, "\n") != strings.Join(tc.details, "\n") {
				t.Errorf("details:\n%s\nwant:\n%s", strings.Join(log.details, "\n"), strings.Join(tc.details, "\n"))
			}
		})
	}
}

// TestSequencePaths: what resolving a sequence path refuses, and says.
func TestSequencePaths(t *testing.T) {
	watch := watchMethod(t, "Watch").Output()
	for _, tc := range []struct {
		path, want string
	}{
		{"events.kv.mod_revision", "events is a list; write events[] to read every element, in order"},
		{"events[].kv[].mod_revision", "kv is not a repeated field; [] reads every element of a list (remove it)"},
		{"events[].kv.labels[]", "labels is a map; a sequence is read in order"},
		{"events[].kv.key", "must be an integer field or a string holding integers; key is a bytes"},
		{"events[].kv", "kv is a message; the sequence is one of its fields"},
		{"events[].kv.mod_revison", "watchtest.v1.KeyValue has no field mod_revison; its fields: key, mod_revision, labels"},
		{"ratio", "ratio is a double"},
		{"created.x", "created is not a message, so it has no field x"},
		{"events[].kv.mod_revision", ""},
		{"events[].kv.modRevision", ""},
	} {
		_, err := resolveSeq(watch, scenario.Sequence{Path: tc.path})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.path, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.path, err, tc.want)
		}
	}
	if _, err := resolveSeq(watch, scenario.Sequence{Path: "header.revision", Mode: "monotonic"}); err == nil || !strings.Contains(err.Error(), "valid choices: dense or increasing") {
		t.Errorf("bad mode: %v", err)
	}
	// Other paths still cannot go through a list, and say who can.
	if _, err := fieldPath(watch, strings.Split("events.kv", ".")); err == nil || !strings.Contains(err.Error(), "expect.sequence can read every element of a list: events[]") {
		t.Errorf("fields path through a list: %v", err)
	}
	if _, err := fieldPath(watch, strings.Split("events[].kv", ".")); err == nil || !strings.Contains(err.Error(), "applies to expect.sequence only") {
		t.Errorf("fields path with []: %v", err)
	}
}

// TestMismatchNamesTypes: a string holding a number and the number do
// not read as equal.
func TestMismatchNamesTypes(t *testing.T) {
	for _, tc := range []struct{ got, want, msg string }{
		{`"1"`, `1`, `version_info is the string "1", want the number 1 (a template`},
		{`2`, `1`, `version_info is 2, want 1`},
		{`"b"`, `"a"`, `version_info is "b", want "a"`},
		{`true`, `"true"`, `version_info is the boolean true, want the string "true"`},
	} {
		if got := mismatch("version_info", tc.got, tc.want); !strings.HasPrefix(got, tc.msg) {
			t.Errorf("%s vs %s: %q, want %q...", tc.got, tc.want, got, tc.msg)
		}
	}
}

// TestSequenceAllocs: reading a batched sequence allocates nothing.
func TestSequenceAllocs(t *testing.T) {
	watch := watchMethod(t, "Watch").Output()
	spec, err := resolveSeq(watch, scenario.Sequence{Path: "events[].kv.mod_revision"})
	if err != nil {
		t.Fatal(err)
	}
	m := msg(t, watch, events(1, 2, 3, 4))
	c := seqChecker{spec: spec}
	out := nopOut{}
	next := int64(0)
	allocs := testing.AllocsPerRun(100, func() {
		c.next, c.seen = next, false
		c.observe(m, out)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per response", allocs)
	}
}

type nopOut struct{}

func (nopOut) violate(record.Kind, uint64, string) {}
func (nopOut) wants(record.Kind) bool              { return true }
func (nopOut) seq(int64)                           {}
