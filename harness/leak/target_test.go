package leak

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// fakeGauge answers before, then after.
type fakeGauge struct {
	before, after map[string]int64
	n             int
}

func (*fakeGauge) Source() string { return "process" }
func (*fakeGauge) Where() string  { return "/proc/1" }
func (g *fakeGauge) Sample(context.Context) (map[string]int64, error) {
	g.n++
	if g.n == 1 {
		return g.before, nil
	}
	return g.after, nil
}

func TestTargetFiguresJudged(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after map[string]int64
		leaked        bool
	}{
		{"clean", map[string]int64{"threads": 8, "fds": 10, "rss_bytes": 1 << 20}, map[string]int64{"threads": 12, "fds": 12, "rss_bytes": 1 << 30}, false},
		{"fds leak", map[string]int64{"threads": 8, "fds": 10}, map[string]int64{"threads": 8, "fds": 15}, true},
		{"threads at the bound", map[string]int64{"threads": 20}, map[string]int64{"threads": 40}, false},
		{"threads leak", map[string]int64{"threads": 20}, map[string]int64{"threads": 41}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := TakeTargetBaseline(context.Background(), &fakeGauge{before: tc.before, after: tc.after})
			got := pollTarget(context.Background(), time.Now().Add(20*time.Millisecond), b)
			if got.Leaked != tc.leaked || len(got.Sources) != 1 || !got.Sources[0].Available {
				t.Fatalf("leaked %v, want %v: %+v", got.Leaked, tc.leaked, got)
			}
			if tc.leaked != (len(got.Grown()) > 0) {
				t.Errorf("Grown() = %q", got.Grown())
			}
		})
	}
}

func TestTargetBaselineUnavailable(t *testing.T) {
	b := TakeTargetBaseline(context.Background(), ProcGauge{Pid: 1 << 30})
	b.Unavailable("pprof", "no target.pprof given")
	got := b.judge(context.Background())
	if got.Leaked || len(got.Sources) != 2 || got.Sources[0].Available || got.Sources[1].Detail != "not available: no target.pprof given" {
		t.Fatalf("%+v", got)
	}
	b = TakeTargetBaseline(context.Background(), &fakeGauge{before: map[string]int64{"fds": 1}, after: map[string]int64{"fds": 100}})
	b.Drop("process", "restarted")
	if got := b.judge(context.Background()); got.Leaked || got.Sources[0].Detail != "not available: restarted" {
		t.Fatalf("a dropped source was judged: %+v", got)
	}
}

func TestProcGaugeReadsItself(t *testing.T) {
	m, err := ProcGauge{Pid: os.Getpid()}.Sample(context.Background())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if m["threads"] < 1 || m["fds"] < 3 || m["rss_bytes"] < 1<<20 {
		t.Fatalf("implausible figures: %v", m)
	}
}

func TestPprofGauge(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		want       int64
		err        bool
	}{
		{"profile", "goroutine profile: total 42\n12 @ 0x1\n", 200, 42, false},
		{"not a profile", "<html>hi</html>\n", 200, 0, true},
		{"not found", "404 page not found\n", 404, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/debug/pprof/goroutine" || r.URL.Query().Get("debug") != "1" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			m, err := PprofGauge{URL: srv.URL + "/"}.Sample(context.Background())
			if (err != nil) != tc.err || m["goroutines"] != tc.want {
				t.Fatalf("got %v, %v", m, err)
			}
		})
	}
}
