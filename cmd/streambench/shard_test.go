package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/streambench/streambench/reports"
)

// startServe starts `streambench serve` on a free loopback port and
// returns its address; the process is stopped (by its pid) at cleanup.
func startServe(t *testing.T, bin string, extra ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return a
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not say where it listens")
	}
	return ""
}

// TestShardedRunMergesExactly: four shard processes of one scenario
// against one `streambench serve`, started together by a barrier, merge
// into a report whose counts equal one unsharded run's, whose percentiles
// are those of the union of the shards' histograms, and which passes and
// fails exactly the assertions the unsharded run does.
func TestShardedRunMergesExactly(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs five processes")
	}
	dir := t.TempDir()
	bin := buildBinary(t)
	addr := startServe(t, bin)
	scen, err := filepath.Abs("testdata/sharded.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	at := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	const n = 4
	var wg sync.WaitGroup
	outs := make([]string, n)
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, bin, "run", "--no-progress", "--target", addr, "--insecure", "--shard", fmt.Sprintf("%d/%d", i, n),
				"--start-at", at, "--out", filepath.Join(dir, fmt.Sprintf("shard%d", i)), scen)
			out, _ := cmd.CombinedOutput()
			outs[i], codes[i] = string(out), cmd.ProcessState.ExitCode()
		}()
	}
	wg.Wait()
	for i := range n {
		if codes[i] != ExitPass {
			t.Fatalf("shard %d exited %d:\n%s", i, codes[i], outs[i])
		}
	}
	var paths []string
	for i := range n {
		paths = append(paths, filepath.Join(dir, fmt.Sprintf("shard%d", i), "report.json"))
	}
	merged := filepath.Join(dir, "merged")
	code, out, errs := cli(t, append([]string{"merge", "--out", merged}, paths...)...)
	if code != ExitFail { // the scenario's last assertion fails on every run
		t.Fatalf("merge exited %d, want %d\n%s\n%s", code, ExitFail, out, errs)
	}
	code, out, errs = cli(t, "run", "--no-progress", "--target", addr, "--insecure", "--out", filepath.Join(dir, "whole"), scen)
	if code != ExitFail {
		t.Fatalf("unsharded run exited %d, want %d\n%s\n%s", code, ExitFail, out, errs)
	}
	m, err := reports.Load(filepath.Join(merged, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := reports.Load(filepath.Join(dir, "whole", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var shards []*reports.Report
	for _, p := range paths {
		r, err := reports.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Shard == nil || r.Shard.StartAt.IsZero() || r.Shard.SkewSeconds < 0 || r.Shard.SkewSeconds > 1 {
			t.Errorf("%s: shard info %+v: want a barrier and a small, non-negative skew", p, r.Shard)
		}
		shards = append(shards, r)
	}
	if len(m.Shards) != n || len(m.Warnings) != 0 {
		t.Errorf("merged: %d shards, warnings %v", len(m.Shards), m.Warnings)
	}
	for _, wg := range whole.Groups {
		mg := m.Group(wg.Name)
		if mg == nil {
			t.Fatalf("merged report lacks group %s", wg.Name)
		}
		if mg.Clients != wg.Clients || mg.Streams.Opened != wg.Streams.Opened || mg.Streams.Ended != wg.Streams.Ended ||
			mg.Streams.Failed != wg.Streams.Failed || mg.Messages != wg.Messages || fmt.Sprint(mg.Ends) != fmt.Sprint(wg.Ends) {
			t.Errorf("group %s: merged %d clients, streams %+v, messages %+v, ends %v; unsharded %d, %+v, %+v, %v",
				wg.Name, mg.Clients, mg.Streams, mg.Messages, mg.Ends, wg.Clients, wg.Streams, wg.Messages, wg.Ends)
		}
		// The union of the shards' latencies, built value by value.
		union := hdrhistogram.New(1, 60_000_000, 3)
		for _, r := range shards {
			h, err := r.Group(wg.Name).Latency.Decode()
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range h.Distribution() {
				if b.Count > 0 {
					if err := union.RecordValues(b.To, b.Count); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		for _, q := range []float64{50, 90, 99, 99.9} {
			got, err := mg.Latency.Quantile(q)
			if err != nil {
				t.Fatal(err)
			}
			want := float64(union.ValueAtQuantile(q)) / 1000
			if !union.ValuesAreEquivalent(int64(got*1000), int64(want*1000)) {
				t.Errorf("group %s p%v: merged %vms, union of shards %vms", wg.Name, q, got, want)
			}
		}
	}
	if len(m.Assertions) != len(whole.Assertions) {
		t.Fatalf("merged judged %d assertions, unsharded %d", len(m.Assertions), len(whole.Assertions))
	}
	for i, v := range m.Assertions {
		if v.Name != whole.Assertions[i].Name || v.Pass != whole.Assertions[i].Pass {
			t.Errorf("assertion %q: merged pass=%v, unsharded pass=%v", v.Name, v.Pass, whole.Assertions[i].Pass)
		}
	}
	if !strings.Contains(out, "FAIL  pow.latency.p99 < 1us") {
		t.Errorf("unsharded summary lacks the failing assertion:\n%s", out)
	}
}
