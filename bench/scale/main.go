// Command scale runs plain grpc-go and streambench side by side on the
// fan-out workload of scenarios/fanout.yaml at several subscriber counts,
// alternately and in a rotating order, and prints each run and the paired
// ratios (streambench / plain, per repetition; the median of those).
//
// Three clients, each in its own child process, run one at a time:
//
//	plain       bench/scale/plain -server reference -drain: generated stubs,
//	            the reference feed in process over bufconn; after the hold it
//	            Unsubscribes every stream as streambench's drain does
//	plain-tick  bench/scale/plain -server tick: the same clients against the
//	            simplest broadcast server
//	streambench streambench run --client-scale N/5000 scenarios/fanout.yaml
//	            (report.json: all_open_seconds, resources, the latency of
//	            the per-second windows during the hold after all_open)
//
// streambench runs for 12 s + hold + 1 s per 5,000 subscribers
// (establishment included), then drains; plain keeps its streams that long
// after establishing them, so every client's peaks are sampled over at
// least as long a steady state (a peak of heap in use depends on where the
// sampling ends in the GC cycle), and measures lag over the updates
// published in the first hold of it. Live heap is from a heap profile
// written after a GC at the end of the hold (plain) or of the duration
// (streambench --memprofile). Peak RSS is every child's rusage maxrss, so
// it is measured the same way for all three. Every child runs under a deadline and is killed with its
// process group when it passes it.
//
//	go run ./bench/scale -streams 20000,50000 -reps 3
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	runchild "github.com/streambench/streambench/bench/internal/child"
	"github.com/streambench/streambench/bench/internal/machine"
	"github.com/streambench/streambench/reports"
)

// fanoutClients is scenarios/fanout.yaml's subscriber count and
// fanoutConns its connections (1,000 streams per ClientConn).
const (
	fanoutClients = 5000
	fanoutConns   = 5
)

// run is one child's figures.
type run struct {
	Client              string            `json:"client"`
	Streams             int               `json:"streams"`
	Rep                 int               `json:"rep"`
	EstablishSeconds    float64           `json:"establish_seconds"`
	PeakHeapBytes       uint64            `json:"peak_heap_bytes"`
	LiveHeapBytes       uint64            `json:"live_heap_bytes"`
	LiveHeapPerStream   float64           `json:"live_heap_per_stream_bytes"`
	PeakRSSBytes        uint64            `json:"peak_rss_bytes"`
	PeakGoroutines      int               `json:"peak_goroutines"`
	HeapPerStreamBytes  float64           `json:"heap_per_stream_bytes"`
	RSSPerStreamBytes   float64           `json:"rss_per_stream_bytes"`
	GoroutinesPerStream float64           `json:"goroutines_per_stream"`
	StackPerStreamBytes float64           `json:"stack_per_stream_bytes"`
	LagCount            int64             `json:"lag_count"`
	LagP50MS            float64           `json:"lag_p50_ms"`
	LagP99MS            float64           `json:"lag_p99_ms"`
	WallSeconds         float64           `json:"wall_seconds"`
	CPUSeconds          float64           `json:"cpu_seconds"`
	Ends                map[string]uint64 `json:"ends,omitempty"`
	// DrainSeconds is how long the drain took: streambench's report's
	// drain_seconds (from the stop to the last client's end), plain's from
	// its first Unsubscribe to its last stream's end (-drain);
	// HardStopped is how many subscribers the graceful stop left to the
	// hard stop (their streams end canceled instead of complete).
	DrainSeconds float64 `json:"drain_seconds,omitempty"`
	HardStopped  uint64  `json:"hard_stopped,omitempty"`
	// Drained is how many streams plain -drain saw end with a clean EOF.
	Drained int64 `json:"drained,omitempty"`
	// ServerRSSBytes and ServerCPUSeconds are the server process's peak RSS
	// and CPU time (-server-process only).
	ServerRSSBytes   uint64  `json:"server_rss_bytes,omitempty"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds,omitempty"`
	Error            string  `json:"error,omitempty"`
}

func main() {
	streamsF := flag.String("streams", "20000,50000", "subscriber counts, comma-separated (multiples of 5,000)")
	reps := flag.Int("reps", 3, "repetitions per client and count")
	hold := flag.Duration("hold", 8*time.Second, "fan-out lag is measured over this long once every stream is established")
	clientsF := flag.String("clients", "plain,plain-tick,streambench", "clients to run")
	out := flag.String("out", "", "also write every run as JSON to this file")
	pause := flag.Duration("pause", 3*time.Second, "pause between runs")
	serverProcess := flag.Bool("server-process", false, "run the reference server in its own process (streambench serve) for every run, the clients dialling it over loopback TCP (plain and streambench only)")
	flag.Parse()
	var counts []int
	for f := range strings.SplitSeq(*streamsF, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < fanoutClients || n%fanoutClients != 0 {
			fmt.Fprintf(os.Stderr, "scale: -streams %q: want multiples of %d\n", f, fanoutClients)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	clients := strings.Split(*clientsF, ",")
	for _, c := range clients {
		if !slices.Contains([]string{"plain", "plain-tick", "streambench"}, c) {
			fmt.Fprintf(os.Stderr, "scale: -clients: %q: want plain, plain-tick or streambench\n", c)
			os.Exit(2)
		}
	}
	if *serverProcess && slices.Contains(clients, "plain-tick") {
		fmt.Fprintln(os.Stderr, "scale: -server-process: plain-tick's server is in process by design; leave it out of -clients")
		os.Exit(2)
	}
	if *reps < 1 || *hold <= 0 {
		fmt.Fprintln(os.Stderr, "scale: -reps >= 1, -hold > 0")
		os.Exit(2)
	}
	if err := mainErr(counts, clients, *reps, *hold, *pause, *serverProcess, *out); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func mainErr(counts []int, clients []string, reps int, hold, pause time.Duration, serverProcess bool, out string) error {
	dir, err := os.MkdirTemp("", "scale-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, b := range [][2]string{{"plain", "./bench/scale/plain"}, {"streambench", "./cmd/streambench"}} {
		c := exec.Command("go", "build", "-o", filepath.Join(dir, b[0]), b[1])
		c.Stderr = os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b[1], err)
		}
	}
	load0 := machine.LoadAverage()
	var runs []run
	for _, n := range counts {
		for r := range reps {
			order := slices.Clone(clients)
			k := r % len(order)
			order = append(order[k:], order[:k]...)
			for _, c := range order {
				res := runServed(dir, c, n, r, hold, serverProcess)
				runs = append(runs, res)
				b, _ := json.Marshal(res)
				fmt.Fprintf(os.Stderr, "%s load %s\n", b, machine.LoadAverage())
				time.Sleep(pause)
			}
		}
	}
	fmt.Printf("load average before: %s, after: %s\n\n", load0, machine.LoadAverage())
	printTable(os.Stdout, counts, clients, runs)
	if out != "" {
		b, err := json.MarshalIndent(runs, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	}
	return nil
}

// child runs argv under a deadline (bench/internal/child); streambench's
// exit 1 (an assertion failed) still has figures, so it is no error here.
func child(timeout time.Duration, argv ...string) ([]byte, *syscall.Rusage, time.Duration, error) {
	res, err := runchild.Run(context.Background(), timeout, argv...)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 && filepath.Base(argv[0]) == "streambench" {
		err = nil
	}
	return res.Stdout, res.Rusage, res.Wall, err
}

// serveReady is the line `streambench serve` prints once it listens.
var serveReady = regexp.MustCompile(`listening on (\S+)`)

// runServed runs one child; with serverProcess, against a `streambench
// serve` process started for it (the feed as fanout.yaml's) and stopped
// after, whose peak RSS and CPU it adds to the figures.
func runServed(dir, client string, n, rep int, hold time.Duration, serverProcess bool) run {
	if !serverProcess {
		return runOne(dir, client, n, rep, hold, "")
	}
	srv, err := runchild.Serve(30*time.Second, serveReady, filepath.Join(dir, "streambench"), "serve", "--addr", "127.0.0.1:0",
		"--rate", "1/s", "--payload", "64B", "--ring", "64", "--queue", "64", "--graceful-stop", "5s")
	if err != nil {
		return run{Client: client, Streams: n, Rep: rep, Error: "serve: " + err.Error()}
	}
	res := runOne(dir, client, n, rep, hold, srv.Addr)
	sres, err := srv.Stop(30 * time.Second)
	if err != nil && res.Error == "" {
		res.Error = "serve: " + err.Error()
	}
	if ru := sres.Rusage; ru != nil {
		res.ServerRSSBytes = uint64(ru.Maxrss) << 10
		res.ServerCPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return res
}

// runOne runs one child: in process, or dialling target when it is set.
func runOne(dir, client string, n, rep int, hold time.Duration, target string) run {
	res := run{Client: client, Streams: n, Rep: rep}
	timeout := 60*time.Second + time.Duration(n/1000)*2*time.Second
	// streambench runs for dur (establishment included); plain keeps its
	// streams as long once established, so its peaks are sampled over at
	// least the same time, and measures lag over the first hold of it.
	dur := 12*time.Second + hold + time.Duration(n/5000)*time.Second
	var (
		stdout []byte
		ru     *syscall.Rusage
		wall   time.Duration
		err    error
	)
	switch client {
	case "plain", "plain-tick":
		server := "reference"
		if client == "plain-tick" {
			server = "tick"
		}
		prof := filepath.Join(dir, "plain.pprof")
		argv := []string{filepath.Join(dir, "plain"), "-server", server, "-memprofile", prof,
			"-streams", strconv.Itoa(n), "-conns", strconv.Itoa(n / fanoutClients * fanoutConns),
			"-hold", dur.String(), "-lag-window", hold.String(), "-rate", "1", "-payload", "64", "-ring", "64", "-queue", "64"}
		if target != "" {
			argv = append(argv, "-target", target)
		}
		if client == "plain" {
			argv = append(argv, "-drain")
		}
		stdout, ru, wall, err = child(timeout+dur+70*time.Second, argv...)
		if err == nil {
			err = json.Unmarshal(stdout, &res)
			res.Client, res.Rep = client, rep
		}
		if client == "plain" && res.Drained < int64(n) {
			res.HardStopped = uint64(int64(n) - res.Drained)
		}
		if err == nil {
			res.LiveHeapBytes, err = liveHeap(filepath.Join(dir, "plain"), prof)
		}
	default:
		outDir := filepath.Join(dir, fmt.Sprintf("sb-%d-%d", n, rep))
		prof := filepath.Join(dir, "sb.pprof")
		argv := []string{filepath.Join(dir, "streambench"), "run", "--no-progress",
			"--client-scale", strconv.Itoa(n / fanoutClients), "--duration", dur.String(), "--out", outDir, "--memprofile", prof}
		if target != "" {
			argv = append(argv, "--target", target, "--insecure")
		}
		stdout, ru, wall, err = child(timeout+dur, append(argv, "scenarios/fanout.yaml")...)
		if err == nil {
			err = readReport(filepath.Join(outDir, "report.json"), hold, &res)
		}
		if err == nil {
			res.LiveHeapBytes, err = liveHeap(filepath.Join(dir, "streambench"), prof)
		}
		_ = os.RemoveAll(outDir)
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.LiveHeapPerStream = float64(res.LiveHeapBytes) / float64(n)
	res.WallSeconds = wall.Seconds()
	if ru != nil {
		res.PeakRSSBytes = uint64(ru.Maxrss) << 10
		res.RSSPerStreamBytes = float64(res.PeakRSSBytes) / float64(n)
		res.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return res
}

// readReport takes the fan-out figures from a streambench report: the
// subscribers group's all_open_seconds, the resources' peaks, the latency
// of the windows wholly inside [all_open, all_open+hold], and the drain:
// its drain_seconds, and how many subscribers ended canceled (left to the
// hard stop) instead of complete.
func readReport(path string, hold time.Duration, res *run) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r reports.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Groups) != 1 {
		return fmt.Errorf("%s: want one group, got %d", path, len(r.Groups))
	}
	g := r.Groups[0]
	if g.AllOpenSeconds == 0 {
		return fmt.Errorf("%s: not every subscriber was established (all_open_seconds 0)", path)
	}
	res.EstablishSeconds = g.AllOpenSeconds
	res.Ends = g.Ends
	res.DrainSeconds = r.DrainSeconds // from the stop, after --memprofile's GC and profile
	res.HardStopped = g.Ends["canceled"]
	if r.Resources != nil {
		res.PeakHeapBytes, res.PeakGoroutines = r.Resources.PeakHeapBytes, r.Resources.PeakGoroutines
		res.HeapPerStreamBytes = float64(res.PeakHeapBytes) / float64(res.Streams)
		res.GoroutinesPerStream = float64(res.PeakGoroutines) / float64(res.Streams)
		res.StackPerStreamBytes = float64(r.Resources.PeakStackBytes) / float64(res.Streams)
	}
	lag := hdrhistogram.New(1, 1<<40, 3)
	end := g.AllOpenSeconds + hold.Seconds()
	for _, w := range r.Windows {
		if w.Group != g.Name || w.Latency == nil || w.Latency.Count == 0 || w.Start < g.AllOpenSeconds-1e-9 || w.Start > end {
			continue
		}
		h, err := w.Latency.Decode()
		if err != nil {
			return fmt.Errorf("%s: window at %.1fs: %w", path, w.Offset, err)
		}
		lag.Merge(h)
	}
	if lag.TotalCount() == 0 {
		return fmt.Errorf("%s: no latency in the windows after all_open (%.1fs)", path, g.AllOpenSeconds)
	}
	res.LagCount = lag.TotalCount()
	res.LagP50MS = float64(lag.ValueAtQuantile(50)) / 1000
	res.LagP99MS = float64(lag.ValueAtQuantile(99)) / 1000
	return nil
}

// pprofTotal matches the total of `go tool pprof -top`'s header.
var pprofTotal = regexp.MustCompile(`of ([0-9.]+)([kMG]?B) total`)

// liveHeap is the heap in use by live objects in a heap profile written
// after a GC (both clients write it that way): the total of its
// inuse_space samples, as go tool pprof reports it.
func liveHeap(bin, profile string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-sample_index=inuse_space", "-top", "-nodecount=1", bin, profile).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("go tool pprof %s: %w: %s", profile, err, out)
	}
	v, err := parseTotal(out)
	if err != nil {
		return 0, fmt.Errorf("go tool pprof %s: %w", profile, err)
	}
	_ = os.Remove(profile)
	return v, nil
}

// parseTotal reads the total of `go tool pprof -top`'s header ("... of
// 230.66MB total") in bytes.
func parseTotal(out []byte) (uint64, error) {
	m := pprofTotal.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no total in %q", out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return 0, err
	}
	unit := map[string]float64{"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[string(m[2])]
	return uint64(v * unit), nil
}
