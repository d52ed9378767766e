package assert

import "testing"

// TestKindPart: no_loss and no_duplicates quote the part of a violation
// end's detail that names their values, whichever kind came first.
func TestKindPart(t *testing.T) {
	const d = "3 violation(s), first duplicate: seq 7 again; first gap: seq 24 after 3: 4..23 missing (20 lost); first reorder: seq 2 after 24: went back; stream then ended: rpc error: code = Canceled"
	for _, tc := range []struct {
		kinds []string
		want  string
	}{
		{[]string{"gap"}, "gap: seq 24 after 3: 4..23 missing (20 lost)"},
		{[]string{"duplicate", "reorder"}, "duplicate: seq 7 again"},
		{[]string{"reorder"}, "reorder: seq 2 after 24: went back"},
		{[]string{"wrong_value"}, ""},
	} {
		if got := kindPart(d, tc.kinds); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.kinds, got, tc.want)
		}
	}
}
