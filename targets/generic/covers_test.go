package generic

import (
	"slices"
	"testing"
)

// TestRunSet: the watcher's set of log entries seen stays sorted,
// disjoint and merged whatever order entries arrive in, and answers
// membership.
func TestRunSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  []int32
		want [][2]int32
	}{
		{"in order", []int32{0, 1, 2, 3}, [][2]int32{{0, 3}}},
		{"a hole filled", []int32{0, 2, 1}, [][2]int32{{0, 2}}},
		{"interleaved writers", []int32{1, 0, 3, 2, 5, 4}, [][2]int32{{0, 5}}},
		{"gaps kept", []int32{0, 1, 5, 6, 9}, [][2]int32{{0, 1}, {5, 6}, {9, 9}}},
		{"backwards", []int32{9, 8, 7, 3}, [][2]int32{{3, 3}, {7, 9}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s runSet
			for _, x := range tc.add {
				if s.has(x) {
					t.Fatalf("%d in the set before it was added", x)
				}
				s.add(x)
				if !s.has(x) {
					t.Fatalf("%d not in the set after it was added", x)
				}
			}
			if !slices.Equal(s.runs, tc.want) {
				t.Errorf("runs %v, want %v", s.runs, tc.want)
			}
		})
	}
}

// TestRunsOf: values are listed as runs, at most coverFirst of them.
func TestRunsOf(t *testing.T) {
	for _, tc := range []struct {
		in   []int64
		want []string
	}{
		{nil, nil},
		{[]int64{16, 17, 18, 35}, []string{"16..18", "35"}},
		{[]int64{1, 3, 5, 7, 9, 11, 13}, []string{"1", "3", "5", "7", "9"}},
	} {
		if got := runsOf(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("runsOf(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
