package testenv

import (
	"testing"
)

func TestLong(t *testing.T) {
	for _, tt := range []struct {
		value   string
		skipped bool
	}{{"", true}, {"0", true}, {"true", true}, {"1", false}} {
		t.Run("STREAMBENCH_LONG="+tt.value, func(t *testing.T) {
			t.Setenv(LongEnv, tt.value)
			var skipped bool
			// A test of its own, so the skip ends it and not this one.
			t.Run("inner", func(t *testing.T) {
				defer func() { skipped = t.Skipped() }()
				Long(t)
			})
			if skipped != tt.skipped {
				t.Errorf("skipped = %v, want %v", skipped, tt.skipped)
			}
		})
	}
}
