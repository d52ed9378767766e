package scenario

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{
		"0": 0, "256": 256, "256B": 256, "1KB": 1000, "1MB": 1_000_000, "2GB": 2_000_000_000,
		"4KiB": 4096, "1MiB": 1 << 20, "1GiB": 1 << 30, "-1": -1, "+5B": 5,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "B", "1.5KiB", "4kb", "4 KiB", "1TiB", "0x10", "1_000", "99999999999GiB", "9223372036854775808"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		} else if !strings.Contains(err.Error(), "bad size") {
			t.Errorf("ParseSize(%q): %v", in, err)
		}
	}
}

func TestSizeString(t *testing.T) {
	for s, want := range map[Size]string{
		0: "0B", 100: "100B", 1000: "1KB", 1024: "1KiB", 4 << 20: "4MiB", 3 << 30: "3GiB",
		2_000_000: "2MB", 1_024_000: "1000KiB", -2048: "-2KiB", math.MaxInt64: "9223372036854775807B",
	} {
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(s), got, want)
		}
		if back, err := ParseSize(s.String()); err != nil || back != s {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s.String(), back, err, int64(s))
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]Rate{
		"200/s": 200, "12000/m": 200, "5/ms": 5000, "1/h": 1.0 / 3600, "100": 100, "2.5": 2.5,
		"0.5/s": 0.5, ".5/s": 0.5, "1e3/s": 1000, "-1/s": -1, "0": 0,
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/s", "fast", "5/x", "5/", "5/sec", "inf", "NaN/s", "0x10/s", "1e400/s", "1e308/ms", "5 /s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) succeeded", in)
		} else if !strings.Contains(err.Error(), "bad rate") {
			t.Errorf("ParseRate(%q): %v", in, err)
		}
	}
}

func TestRateString(t *testing.T) {
	for r, want := range map[Rate]string{
		200: "200/s", 0: "0/s", 2.5: "2.5/s", 1.0 / 60: "1/m", 1.0 / 3600: "1/h", 0.3: "0.3/s",
		1.0 / 7: "0.14285714285714285/s", 1e300: "1e+300/s", 1e21: "1e+21/s", 0.0001: "0.0001/s", 1.0 / 1800: "2/h", 1e6: "1000000/s", -0.25: "-0.25/s",
	} {
		if got := r.String(); got != want {
			t.Errorf("Rate(%v).String() = %q, want %q", float64(r), got, want)
		}
		if back, err := ParseRate(r.String()); err != nil || back != r {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", r.String(), back, err, float64(r))
		}
	}
	if Rate(7).PerSecond() != 7 {
		t.Error("PerSecond")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "10s": 10 * time.Second, "1m30s": 90 * time.Second, "250ms": 250 * time.Millisecond, "-5s": -5 * time.Second,
	} {
		got, err := parseDuration(in)
		if err != nil || got.D() != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"10": "a number needs a unit", "": "want a Go duration", "10 s": "want a Go duration", "1d": "want a Go duration",
	} {
		if _, err := parseDuration(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseDuration(%q): %v, want %q", in, err, msg)
		}
	}
}
