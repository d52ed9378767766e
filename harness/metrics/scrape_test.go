package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/metrics"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// faultScenario is a short run with a latency fault window from 1s to 2.5s.
const faultScenario = `
name: metrics-live
seed: 3
duration: 4s
graceful_stop: 2s
link: toxiproxy
groups:
  - {name: pow, rpc: Math/Pow, clients: 20, connections: 2, messages: 20, interval: 10ms, payload: 64B}
faults:
  - {at: 1s, for: 1500ms, kind: latency, latency: 30ms, direction: downstream, scope: {group: pow}}
`

// runWith runs faultScenario feeding set, calling during once a while
// it runs, and returns its report.
func runWith(t *testing.T, set *metrics.Set) *reports.Report {
	t.Helper()
	sc, err := scenario.Parse("metrics-live.yaml", []byte(faultScenario))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := streambench.Run(ctx, sc, harness.WithMetrics(set))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// scrape GETs url and parses the text exposition with prometheus/common.
func scrape(url string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// value is the value of the series of family name whose labels include
// want; ok false when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsScrapeAgreesWithReport scrapes the endpoint while a run with a
// latency fault window goes on: the fault gauge is 1 inside the window and
// 0 outside, and at the end the counters equal the report's.
func TestMetricsScrapeAgreesWithReport(t *testing.T) {
	set := metrics.New(metrics.Labels{Scenario: "metrics-live", RunID: "t1"})
	srv, err := metrics.Serve("127.0.0.1:0", set)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	url := "http://" + srv.Addr() + "/metrics"

	type seen struct {
		at     time.Duration
		active float64
	}
	var (
		mu      sync.Mutex
		samples []seen
		errs    []error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			mfs, err := scrape(url)
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			} else if v, ok := value(mfs, metrics.FaultActive, map[string]string{"kind": "latency"}); ok {
				samples = append(samples, seen{time.Since(start), v})
			}
			mu.Unlock()
		}
	}()
	rep := runWith(t, set)
	close(stop)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("scrapes failed: %v", errs[0])
	}

	// The fault gauge: 1 at some scrape, and 1 at no scrape well outside
	// the window (the run's start is after the scrape loop's, by setup).
	fw := rep.Faults
	if len(fw) != 1 {
		t.Fatalf("report has %d fault windows, want 1", len(fw))
	}
	var on int
	for _, s := range samples {
		if s.active == 1 {
			on++
		}
	}
	if on == 0 {
		t.Errorf("streambench_fault_active{kind=latency} never 1 in %d scrapes during a %v fault window", len(samples), time.Duration((fw[0].End-fw[0].Start)*float64(time.Second)))
	}
	if last := samples[len(samples)-1]; last.active != 0 {
		t.Errorf("fault gauge %v at the end of the run, want 0", last.active)
	}

	// At the end: the counters equal report.json's (the sampler's last
	// window is taken when the clients are done).
	mfs, err := scrape(url)
	if err != nil {
		t.Fatal(err)
	}
	g := rep.Groups[0]
	lbl := map[string]string{"group": "pow", "rpc": g.RPC, "scenario": "metrics-live", "run_id": "t1"}
	for _, c := range []struct {
		name string
		want uint64
	}{
		{metrics.MessagesReceived, g.Messages.Received},
		{metrics.MessagesSent, g.Messages.Sent},
		{metrics.StreamsOpened, g.Streams.Opened},
		{metrics.Latency, uint64(g.Latency.Count)},
		{metrics.ActiveStreams, 0},
	} {
		got, ok := value(mfs, c.name, lbl)
		if !ok || got != float64(c.want) {
			t.Errorf("%s = %v (found %v), report says %d", c.name, got, ok, c.want)
		}
	}
	for end, n := range g.Ends {
		l := map[string]string{"group": "pow", "end": end}
		if got, _ := value(mfs, metrics.StreamsEnded, l); got != float64(n) {
			t.Errorf("%s{end=%q} = %v, report says %d", metrics.StreamsEnded, end, got, n)
		}
	}
	if g.Messages.Received == 0 {
		t.Fatal("the run received nothing: the comparison proves nothing")
	}
	if _, ok := mfs[metrics.Latency]; !ok || !strings.Contains(mfs[metrics.Latency].GetHelp(), "native") {
		t.Errorf("no latency histogram in the scrape")
	}
}
