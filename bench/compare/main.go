// Command compare runs streambench side by side with its two anchors on the
// same reference server over TCP loopback: (a) bench/plain, a generated-stub
// grpc-go client loop that measures nothing, (b) `streambench run --target`
// and (c) ghz v0.121.0. For every workload (RPC × messages per stream ×
// concurrent streams) it runs the three alternately, -reps times, and
// prints calls/s, messages/s, client CPU and peak RSS of each, with the
// paired ratios streambench/plain and streambench/ghz; results go to
// -out as JSON.
//
// Run it from the repository root:
//
//	go run ./bench/compare                      # defaults: 3 s runs, 3 repetitions, ~8 min
//	go run ./bench/compare -duration 10s -reps 5 -rpcs Pow,Sqrt -concurrency 50
//
// All traffic stays on 127.0.0.1; every child is bounded by a timeout and
// killed when compare exits.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	runchild "github.com/streambench/streambench/bench/internal/child"
	"github.com/streambench/streambench/bench/internal/machine"
)

const ghzModule = "github.com/bojand/ghz/cmd/ghz@v0.121.0"

type workload struct {
	RPC         string `json:"rpc"`
	Messages    int    `json:"messages"`
	Concurrency int    `json:"concurrency"`
}

func (w workload) String() string {
	return fmt.Sprintf("%s/%d msgs/c%d", w.RPC, w.Messages, w.Concurrency)
}

// base is Pow's base: 2^63 overflows int64, so long streams use 1.
func (w workload) base() int64 {
	if w.Messages > 62 {
		return 1
	}
	return 2
}

// measurement is one client run.
type measurement struct {
	Workload   workload `json:"workload"`
	Tool       string   `json:"tool"`
	Rep        int      `json:"rep"`
	Calls      float64  `json:"calls"`
	Messages   float64  `json:"messages"`
	Errors     float64  `json:"errors"`
	Seconds    float64  `json:"seconds"`
	CallsPS    float64  `json:"calls_per_s"`
	MsgsPS     float64  `json:"messages_per_s"`
	CPUSeconds float64  `json:"client_cpu_s"`
	CPUPerMsg  float64  `json:"client_cpu_us_per_message"`
	MaxRSSMiB  float64  `json:"client_peak_rss_mib"`
	ServerCPU  float64  `json:"server_cpu_s"`
	Wall       float64  `json:"wall_s"`
	Note       string   `json:"note,omitempty"`
	Err        string   `json:"error,omitempty"`
}

type config struct {
	duration    time.Duration
	reps        int
	rpcs        []string
	messages    []int
	concurrency []int
	tools       []string
	rate        string
	out         string
	ghz         string
	keep        bool
}

func main() {
	var (
		c                        config
		rpcs, msgs, concs, tools string
	)
	flag.DurationVar(&c.duration, "duration", 3*time.Second, "length of each client run")
	flag.IntVar(&c.reps, "reps", 3, "repetitions of each workload (the three clients alternate within each)")
	flag.StringVar(&rpcs, "rpcs", "Subscribe,Pow,Sum,Sqrt", "RPCs to run")
	flag.StringVar(&msgs, "messages", "10,1000", "messages per stream")
	flag.StringVar(&concs, "concurrency", "1,50", "concurrent streams")
	flag.StringVar(&tools, "tools", "plain,streambench,ghz", "clients to run: plain, streambench (generated-stub drivers), generic (streambench's generic driver: dynamic messages from the .proto), ghz")
	flag.StringVar(&c.rate, "rate", "10000/s", "the server's Subscribe feed rate")
	flag.StringVar(&c.out, "out", "bench/results.json", "where to write the results (\"\" = nowhere)")
	flag.StringVar(&c.ghz, "ghz", "", "ghz binary (default: go install "+ghzModule+" into the user cache)")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary folder (binaries, scenarios, reports)")
	flag.Parse()
	c.rpcs = splitList(rpcs)
	c.tools = splitList(tools)
	var err error
	if c.messages, err = intList(msgs); err == nil {
		c.concurrency, err = intList(concs)
	}
	if err == nil && (c.reps < 1 || c.duration <= 0) {
		err = errors.New("-reps must be >= 1 and -duration > 0")
	}
	for _, r := range c.rpcs {
		if err == nil && !slices.Contains([]string{"Subscribe", "Pow", "Sum", "Sqrt"}, r) {
			err = fmt.Errorf("-rpcs: unknown RPC %q", r)
		}
	}
	for _, t := range c.tools {
		if err == nil && !slices.Contains([]string{"plain", "streambench", "generic", "ghz"}, t) {
			err = fmt.Errorf("-tools: unknown client %q", t)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		stop()
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, c config) error {
	if _, err := os.Stat("targets/proto/streambench.proto"); err != nil {
		return errors.New("run from the repository root (targets/proto/streambench.proto not found)")
	}
	tmp, err := os.MkdirTemp("", "streambench-compare-")
	if err != nil {
		return err
	}
	if c.keep {
		fmt.Fprintln(os.Stderr, "compare: temporary folder", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	sb, plain := filepath.Join(tmp, "streambench"), filepath.Join(tmp, "plain")
	for bin, pkg := range map[string]string{sb: "./cmd/streambench", plain: "./bench/plain"} {
		if err := command(ctx, 5*time.Minute, "go", "build", "-o", bin, pkg); err != nil {
			return fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	if slices.Contains(c.tools, "ghz") && c.ghz == "" {
		if c.ghz, err = installGhz(ctx); err != nil {
			return err
		}
	}

	host := describeMachine()
	loadBefore := machine.LoadAverage()
	fmt.Printf("machine: %s\nload average before: %s\n", host, loadBefore)

	srv, err := startServer(ctx, sb, c.rate)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Printf("server: %s (streambench serve, feed %s)\n\n", srv.addr, c.rate)

	var all []measurement
	for _, rpc := range c.rpcs {
		for _, m := range c.messages {
			for _, conc := range c.concurrency {
				w := workload{RPC: rpc, Messages: m, Concurrency: conc}
				for rep := range c.reps {
					// Rotate the order so no client always runs first.
					for i := range c.tools {
						tool := c.tools[(i+rep)%len(c.tools)]
						if ctx.Err() != nil {
							return ctx.Err()
						}
						if tool == "streambench" && rpc == "Subscribe" && m != c.messages[len(c.messages)-1] {
							continue // see note(): streambench subscriptions last the whole run
						}
						r := measure(ctx, c, tmp, srv, w, tool, rep, sb, plain)
						all = append(all, r)
						fmt.Fprintf(os.Stderr, "  %-24s rep %d %-11s %9.0f calls/s %10.0f msgs/s cpu %6.2fs rss %6.1f MiB %s\n",
							w, rep+1, tool, r.CallsPS, r.MsgsPS, r.CPUSeconds, r.MaxRSSMiB, r.Err)
					}
				}
			}
		}
	}
	loadAfter := machine.LoadAverage()
	fmt.Printf("load average after: %s\n\n", loadAfter)
	sum := summarize(all, c.tools)
	printTable(os.Stdout, sum)
	if c.out == "" {
		return nil
	}
	res := map[string]any{
		"machine":             host,
		"load_average_before": loadBefore,
		"load_average_after":  loadAfter,
		"command":             strings.Join(os.Args, " "),
		"duration":            c.duration.String(),
		"reps":                c.reps,
		"feed_rate":           c.rate,
		"date":                time.Now().UTC().Format(time.RFC3339),
		"summary":             sum,
		"runs":                all,
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", c.out)
	return os.WriteFile(c.out, append(b, '\n'), 0o644)
}

// note explains a workload whose clients do not do quite the same thing.
func note(w workload, tool string) string {
	if w.RPC == "Subscribe" && tool == "streambench" {
		return "streambench subscriptions last the whole run (messages is ignored): compare messages/s and CPU per message, not calls/s"
	}
	return ""
}

func measure(ctx context.Context, c config, tmp string, srv *server, w workload, tool string, rep int, sb, plain string) measurement {
	r := measurement{Workload: w, Tool: tool, Rep: rep + 1, Note: note(w, tool)}
	dir := filepath.Join(tmp, fmt.Sprintf("%s-%d-%d-%s-%d", w.RPC, w.Messages, w.Concurrency, tool, rep+1))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Err = err.Error()
		return r
	}
	var (
		args  []string
		parse func(stdout []byte) (counts, error)
	)
	switch tool {
	case "plain":
		args = []string{plain, "-addr", srv.addr, "-rpc", w.RPC, "-concurrency", strconv.Itoa(w.Concurrency),
			"-messages", strconv.Itoa(w.Messages), "-duration", c.duration.String(), "-base", strconv.FormatInt(w.base(), 10)}
		parse = parsePlain
	case "streambench", "generic":
		yaml := scenarioYAML(w, c.duration)
		if tool == "generic" {
			proto, err := filepath.Abs("targets/proto/streambench.proto")
			if err != nil {
				r.Err = err.Error()
				return r
			}
			yaml = genericYAML(w, c.duration, proto)
		}
		file := filepath.Join(dir, "scenario.yaml")
		if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
			r.Err = err.Error()
			return r
		}
		out := filepath.Join(dir, "out")
		args = []string{sb, "run", "--target", srv.addr, "--insecure", "--duration", c.duration.String(), "--no-progress", "--out", out, file}
		parse = func([]byte) (counts, error) {
			b, err := os.ReadFile(filepath.Join(out, "report.json"))
			if err != nil {
				return counts{}, err
			}
			return parseReport(b, w.RPC == "Sum")
		}
	case "ghz":
		var err error
		args, err = ghzArgs(c.ghz, dir, srv.addr, w, c.duration)
		if err != nil {
			r.Err = err.Error()
			return r
		}
		parse = func(b []byte) (counts, error) { return parseGhz(b, float64(w.Messages), w.RPC == "Subscribe") }
	}
	before := srv.cpu()
	stdout, ru, wall, err := runChild(ctx, c.duration+90*time.Second, args)
	r.ServerCPU = srv.cpu() - before
	r.Wall = wall.Seconds()
	if ru != nil {
		r.CPUSeconds = tv(ru.Utime) + tv(ru.Stime)
		r.MaxRSSMiB = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	if err != nil {
		r.Err = err.Error()
		// streambench exits 1 when an assertion failed: its report still counts.
		var ee *exec.ExitError
		if !(tool == "streambench" && errors.As(err, &ee) && ee.ExitCode() == 1) {
			return r
		}
	}
	cnt, perr := parse(stdout)
	if perr != nil {
		r.Err = strings.TrimSpace(r.Err + " " + perr.Error())
		return r
	}
	r.Calls, r.Messages, r.Errors, r.Seconds = cnt.Calls, cnt.Messages, cnt.Errors, cnt.Seconds
	r.CallsPS = cnt.Calls / cnt.Seconds
	r.MsgsPS = cnt.Messages / cnt.Seconds
	if cnt.Messages > 0 {
		r.CPUPerMsg = r.CPUSeconds / cnt.Messages * 1e6
	}
	return r
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// scenarioYAML is a one-group scenario of workload w, checking every stream.
func scenarioYAML(w workload, d time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: bench-%s-%d-c%d\nduration: %s\ngraceful_stop: 10s\n", strings.ToLower(w.RPC), w.Messages, w.Concurrency, d)
	b.WriteString("target:\n  builtin:\n    feed: {rate: 100/s}   # unused: run --target points at the bench server\n")
	rpc := map[string]string{"Subscribe": "Longlived/Subscribe", "Pow": "Math/Pow", "Sum": "Math/Sum", "Sqrt": "Math/Sqrt"}[w.RPC]
	fmt.Fprintf(&b, "groups:\n  - name: w\n    rpc: %s\n    clients: %d\n    connections: 1\n", rpc, w.Concurrency)
	if w.RPC != "Subscribe" {
		fmt.Fprintf(&b, "    messages: %d\n", w.Messages)
	}
	if w.RPC == "Pow" {
		fmt.Fprintf(&b, "    base: %d\n", w.base())
	}
	b.WriteString("    repeat: true\nassert:\n  - eof: clean\n  - correct\n")
	return b.String()
}

// genericYAML is workload w for the generic driver: the same requests as
// the stub drivers send, built from the .proto as dynamic messages, with
// the checks a user would declare (the response count, the sequence).
func genericYAML(w workload, d time.Duration, proto string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: bench-generic-%s-%d-c%d\nduration: %s\ngraceful_stop: 10s\n", strings.ToLower(w.RPC), w.Messages, w.Concurrency, d)
	fmt.Fprintf(&b, "groups:\n  - name: w\n    clients: %d\n    connections: 1\n    messages: %d\n    call:\n", w.Concurrency, w.Messages)
	fmt.Fprintf(&b, "      proto: [%q]\n", proto)
	switch w.RPC {
	case "Subscribe":
		b.WriteString("      method: streambench.v1.Longlived/Subscribe\n      data: {id: \"{{client}}\"}\n      expect: {sequence: seq, timestamp: sent_unix_nano}\n")
	case "Pow":
		fmt.Fprintf(&b, "      method: streambench.v1.Math/Pow\n      data: {base: %d, count: %d}\n      expect: {count: %d, sequence: seq, timestamp: sent_unix_nano}\n", w.base(), w.Messages, w.Messages)
	case "Sum":
		b.WriteString("      method: streambench.v1.Math/Sum\n      data: {seq: \"{{index}}\", value: \"{{index}}\"}\n      expect: {count: 1}\n")
	case "Sqrt":
		fmt.Fprintf(&b, "      method: streambench.v1.Math/Sqrt\n      data: {seq: \"{{index}}\", value: \"{{index}}\"}\n      expect: {count: %d, sequence: seq}\n", w.Messages)
	}
	b.WriteString("assert:\n  - eof: clean\n  - correct\n")
	return b.String()
}

// ghzArgs is the ghz command line of workload w: one connection (ghz's
// default), -c concurrent workers, -z duration, JSON report on stdout.
func ghzArgs(ghz, dir, addr string, w workload, d time.Duration) ([]string, error) {
	args := []string{ghz, "--insecure", "--proto", "targets/proto/streambench.proto",
		"-c", strconv.Itoa(w.Concurrency), "-z", d.String(), "--format", "json"}
	var data any
	switch w.RPC {
	case "Subscribe":
		// A fresh id per call (the server replaces an older subscription
		// of the same id); ghz cancels the call after the count.
		args = append(args, "--call", "streambench.v1.Longlived/Subscribe", "--stream-call-count", strconv.Itoa(w.Messages))
		data = map[string]string{"id": "{{.RequestNumber}}"}
	case "Pow":
		args = append(args, "--call", "streambench.v1.Math/Pow")
		data = map[string]int64{"base": w.base(), "count": int64(w.Messages)}
	case "Sum":
		args = append(args, "--call", "streambench.v1.Math/Sum")
		msgs := make([]map[string]int, w.Messages)
		for i := range msgs {
			msgs[i] = map[string]int{"seq": i, "value": i}
		}
		data = msgs
	case "Sqrt":
		args = append(args, "--call", "streambench.v1.Math/Sqrt")
		msgs := make([]map[string]float64, w.Messages)
		for i := range msgs {
			msgs[i] = map[string]float64{"seq": float64(i), "value": float64(i)}
		}
		data = msgs
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "data.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return nil, err
	}
	return append(args, "-D", file, addr), nil
}

// runChild runs args with a timeout and returns its stdout and resource
// usage (CPU time and peak RSS of that process).
func runChild(ctx context.Context, timeout time.Duration, args []string) ([]byte, *syscall.Rusage, time.Duration, error) {
	res, err := runchild.Run(ctx, timeout, args...)
	return res.Stdout, res.Rusage, res.Wall, err
}

func command(ctx context.Context, timeout time.Duration, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// installGhz installs ghz v0.121.0 with go install into the user cache (once).
func installGhz(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "streambench-bench", "ghz-v0.121.0")
	bin := filepath.Join(dir, "ghz")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintf(os.Stderr, "compare: go install %s (into %s)\n", ghzModule, dir)
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ictx, "go", "install", ghzModule)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s: %w", ghzModule, err)
	}
	return bin, nil
}

// server is the reference server under test: `streambench serve`.
type server struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

var listening = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

func startServer(ctx context.Context, sb, rate string) (*server, error) {
	cmd := exec.Command(sb, "serve", "--addr", "127.0.0.1:0", "--rate", rate, "--queue", "8192", "--ring", "65536", "--graceful-stop", "2s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); close(s.done) }()
	select {
	case s.addr = <-addr:
		return s, nil
	case <-s.done:
		return nil, errors.New("streambench serve exited before listening")
	case <-time.After(15 * time.Second):
	case <-ctx.Done():
	}
	s.stop()
	return nil, errors.New("streambench serve did not report its address")
}

// cpu is the server process's CPU time so far, in seconds.
func (s *server) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the ")" that ends the command name: utime and stime are
	// the 12th and 13th (fields 14 and 15 of the whole line).
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100 // USER_HZ
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func describeMachine() string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.*)$`).FindSubmatch(b); m != nil {
			model = string(m[1])
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(b); m != nil {
			kb, _ := strconv.ParseFloat(string(m[1]), 64)
			mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	gover := runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		gover = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d vCPU %s, %s RAM, %s, %s/%s", runtime.NumCPU(), model, mem, gover, runtime.GOOS, runtime.GOARCH)
}
