package testenv

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
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

// TestIsolatedChild is what TestIsolate runs in child processes: it
// passes, fails or skips as the environment tells it, and only there. Its
// subtests are for isolating one of them.
func TestIsolatedChild(t *testing.T) {
	isolated := os.Getenv(IsolateEnv)
	switch {
	case isolated == t.Name():
		switch os.Getenv("TESTENV_CHILD") {
		case "fail":
			t.Fatal("planted failure")
		case "skip":
			t.Skip("planted skip")
		case "hang":
			time.Sleep(time.Minute)
		case "short":
			if !testing.Short() {
				t.Fatal("-test.short did not reach the child")
			}
		}
		return
	case !strings.HasPrefix(isolated, t.Name()+"/"):
		t.Skip("runs only as TestIsolate's child")
	}
	for _, sub := range []string{"a b", "a.b"} {
		t.Run(sub, func(t *testing.T) {
			if isolated != t.Name() {
				t.Fatalf("%s ran beside %s, the one isolated", t.Name(), isolated)
			}
			if os.Getenv("TESTENV_CHILD") == "fail sub" {
				t.Fatal("planted failure in " + t.Name())
			}
		})
	}
}

// TestIsolate: a child that passes or skips is fine; one that fails, runs
// past its deadline or matches no test is an error naming the test, with
// the child's output; a subtest runs alone in its child, its name matched
// exactly (a.b is not a regular expression there).
func TestIsolate(t *testing.T) {
	for _, tt := range []struct {
		name, child, test string
		timeout           time.Duration
		want              string // "" when no error is wanted
		flags             []string
	}{
		{"flags", "short", "TestIsolatedChild", time.Minute, "", []string{"-test.short"}},
		{"flags missing", "short", "TestIsolatedChild", time.Minute, "did not reach the child", nil},
		{"passes", "pass", "TestIsolatedChild", time.Minute, "", nil},
		{"skips", "skip", "TestIsolatedChild", time.Minute, "", nil},
		{"fails", "fail", "TestIsolatedChild", time.Minute, "planted failure", nil},
		{"hangs", "hang", "TestIsolatedChild", 2 * time.Second, "TestIsolatedChild, in a process of its own", nil},
		{"no such test", "pass", "TestNoSuchThing", time.Minute, "did not run", nil},
		{"a subtest", "pass", "TestIsolatedChild/a_b", time.Minute, "", nil},
		{"a subtest fails", "fail sub", "TestIsolatedChild/a.b", time.Minute, "planted failure in TestIsolatedChild/a.b", nil},
		{"no such subtest", "pass", "TestIsolatedChild/a", time.Minute, "did not run", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			out, err := runIsolated(ctx, tt.test, tt.flags, []string{"TESTENV_CHILD=" + tt.child})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if got, want := skipped(out, tt.test), tt.child == "skip"; err == nil && got != want {
				t.Errorf("skipped %v, want %v:\n%s", got, want, out)
			}
		})
	}
}
