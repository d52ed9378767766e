package testenv

import (
	"flag"
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

// TestParallel: Parallel sets -test.parallel's default, and a value set
// before it (as a -parallel on the command line is) wins.
func TestParallel(t *testing.T) {
	f := flag.Lookup("test.parallel")
	was := f.Value.String()
	t.Cleanup(func() { _ = flag.Set("test.parallel", was) })
	explicit := false
	flag.Visit(func(v *flag.Flag) { explicit = explicit || v.Name == "test.parallel" })
	if !explicit {
		Parallel(7)
		if got := f.Value.String(); got != "7" {
			t.Errorf("-test.parallel %s after Parallel(7), want 7", got)
		}
	}
	if err := flag.Set("test.parallel", "3"); err != nil {
		t.Fatal(err)
	}
	Parallel(9)
	if got := f.Value.String(); got != "3" {
		t.Errorf("-test.parallel %s after a set 3 and Parallel(9), want 3", got)
	}
}
