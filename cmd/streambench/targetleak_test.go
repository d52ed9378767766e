package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
)

// freePort is a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestCommandTargetLeakEvidence: a command target (streambench serve)
// gives its /proc figures and, with --pprof and target.pprof, its
// goroutine count. A clean target passes `leaks: none` with every figure
// in the report; the planted bug sqrt_leaks_goroutine (one goroutine left
// per Sqrt stream, invisible to channelz) fails it with the figures.
func TestCommandTargetLeakEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := buildBinary(t)
	for _, tc := range []struct {
		name   string
		faulty string
		code   int
	}{
		{"clean", "", ExitPass},
		{"leaks goroutines", "sqrt_leaks_goroutine", ExitFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// {pprof_port}: a second free port streambench picks, in the
			// argv and the pprof URL alike.
			argv := fmt.Sprintf("[%q, serve, --addr, \"127.0.0.1:{port}\", --pprof, \"127.0.0.1:{pprof_port}\"", bin)
			if tc.faulty != "" {
				argv += ", --faulty, " + tc.faulty
			}
			argv += "]"
			path := commandScenario(t, bin, "tleak", argv, `  pprof: "http://127.0.0.1:{pprof_port}"
duration: 2s
groups:
  - {name: sqrt, rpc: Math/Sqrt, clients: 10, messages: 5, interval: 5ms}
assert:
  - correct
  - leaks: {settle: 3s}
`)
			out := t.TempDir()
			code, stdout, stderr := cli(t, "run", "--no-progress", "--out", out, path)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, stdout, stderr)
			}
			rep, err := reports.Load(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			tl := rep.Leaks.Target
			if tl == nil {
				t.Fatal("no target evidence in the report")
			}
			avail := map[string]bool{}
			for _, s := range tl.Sources {
				avail[s.Name] = s.Available
			}
			if !avail["channelz"] || !avail["process"] || !avail["pprof"] {
				t.Errorf("sources: %+v", tl.Sources)
			}
			figs := map[string]reports.TargetFigure{}
			for _, f := range tl.Figures {
				figs[f.Source+" "+f.Name] = f
			}
			for _, k := range []string{"process threads", "process fds", "process rss_bytes", "pprof goroutines"} {
				if _, ok := figs[k]; !ok {
					t.Errorf("no %s figure: %+v", k, tl.Figures)
				}
			}
			g := figs["pprof goroutines"]
			if tc.faulty == "" {
				if tl.Leaked || g.Exceeded {
					t.Errorf("clean target judged leaking: %+v", tl.Figures)
				}
				return
			}
			// Every stream the run opened left one heartbeat goroutine.
			if !tl.Leaked || !g.Exceeded || g.After-g.Before < 50 {
				t.Errorf("the goroutine leak was not caught: %+v", g)
			}
			if !strings.Contains(stdout, "target: pprof goroutines:") || !strings.Contains(stdout, "after teardown (allowed growth 10)") {
				t.Errorf("the verdict does not give the figures:\n%s", stdout)
			}
		})
	}
}
