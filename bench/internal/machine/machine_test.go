package machine

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestLoadAverage(t *testing.T) {
	got := LoadAverage()
	if runtime.GOOS != "linux" {
		if got != "unknown" {
			t.Logf("load average %q off Linux", got)
		}
		return
	}
	f := strings.Fields(got)
	if len(f) != 3 {
		t.Fatalf("LoadAverage() = %q, want three figures", got)
	}
	for _, s := range f {
		if v, err := strconv.ParseFloat(s, 64); err != nil || v < 0 {
			t.Fatalf("LoadAverage() = %q: %q is not a load", got, s)
		}
	}
}
