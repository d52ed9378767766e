// Command proxy measures what streambench's gRPC-aware proxy (package
// harness/proxy, which carries stream faults to address and command
// targets) costs: messages per second and latency percentiles of the same
// load against the reference Math server directly, through the proxy
// (with the stream faults' interceptor installed and no fault active, as a
// run has it between faults) and through two anchors (anchor.go): the
// textbook plain grpc-go pass-through proxy and a TCP relay, rotating the
// order, -reps times each; and through the HTTP/2 frame relay (package
// harness/relay, a Faults hook asked at every message and never acting),
// which should cost about what the TCP relay costs.
//
//	go run ./bench/proxy -duration 5s -reps 3
//
// Everything runs in this one process over TCP loopback (server, proxy,
// clients), as the proxy runs inside streambench beside its clients; on a
// machine with few cores the proxy's CPU is taken from the clients and the
// server, which is part of its cost.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/bench/internal/machine"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/proxy"
	h2relay "github.com/streambench/streambench/harness/relay"
	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

// workload is one load shape.
type workload struct {
	name string
	// req is each stream's request; rate, when > 0, paces every worker
	// to open its streams at rate/streams per second in all.
	req  *pb.PowRequest
	rate float64
}

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of each measured run")
	reps := flag.Int("reps", 3, "runs of each workload and path (alternating direct and proxy)")
	streams := flag.Int("streams", 16, "concurrent streams (one goroutine each, one shared ClientConn)")
	only := flag.String("only", "", "run only the workloads whose name contains this")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "proxy bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "proxy bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*duration, *reps, *streams, *only); err != nil {
		fmt.Fprintln(os.Stderr, "proxy bench:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, reps, streams int, only string) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	pb.RegisterMathServer(srv, mathsrv.New())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	p, err := proxy.Start(proxy.Config{Upstream: lis.Addr().String(),
		Interceptors: []grpc.StreamServerInterceptor{fault.NewStreams(1).Interceptor()}})
	if err != nil {
		return err
	}
	defer p.Stop(time.Second)
	anchor, stopAnchor, err := startGRPCAnchor(lis.Addr().String())
	if err != nil {
		return fmt.Errorf("start the plain grpc-go proxy: %w", err)
	}
	defer stopAnchor()
	relay, stopRelay, err := startTCPRelay(lis.Addr().String())
	if err != nil {
		return fmt.Errorf("start the TCP relay: %w", err)
	}
	defer stopRelay()
	// The HTTP/2 frame relay (harness/relay) with a Faults hook asked at
	// every message that never acts, as a run between faults would have
	// it.
	fr, err := h2relay.Start(h2relay.Config{Upstream: lis.Addr().String(),
		Faults: h2relay.FaultsFunc(func(h2relay.StreamInfo, h2relay.MessageInfo) h2relay.Action { return h2relay.Action{} })})
	if err != nil {
		return fmt.Errorf("start the frame relay: %w", err)
	}
	defer fr.Close()
	paths := []path{
		{name: "direct", addr: lis.Addr().String()},
		{name: "proxy", addr: p.Addr()},
		{name: "frame relay", addr: fr.Addr()},
		{name: "plain grpc-go proxy", addr: anchor},
		{name: "tcp relay", addr: relay},
	}

	workloads := []workload{
		{name: "server stream (Pow ×1000), saturated", req: &pb.PowRequest{Base: 1, Count: 1000}},
		{name: "server stream (Pow ×1000, 2 ms apart), 8,000 msgs/s", req: &pb.PowRequest{Base: 1, Count: 1000, IntervalNanos: int64(2 * time.Millisecond)}},
		{name: "unary-ish (Pow ×1), saturated", req: &pb.PowRequest{Base: 2, Count: 1}},
		{name: "unary-ish (Pow ×1), 2,000 calls/s", req: &pb.PowRequest{Base: 2, Count: 1}, rate: 2000},
	}
	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s %s/%s; load average before: %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, machine.LoadAverage())
	fmt.Printf("%d streams, %v per run, %d runs per path (median shown)\n\n", streams, duration, reps)
	fmt.Println("| workload | path | msgs/s | p50 | p99 | p99 added |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, w := range workloads {
		if !strings.Contains(w.name, only) {
			continue
		}
		results := make([][]result, len(paths))
		for i := range reps {
			// Each rep starts from another path, so no path always runs
			// first (or last) on a machine whose load drifts.
			for j := range paths {
				k := (i + j) % len(paths)
				r, err := measure(paths[k].addr, w, streams, duration)
				if err != nil {
					return fmt.Errorf("%s via %s: %w", w.name, paths[k].name, err)
				}
				results[k] = append(results[k], r)
			}
		}
		d := median(results[0])
		fmt.Printf("| %s | direct | %.0f | %s | %s | |\n", w.name, d.rate, ms(d.p50), ms(d.p99))
		for k := 1; k < len(paths); k++ {
			x := median(results[k])
			fmt.Printf("| %s | %s | %.0f (%.2f×) | %s | %s | %s |\n", w.name, paths[k].name, x.rate, x.rate/d.rate, ms(x.p50), ms(x.p99), ms(x.p99-d.p99))
		}
	}
	fmt.Printf("\nload average after: %s\n", machine.LoadAverage())
	return nil
}

// path is one way to the server.
type path struct{ name, addr string }

// result is one run's throughput and latency (per message for a long
// stream: server send to client receive; per call for Pow ×1: open to
// end).
type result struct {
	rate     float64
	p50, p99 time.Duration
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// median picks the run with the median throughput, and the median of
// each percentile on its own.
func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return result{
		rate: pick(func(r result) float64 { return r.rate }),
		p50:  time.Duration(pick(func(r result) float64 { return float64(r.p50) })),
		p99:  time.Duration(pick(func(r result) float64 { return float64(r.p99) })),
	}
}

// measure runs w against addr for d with n streams at a time.
func measure(addr string, w workload, n int, d time.Duration) (result, error) {
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return result{}, err
	}
	defer cc.Close()
	client := pb.NewMathClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		msgs  atomic.Int64
		mu    sync.Mutex
		all   = hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
		wg    sync.WaitGroup
		first error
	)
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
			err := worker(ctx, client, w, n, h, &msgs)
			mu.Lock()
			defer mu.Unlock()
			all.Merge(h)
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return result{}, first
	}
	us := func(q float64) time.Duration { return time.Duration(all.ValueAtQuantile(q)) * time.Microsecond }
	return result{rate: float64(msgs.Load()) / elapsed.Seconds(), p50: us(50), p99: us(99)}, nil
}

// worker opens streams one after another until ctx ends.
func worker(ctx context.Context, c pb.MathClient, w workload, n int, h *hdrhistogram.Histogram, msgs *atomic.Int64) error {
	var tick *time.Ticker
	if w.rate > 0 {
		tick = time.NewTicker(time.Duration(float64(n) / w.rate * float64(time.Second)))
		defer tick.Stop()
	}
	for ctx.Err() == nil {
		if tick != nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return nil
			}
		}
		opened := time.Now()
		s, err := c.Pow(ctx, w.req)
		if err != nil {
			return ignoreEnd(ctx, err)
		}
		for {
			m, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return ignoreEnd(ctx, err)
			}
			msgs.Add(1)
			if w.req.GetCount() > 1 {
				_ = h.RecordValue(time.Since(time.Unix(0, m.GetSentUnixNano())).Microseconds())
			}
		}
		if w.req.GetCount() <= 1 {
			_ = h.RecordValue(time.Since(opened).Microseconds())
		}
	}
	return nil
}

// ignoreEnd drops the error of a stream the run's end cut off (the
// server may see the deadline pass a moment before this process does).
func ignoreEnd(ctx context.Context, err error) error {
	if ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded {
		return nil
	}
	return err
}
