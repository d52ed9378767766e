package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	channelzpb "google.golang.org/grpc/channelz/grpc_channelz_v1"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/streambench/streambench/reports"
)

// writeScenario writes a scenario whose command target is bin's reference
// servers (the streambench serve process) with extra top-level YAML.
func commandScenario(t *testing.T, bin, name, command, rest string) string {
	t.Helper()
	if command == "" {
		command = fmt.Sprintf("[%q, serve, --addr, \"127.0.0.1:{port}\"]", bin)
	}
	src := fmt.Sprintf("name: %s\nseed: 9\n", name) + "target:\n  command: " + command + "\n" + rest
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCommandTargetRidesOutProcessFaults: the reference servers run as a
// process streambench starts; a toxiproxy link sits in front of it; the
// process is severed from, killed and restarted, paused (SIGSTOP) and
// gracefully restarted. Streams end, clients recover, nothing is wrong or
// premature, and the process is stopped at the end (its exit and output
// file in the report).
func TestCommandTargetRidesOutProcessFaults(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs a process")
	}
	bin := buildBinary(t)
	path := commandScenario(t, bin, "cmdfaults", "", `duration: 9s
graceful_stop: 5s
link: toxiproxy
groups:
  - {name: pow, rpc: Math/Pow, clients: 20, connections: 2, messages: 10, interval: 20ms, idle: 0s}
  - {name: sqrt, rpc: Math/Sqrt, clients: 10, messages: 5, stream_timeout: 3s}
faults:
  - {at: 1s, kind: sever}
  - {at: 2s, for: 500ms, kind: server_restart}
  - {at: 4s, for: 1s, kind: pause}
  - {at: 6s, kind: graceful_restart, grace: 500ms}
assert:
  - eof: clean
  - correct
  - recovered
  - pow.streams.completed > 20
`)
	out := t.TempDir()
	code, stdout, stderr := cli(t, "run", "--no-progress", "--out", out, path)
	if code != ExitPass {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	rep, err := reports.Load(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := rep.TargetProcess
	if p == nil || p.Restarts != 2 || p.Pid == 0 || p.Exit != "exit status 0" || p.Log != filepath.Join(out, "target.log") {
		t.Fatalf("target process: %+v", p)
	}
	if b, err := os.ReadFile(p.Log); err != nil || !strings.Contains(string(b), "listening on 127.0.0.1:") {
		t.Errorf("target.log: %q, %v", b, err)
	}
	kinds := map[string]int{}
	for _, e := range rep.Events {
		kinds[e.Kind]++
	}
	for _, k := range []string{"server_stop", "server_start", "server_pause", "server_resume"} {
		if kinds[k] == 0 {
			t.Errorf("no %s event: %v", k, kinds)
		}
	}
	if rep.Group("pow").Ends["status:Unavailable"] == 0 {
		t.Errorf("no stream saw the faults: %v", rep.Group("pow").Ends)
	}
}

// TestCommandTargetThatDiesIsAHarnessError: a target process that exits by
// itself during the run is an event on the timeline and a harness error
// naming it with its last output (exit 3), not a leak-probe error.
func TestCommandTargetThatDiesIsAHarnessError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a process")
	}
	bin := buildBinary(t)
	command := fmt.Sprintf("[timeout, 2, %q, serve, --addr, \"127.0.0.1:{port}\"]", bin)
	path := commandScenario(t, bin, "cmddies", command, `duration: 5s
groups:
  - {name: pow, rpc: Math/Pow, clients: 4, messages: 5, interval: 10ms}
`)
	out := t.TempDir()
	start := time.Now()
	code, stdout, stderr := cli(t, "run", "--no-progress", "--out", out, path)
	if code != ExitHarness {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitHarness, stdout, stderr)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("took %v", took)
	}
	for _, w := range []string{"target process", "exited by itself", "streambench serve: stopping"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, "leak check: channelz") {
		t.Errorf("the dead target shows as a leak-probe error:\n%s", stderr)
	}
	rep, err := reports.Load(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range rep.Events {
		found = found || e.Kind == "target_exit"
	}
	if !found {
		t.Errorf("no target_exit event: %+v", rep.Events)
	}
}

// TestCommandTargetNeverReady: a process that never serves, or exits
// before it does, is exit 3 within the readiness bound, with its output.
func TestCommandTargetNeverReady(t *testing.T) {
	for _, tc := range []struct {
		name, command string
		want          []string
	}{
		{"never serves", `[sleep, "30"]` + "\n  env: [\"PORT={port}\"]\n  ready: {timeout: 1s}", []string{"not ready (grpc.health.v1 SERVING", "before the bound"}},
		{"exits first", `[sh, -c, "echo no such thing on {port}; exit 7"]` + "\n  ready: {tcp: true, timeout: 5s}", []string{"exited (exit status 7) before it was ready", "no such thing on"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := commandScenario(t, "", "never", tc.command, "duration: 5s\ngroups:\n  - {name: pow, rpc: Math/Pow, clients: 1}\n")
			start := time.Now()
			code, stdout, stderr := cli(t, "run", "--no-progress", "--out", t.TempDir(), path)
			if code != ExitHarness {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v", took)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestAddressTargetThatDiesIsSaid: an address target (a serve process
// streambench did not start) killed mid-run is a target_down event at its
// time and a harness error naming it and the streams that failed after it
// (exit 3), not a leak-probe error at the end.
func TestAddressTargetThatDiesIsSaid(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs a process")
	}
	bin := buildBinary(t)
	srv := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Wait(); close(done) }()
	t.Cleanup(func() { _ = srv.Process.Kill(); <-done })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr := regexp.MustCompile(`127\.0\.0\.1:\d+`).FindString(line)
	// The target is killed once it has served the run's streams: a timer
	// from here could fire before the run connects (its setup takes a
	// second or more under load), and the run would see no target at all.
	killed := make(chan time.Time, 1)
	stopKiller := killOnceServing(t, addr, 20, func() { killed <- time.Now(); _ = srv.Process.Kill() })
	out := t.TempDir()
	code, so, se := cli(t, "run", "--no-progress", "--duration", "5s", "--out", out, "--target", addr, "--insecure", mini)
	stopKiller()
	if code != ExitHarness {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitHarness, so, se)
	}
	for _, w := range []string{"target " + addr + " stopped answering at ", "connection refused", "streams failed from then on"} {
		if !strings.Contains(se, w) {
			t.Errorf("stderr lacks %q:\n%s", w, se)
		}
	}
	if strings.Contains(se, "leak check: channelz") {
		t.Errorf("a dead target shows as a leak-probe error:\n%s", se)
	}
	rep, err := reports.Load(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var at float64
	for _, e := range rep.Events {
		if e.Kind == "target_down" {
			at = e.Offset
		}
	}
	// Judge the event against the kill's own offset in the run.
	var killAt float64
	select {
	case k := <-killed:
		killAt = k.Sub(rep.Start).Seconds()
	default:
		t.Fatal("the run ended before the target was killed")
	}
	if at < killAt-0.05 || at > killAt+1.5 {
		t.Errorf("target_down at %.2fs, want soon after the kill at %.2fs: %+v", at, killAt, rep.Events)
	}
}

// TestAdhocCall: a one-line run of a call against a running service, as
// ghz runs one — from the .proto, and from the server's reflection — is a
// real run with the call's expectations (and a wrong expectation fails).
func TestAdhocCall(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs a process")
	}
	addr := startServe(t, buildBinary(t))
	proto, err := filepath.Abs("../../targets/proto/streambench.proto")
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"run", "--no-progress", "--target", addr, "--insecure", "--call", "streambench.v1.Math/Pow",
		"--data", `{"base": 3, "count": 5}`, "--call-duration", "1s", "--clients", "4"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // the refusal, in the command line's words
	}{
		{"from the proto", []string{"--proto", proto, "--expect-count", "5"}, ExitPass, ""},
		{"from reflection", []string{"--expect-count", "5"}, ExitPass, ""},
		{"wrong count", []string{"--expect-count", "6"}, ExitFail, ""},
		{"lockstep on a server stream", []string{"--lockstep"}, ExitBadInput, "--lockstep: "},
		{"no clients", []string{"--clients", "0"}, ExitBadInput, "--clients: must be 1 to"},
		{"unknown method", []string{"--call", "streambench.v1.Math/Nope"}, ExitBadInput, "--call: "},
		{"total without rps", []string{"-n", "50"}, ExitBadInput, "-n/--total 50: give --rps too"},
		{"rps and total", []string{"--rps", "100", "-n", "50", "--expect-count", "5"}, ExitPass, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			code, so, se := cli(t, append(append(append([]string(nil), base...), "--out", out), tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, so, se)
			}
			if code == ExitBadInput {
				if !strings.Contains(se, tc.want) || strings.Contains(se, "call.yaml") || strings.Contains(se, "groups[0]") {
					t.Errorf("the refusal does not say %q in the command line's words: %s", tc.want, se)
				}
				return
			}
			rep, err := reports.Load(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if g := rep.Group("call"); g == nil || g.Streams.Ended == 0 || !strings.Contains(rep.Scenario.Source, "streambench.v1.Math/Pow") {
				t.Errorf("report: %+v", rep.Groups)
			}
			if slices.Contains(tc.args, "-n") {
				// 50 streams at 100/s: exactly 50 scheduled, in 0.5 s.
				if a := rep.Group("call").Arrival; a == nil || a.Scheduled != 50 || rep.Scenario.DurationSeconds != 0.5 {
					t.Errorf("-n 50 --rps 100: arrival %+v, duration %v", a, rep.Scenario.DurationSeconds)
				}
			}
		})
	}
	if code, _, se := cli(t, "run", "--call", "x", "scenarios/smoke.yaml"); code != ExitBadInput || !strings.Contains(se, "not both") {
		t.Errorf("a call and a file: exit %d: %s", code, se)
	}
}

// killOnceServing polls the channelz of the streambench serve process at
// addr and calls kill once the server has started calls calls of its own
// clients (the polls themselves not counted), or never. The returned stop
// ends the polling and waits for it.
func killOnceServing(t *testing.T, addr string, calls int64, kill func()) (stop func()) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cz := channelzpb.NewChannelzClient(cc)
		for polls := int64(1); ; polls++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			resp, err := cz.GetServers(ctx, &channelzpb.GetServersRequest{})
			if err != nil || len(resp.GetServer()) == 0 {
				continue
			}
			if resp.GetServer()[0].GetData().GetCallsStarted()-polls >= calls {
				kill()
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
		_ = cc.Close()
	}
}
