package scenario

import (
	"strings"
	"testing"
)

// TestSequenceForms: a sequence is a path (dense) or {path, mode}; both
// decode, and Marshal writes each back in its own form.
func TestSequenceForms(t *testing.T) {
	for _, tc := range []struct {
		name, expect string
		want         Sequence
		data         string
	}{
		{"short form", "sequence: seq", Sequence{Path: "seq"}, ""},
		{"etcd watch", "sequence: {path: \"events[].kv.mod_revision\", mode: increasing}\n        data_field: events",
			Sequence{Path: "events[].kv.mod_revision", Mode: SeqIncreasing}, "events"},
		{"xds version", "sequence:\n          path: version_info\n          mode: increasing",
			Sequence{Path: "version_info", Mode: SeqIncreasing}, ""},
		{"dense spelled out", "sequence: {path: seq, mode: dense}", Sequence{Path: "seq", Mode: SeqDense}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "name: s\nduration: 1s\ngroups:\n  - name: w\n    clients: 1\n    call:\n      method: a.B/C\n      expect:\n        " + tc.expect + "\n"
			s, err := Decode("f.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			e := s.Groups[0].Call.Expect
			if e.Sequence != tc.want || e.DataField != tc.data {
				t.Fatalf("decoded %+v data_field %q, want %+v %q", e.Sequence, e.DataField, tc.want, tc.data)
			}
			out, err := Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode("back.yaml", out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := back.Groups[0].Call.Expect; got.Sequence != tc.want || got.DataField != tc.data {
				t.Fatalf("round trip: %+v %q\n%s", got.Sequence, got.DataField, out)
			}
			if tc.want.Mode == "" && !strings.Contains(string(out), "sequence: "+tc.want.Path+"\n") {
				t.Errorf("short form not kept:\n%s", out)
			}
		})
	}
}

// TestSequenceDecodeErrors: a bad mode names the valid modes, an unknown
// key the valid keys, a mapping without path and a value of the wrong
// shape say what a sequence is; each at its line and column.
func TestSequenceDecodeErrors(t *testing.T) {
	const head = "name: s\nduration: 1s\ngroups:\n  - name: w\n    clients: 1\n    call:\n      method: a.B/C\n      expect:\n"
	const f = "groups[0].call.expect."
	for _, tc := range []struct {
		name, src string
		want      wantErr
	}{
		{"bad mode", "        sequence: {path: seq, mode: monotonic}\n",
			wantErr{"f.yaml:9:37", f + "sequence.mode", []string{`unknown sequence mode "monotonic"`, "valid choices: dense or increasing"}}},
		{"mode typo", "        sequence:\n          path: seq\n          mode: increasng\n",
			wantErr{"f.yaml:11:17", f + "sequence.mode", []string{`(did you mean "increasing"?)`}}},
		{"unknown key", "        sequence: {path: seq, order: increasing}\n",
			wantErr{"f.yaml:9:31", f + "sequence.order", []string{`unknown key "order"`, "valid keys: path, mode"}}},
		{"no path", "        sequence: {mode: increasing}\n",
			wantErr{"f.yaml:9:19", f + "sequence", []string{"path must be set"}}},
		{"a list", "        sequence: [seq]\n",
			wantErr{"f.yaml:9:19", f + "sequence", []string{"expected a field path or {path, mode}, got a list"}}},
		{"a number", "        sequence: 3\n",
			wantErr{"f.yaml:9:19", f + "sequence", []string{"expected a field path or {path, mode}"}}},
		{"data_field typo", "        data_feild: events\n",
			wantErr{"f.yaml:9:9", f + "data_feild", []string{`did you mean "data_field"?`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("f.yaml", []byte(head+tc.src))
			checkErrs(t, err, tc.want)
		})
	}
}
