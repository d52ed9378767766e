// Command metrics measures what live metrics cost a run: the same
// in-process scenario run alternately without and with a metric set
// (harness.WithMetrics, a scrape endpoint at 127.0.0.1:0 and a scraper
// reading it every second, as Prometheus would), -reps times each, for two
// workloads: c50 Pow (50 clients streaming Math/Pow, back to back) and a
// fan-out of -subscribers Longlived/Subscribe clients. It prints one
// markdown row per workload and mode: messages received per second
// (median over reps) and heap allocations per message received (process
// mallocs over the run, divided by messages; client, server and harness).
//
//	go run ./bench/metrics -reps 3 -duration 5s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/bench/internal/machine"
	"github.com/streambench/streambench/bench/internal/sig"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/metrics"
	"github.com/streambench/streambench/harness/scenario"
)

func main() {
	reps := flag.Int("reps", 3, "runs per workload and mode")
	dur := flag.Duration("duration", 5*time.Second, "each run's duration")
	subs := flag.Int("subscribers", 3000, "the fan-out workload's subscribers")
	flag.Parse()
	if err := run(*reps, *dur, *subs, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
}

type workload struct{ name, yaml string }

func workloads(dur time.Duration, subs int) []workload {
	return []workload{
		{"c50 Pow", fmt.Sprintf(`
name: cost-pow
duration: %s
graceful_stop: 2s
link: bufconn
groups:
  - {name: pow, rpc: Math/Pow, clients: 50, connections: 1, messages: 60, interval: 0s, payload: 64B}
`, dur)},
		{fmt.Sprintf("%d subscribers", subs), fmt.Sprintf(`
name: cost-fanout
duration: %s
graceful_stop: 2s
target:
  builtin:
    feed: {rate: 20/s, payload: 128B, ring: 4096, queue: 1024}
link: bufconn
groups:
  - {name: subscribe, rpc: Longlived/Subscribe, clients: %d, connections: 10}
`, dur, subs)},
	}
}

// result is one run's figures.
type result struct{ rate, allocs float64 }

func run(reps int, dur time.Duration, subs int, out io.Writer) error {
	fmt.Fprintf(out, "GOMAXPROCS %d, load average before: %s\n\n", runtime.GOMAXPROCS(0), machine.LoadAverage())
	fmt.Fprintln(out, "| workload | metrics | messages/s (median) | on/off (paired median, U test) | allocs/message | runs |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, w := range workloads(dur, subs) {
		sc, err := scenario.Parse(w.name+".yaml", []byte(w.yaml))
		if err != nil {
			return err
		}
		res := map[bool][]result{}
		for i := range reps {
			// Each rep starts from the other mode, so neither always runs
			// first on a machine whose load drifts.
			for _, on := range []bool{i%2 == 1, i%2 == 0} {
				r, err := once(sc, on)
				if err != nil {
					return fmt.Errorf("%s (metrics %v): %w", w.name, on, err)
				}
				res[on] = append(res[on], r)
			}
		}
		rates := map[bool][]float64{}
		var ratios []float64
		for i := range reps {
			for _, on := range []bool{false, true} {
				rates[on] = append(rates[on], res[on][i].rate)
			}
			ratios = append(ratios, res[true][i].rate/res[false][i].rate)
		}
		for _, on := range []bool{false, true} {
			var allocs []float64
			for _, r := range res[on] {
				allocs = append(allocs, r.allocs)
			}
			mode, cmp := "off", ""
			if on {
				mode, cmp = "on", fmt.Sprintf("%.3f× %s", median(ratios), sig.Of(rates[true], rates[false]))
			}
			fmt.Fprintf(out, "| %s | %s | %.0f | %s | %.2f | %.0f |\n", w.name, mode, median(rates[on]), cmp, median(allocs), rates[on])
		}
	}
	fmt.Fprintf(out, "\nload average after: %s\n", machine.LoadAverage())
	return nil
}

// once runs sc, with a metric set served and scraped every second when on.
func once(sc *scenario.Scenario, on bool) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var opts []harness.Option
	stopScrape := func() {}
	if on {
		set := metrics.New(metrics.Labels{Scenario: sc.Name})
		srv, err := metrics.Serve("127.0.0.1:0", set)
		if err != nil {
			return result{}, err
		}
		done := make(chan struct{})
		scraped := make(chan struct{})
		go func() {
			defer close(scraped)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if resp, err := http.Get("http://" + srv.Addr() + "/metrics"); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}
		}()
		stopScrape = func() {
			close(done)
			<-scraped
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Close(c)
		}
		opts = append(opts, harness.WithMetrics(set))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rep, err := streambench.Run(ctx, sc, opts...)
	runtime.ReadMemStats(&after)
	stopScrape()
	if err != nil {
		return result{}, err
	}
	var recv uint64
	for _, g := range rep.Groups {
		recv += g.Messages.Received
	}
	if recv == 0 || rep.Elapsed <= 0 {
		return result{}, fmt.Errorf("the run received nothing")
	}
	return result{
		rate:   float64(recv) / rep.Elapsed,
		allocs: float64(after.Mallocs-before.Mallocs) / float64(recv),
	}, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
