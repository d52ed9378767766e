package sig

import (
	"strings"
	"testing"
)

// TestSignificance: the U test calls apart two samples that do not overlap,
// and not two that interleave, or sides too small to ever be significant.
func TestSignificance(t *testing.T) {
	for _, tc := range []struct {
		a, b []float64
		want string
	}{
		{[]float64{10, 11, 12, 13, 14}, []float64{1, 2, 3, 4, 5}, "(p=0.008)"},
		{[]float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}, "(~ p="},
		{[]float64{10, 11, 12}, []float64{1, 2, 3}, "(~ n<4)"},
	} {
		if got := Of(tc.a, tc.b); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Of(%v, %v) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}
