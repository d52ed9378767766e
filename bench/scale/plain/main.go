// Command plain is the baseline of bench/scale: plain grpc-go fan-out at
// scale, with generated stubs and nothing measured on the streams beyond
// the fan-out lag of the hold. One process holds the server (in process,
// over bufconn, as streambench's builtin target) and the clients:
// -conns ClientConns share -streams Subscribe streams evenly, 256 goroutines
// open them in parallel, and each stream gets one goroutine that receives
// until the end.
//
// -server picks what the clients subscribe to:
//
//	reference  the reference feed (targets/longlived via targets/builtin,
//	           the server streambench's builtin target runs), with
//	           -rate, -payload, -ring and -queue as a scenario's feed
//	tick       the simplest possible broadcast: one goroutine replaces the
//	           current update every 1/-rate and wakes every handler, which
//	           sends it (what the reference design itself costs)
//
// With -drain, after the hold it ends every stream as streambench's drain
// does (Unsubscribe each, as many in flight as streambench's stop waves)
// and says how long that took; without it, it cancels them.
//
// With -target host:port no server runs in this process: the clients dial
// that loopback address over TCP (a `streambench serve` process, say), and
// -server, -rate, -payload, -ring and -queue are the server's business.
//
// It prints one JSON line (see result): the time from the first open to
// the last stream established (response headers received), the peak heap
// in use, RSS and goroutines (sampled every 100 ms) and the same per
// stream, and the fan-out lag (receive time minus the update's
// sent_unix_nano) of the updates published during -hold, which starts
// once every stream is established.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/streambench/streambench/bench/scale/procstat"
	"github.com/streambench/streambench/targets/builtin"
	"github.com/streambench/streambench/targets/longlived"
	pb "github.com/streambench/streambench/targets/proto"
)

// result is what one run printed.
type result struct {
	Server              string  `json:"server"`
	Streams             int     `json:"streams"`
	Established         int     `json:"established"`
	Errors              uint64  `json:"errors"`
	EstablishSeconds    float64 `json:"establish_seconds"`
	PeakHeapBytes       uint64  `json:"peak_heap_bytes"`
	PeakRSSBytes        uint64  `json:"peak_rss_bytes"`
	PeakGoroutines      int     `json:"peak_goroutines"`
	HeapPerStreamBytes  float64 `json:"heap_per_stream_bytes"`
	RSSPerStreamBytes   float64 `json:"rss_per_stream_bytes"`
	GoroutinesPerStream float64 `json:"goroutines_per_stream"`
	StackPerStreamBytes float64 `json:"stack_per_stream_bytes"`
	HoldSeconds         float64 `json:"hold_seconds"`
	LagWindowSeconds    float64 `json:"lag_window_seconds"`
	LagCount            int64   `json:"lag_count"`
	LagP50MS            float64 `json:"lag_p50_ms"`
	LagP99MS            float64 `json:"lag_p99_ms"`
	LagMaxMS            float64 `json:"lag_max_ms"`
	// DrainSeconds is how long it took, with -drain, from the first
	// Unsubscribe to the last stream's end; Drained how many streams ended
	// with a clean EOF by then.
	DrainSeconds float64 `json:"drain_seconds,omitempty"`
	Drained      int64   `json:"drained,omitempty"`
}

// bufconnSize is streambench's bufconn pipe buffer (harness/link).
const bufconnSize = 256 << 10

func main() {
	streams := flag.Int("streams", 20000, "Subscribe streams")
	conns := flag.Int("conns", 20, "ClientConns the streams share evenly")
	openers := flag.Int("openers", 256, "goroutines opening streams in parallel")
	hold := flag.Duration("hold", 8*time.Second, "how long to keep every stream once all are established (peaks are sampled until its end)")
	window := flag.Duration("lag-window", 0, "fan-out lag is measured over the updates published in this first part of the hold (0: all of it)")
	server := flag.String("server", "reference", "reference | tick")
	target := flag.String("target", "", "dial this loopback host:port over TCP instead of running a server in process")
	rate := flag.Float64("rate", 1, "updates per second")
	payload := flag.Int("payload", 64, "update payload bytes")
	ring := flag.Int("ring", 64, "reference feed: replay ring length")
	queue := flag.Int("queue", 64, "reference feed: per-subscriber queue length")
	timeout := flag.Duration("timeout", 120*time.Second, "establishing every stream must finish within this")
	memprofile := flag.String("memprofile", "", "write a heap profile (after a GC) at the end of the hold to this file")
	drain := flag.Bool("drain", false, "after the hold, end every stream as streambench does: Unsubscribe each (as many in flight as streambench's stop waves), and time until the last stream ends")
	flag.Parse()
	if *window <= 0 || *window > *hold {
		*window = *hold
	}
	if *streams < 1 || *conns < 1 || *openers < 1 || *hold <= 0 || *rate <= 0 || *payload < 0 {
		fmt.Fprintln(os.Stderr, "plain: -streams, -conns, -openers >= 1; -hold, -rate > 0; -payload >= 0")
		os.Exit(2)
	}
	if *drain && *server == "tick" {
		fmt.Fprintln(os.Stderr, "plain: -drain: the tick server has no Unsubscribe")
		os.Exit(2)
	}
	if *server != "reference" && *server != "tick" {
		fmt.Fprintf(os.Stderr, "plain: -server %q: want reference or tick\n", *server)
		os.Exit(2)
	}
	if *target != "" {
		host, _, err := net.SplitHostPort(*target)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			fmt.Fprintf(os.Stderr, "plain: -target %q: want a loopback host:port (127.0.0.1:7070)\n", *target)
			os.Exit(2)
		}
		*server = "target " + *target
	}
	res, err := run(*server, *streams, *conns, *openers, *hold, *window, *timeout, *rate, *payload, *ring, *queue, *memprofile, *drain)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plain:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		os.Exit(1)
	}
}

func run(server string, n, nconns, openers int, hold, window, timeout time.Duration, rate float64, payload, ring, queue int, memprofile string, drain bool) (result, error) {
	res := result{Server: server, Streams: n}
	lis := bufconn.Listen(bufconnSize)
	target, remote := strings.CutPrefix(server, "target ")
	var stopServer func()
	switch {
	case remote:
		stopServer = func() {}
	case server == "reference":
		t := builtin.New(builtin.Config{Feed: longlived.Config{Rate: rate, Payload: payload, Ring: ring, Queue: queue}})
		if err := t.Serve(lis); err != nil {
			return res, err
		}
		stopServer = func() { t.Close(0) }
	default: // tick
		srv := grpc.NewServer()
		tk := newTicker(rate, payload)
		pb.RegisterLonglivedServer(srv, tk)
		go func() { _ = srv.Serve(lis) }()
		stopServer = func() { tk.close(); srv.Stop() }
	}
	defer stopServer()

	ccs := make([]*grpc.ClientConn, nconns)
	for i := range ccs {
		var (
			cc  *grpc.ClientConn
			err error
		)
		if remote {
			cc, err = grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		} else {
			cc, err = grpc.NewClient("passthrough:///bufnet",
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
		}
		if err != nil {
			return res, fmt.Errorf("client %d: %w", i, err)
		}
		defer cc.Close()
		ccs[i] = cc
	}

	// Peaks, sampled every 100 ms until the end of the hold.
	var peak struct {
		sync.Mutex
		heap, rss, stack uint64
		gor              int
	}
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := procstat.RSS()
		g := runtime.NumGoroutine()
		peak.Lock()
		peak.heap, peak.rss, peak.gor = max(peak.heap, ms.HeapInuse), max(peak.rss, rss), max(peak.gor, g)
		peak.stack = max(peak.stack, ms.StackInuse)
		peak.Unlock()
	}
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampling:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lag := newLag()
	var (
		holdFrom atomic.Int64 // updates sent at or after this are measured (0: not yet)
		holdTo   atomic.Int64 // and before this
		eofs     atomic.Int64 // streams ended with a clean EOF
		errs     atomic.Uint64
		est      atomic.Int64
		next     atomic.Int64
		openWG   sync.WaitGroup
		recvWG   sync.WaitGroup
	)
	openCtx, openCancel := context.WithTimeout(ctx, timeout)
	defer openCancel()
	start := time.Now()
	for range min(openers, n) {
		openWG.Add(1)
		go func() {
			defer openWG.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || openCtx.Err() != nil {
					return
				}
				c := pb.NewLonglivedClient(ccs[i%nconns])
				st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Id: int32(i + 1)})
				if err == nil {
					_, err = st.Header() // established: the server registered it
				}
				if err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "plain: first error:", err)
					}
					continue
				}
				est.Add(1)
				recvWG.Add(1)
				go func() {
					defer recvWG.Done()
					for {
						u, err := st.Recv()
						if err != nil {
							if err == io.EOF {
								eofs.Add(1)
							}
							return
						}
						if from, sent := holdFrom.Load(), u.GetSentUnixNano(); from != 0 && sent >= from && sent < holdTo.Load() {
							lag.record(i, time.Now().UnixNano()-u.GetSentUnixNano())
						}
					}
				}()
			}
		}()
	}
	openWG.Wait()
	res.EstablishSeconds = time.Since(start).Seconds()
	res.Established = int(est.Load())
	res.Errors = errs.Load()
	if openCtx.Err() != nil && res.Established < n {
		return res, fmt.Errorf("%d of %d streams established within %s", res.Established, n, timeout)
	}
	now := time.Now().UnixNano()
	holdTo.Store(now + int64(window))
	holdFrom.Store(now)
	time.Sleep(hold)
	res.HoldSeconds, res.LagWindowSeconds = hold.Seconds(), window.Seconds()
	close(sampling)
	<-sampled
	if memprofile != "" {
		if err := writeHeap(memprofile); err != nil {
			return res, err
		}
	}
	if drain {
		res.DrainSeconds = unsubscribeAll(ctx, ccs, n, &recvWG)
		res.Drained = eofs.Load()
	}
	cancel()
	recvWG.Wait()

	h := lag.merged()
	res.PeakHeapBytes, res.PeakRSSBytes, res.PeakGoroutines = peak.heap, peak.rss, peak.gor
	res.HeapPerStreamBytes = float64(peak.heap) / float64(n)
	res.RSSPerStreamBytes = float64(peak.rss) / float64(n)
	res.GoroutinesPerStream = float64(peak.gor) / float64(n)
	res.StackPerStreamBytes = float64(peak.stack) / float64(n)
	res.LagCount = h.TotalCount()
	res.LagP50MS = float64(h.ValueAtQuantile(50)) / 1000
	res.LagP99MS = float64(h.ValueAtQuantile(99)) / 1000
	res.LagMaxMS = float64(h.Max()) / 1000
	if res.LagCount == 0 {
		return res, errors.New("no update was delivered during the hold")
	}
	return res, nil
}

// drainBound bounds the drain: what is left after it is cancelled.
const drainBound = 60 * time.Second

// unsubscribeAll ends every stream the way streambench's drain does:
// Unsubscribe(id) for ids 1..n, as many in flight at once as streambench's
// stop waves allow for len(ccs) connections (8 per connection, 128 to
// 1,024), each call bounded by 5 s and retried on failure; it returns the
// seconds from the first call until every receive goroutine has ended
// (or drainBound passed).
func unsubscribeAll(ctx context.Context, ccs []*grpc.ClientConn, n int, recv *sync.WaitGroup) float64 {
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, drainBound)
	defer cancel()
	workers := min(max(8*len(ccs), 128), 1024)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c := pb.NewLonglivedClient(ccs[i%len(ccs)])
				for dctx.Err() == nil {
					cctx, ccancel := context.WithTimeout(dctx, 5*time.Second)
					_, err := c.Unsubscribe(cctx, &pb.UnsubscribeRequest{Id: int32(i + 1)})
					ccancel()
					if err == nil {
						break
					}
				}
			}
		}()
	}
	ended := make(chan struct{})
	go func() { recv.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-dctx.Done():
	}
	took := time.Since(start).Seconds()
	cancel()
	wg.Wait()
	return took
}

// writeHeap writes a heap profile of the live objects (after a GC), as
// streambench run --memprofile does.
func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("-memprofile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("-memprofile: %w", err)
	}
	return f.Close()
}

// lag is a sharded latency histogram (µs), one lock per shard, as
// streambench's recorder shards are.
type lag struct{ shards [8]lagShard }

type lagShard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [48]byte
}

func newLag() *lag {
	l := &lag{}
	for i := range l.shards {
		l.shards[i].h = hdrhistogram.New(1, 120_000_000, 3)
	}
	return l
}

func (l *lag) record(stream int, ns int64) {
	sh := &l.shards[stream%len(l.shards)]
	sh.mu.Lock()
	_ = sh.h.RecordValue(max(ns/1000, 1))
	sh.mu.Unlock()
}

func (l *lag) merged() *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, 120_000_000, 3)
	for i := range l.shards {
		h.Merge(l.shards[i].h)
	}
	return h
}

// ticker is the simplest broadcast Longlived server: the current update and
// a channel closed when it is replaced.
type ticker struct {
	pb.UnimplementedLonglivedServer
	cur  atomic.Pointer[tick]
	stop chan struct{}
	done chan struct{}
}

type tick struct {
	u    *pb.Update
	next chan struct{} // closed when the next tick replaces this one
}

func newTicker(rate float64, payload int) *ticker {
	t := &ticker{stop: make(chan struct{}), done: make(chan struct{})}
	t.cur.Store(&tick{next: make(chan struct{})})
	body := make([]byte, payload)
	go func() {
		defer close(t.done)
		tk := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tk.Stop()
		var seq uint64
		for {
			select {
			case <-t.stop:
				return
			case <-tk.C:
				seq++
				old := t.cur.Load()
				t.cur.Store(&tick{u: &pb.Update{Seq: seq, SentUnixNano: time.Now().UnixNano(), Payload: body}, next: make(chan struct{})})
				close(old.next)
			}
		}
	}()
	return t
}

func (t *ticker) close() { close(t.stop); <-t.done }

// Subscribe sends every update published after the subscription.
func (t *ticker) Subscribe(_ *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.Update]) error {
	cur := t.cur.Load()
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-cur.next:
		}
		cur = t.cur.Load()
		if err := stream.Send(cur.u); err != nil {
			return err
		}
	}
}
