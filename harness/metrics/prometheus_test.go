package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/metrics"
	"github.com/streambench/streambench/reports"
)

// prometheusBinary finds the Prometheus server the proof runs against:
// $STREAMBENCH_PROMETHEUS, or prometheus on PATH (deploy/prometheus/build.sh
// builds one). Without it the test skips, unless
// STREAMBENCH_REQUIRE_PROMETHEUS=1 makes that a failure.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv("STREAMBENCH_PROMETHEUS")
	if path == "" {
		path, _ = exec.LookPath("prometheus")
	}
	if path != "" {
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	if os.Getenv("STREAMBENCH_REQUIRE_PROMETHEUS") == "1" {
		t.Fatalf("STREAMBENCH_REQUIRE_PROMETHEUS=1 but no Prometheus: set STREAMBENCH_PROMETHEUS or build one with deploy/prometheus/build.sh (%q not found)", path)
	}
	t.Skip("no Prometheus server (set STREAMBENCH_PROMETHEUS, or build one with deploy/prometheus/build.sh)")
	return ""
}

// freePort returns a loopback port free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// promServer is a real Prometheus started for one test and stopped by its
// pid at the end.
type promServer struct {
	addr string
	cmd  *exec.Cmd
	done chan error
}

func startPrometheus(t *testing.T, bin, scrapeTarget string) *promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: streambench
    scrape_interval: 1s
    static_configs:
      - targets: [%q]
`, scrapeTarget)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.enable-remote-write-receiver",
		"--web.enable-otlp-receiver",
		"--log.level=warn",
	)
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &promServer{addr: addr, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("prometheus exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus not ready after 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("prometheus ready in %v at %s", time.Since(began).Round(time.Millisecond), addr)
	return p
}

// query runs an instant PromQL query and returns its single value; ok is
// false when the result is empty.
func (p *promServer) query(q string) (float64, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, false, err
	}
	if body.Status != "success" {
		return 0, false, fmt.Errorf("query %s: %s", q, body.Error)
	}
	switch len(body.Data.Result) {
	case 0:
		return 0, false, nil
	case 1:
	default:
		return 0, false, fmt.Errorf("query %s: %d series, want 1", q, len(body.Data.Result))
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, true, err
}

// await polls q until it equals want or limit passes.
func (p *promServer) await(t *testing.T, q string, want float64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for {
		v, ok, err := p.query(q)
		switch {
		case err != nil:
			last = err.Error()
		case !ok:
			last = "no series"
		case v == want:
			return
		default:
			last = strconv.FormatFloat(v, 'g', -1, 64)
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %s after %v, want %v", q, last, limit, want)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestPrometheusReceivesEachOutput is the proof with a real Prometheus: a
// short run with a latency fault window per output (scrape, remote write,
// OTLP), then PromQL over Prometheus's HTTP API agrees with report.json —
// messages received and streams opened exactly (each output sends once
// more after the last window), streams active at the end 0 and above 0
// during the run, the fault gauge 1 during its window and 0 at the end.
func TestPrometheusReceivesEachOutput(t *testing.T) {
	bin := prometheusBinary(t)
	scrapeSet := metrics.New(metrics.Labels{Scenario: "metrics-live", RunID: "scrape"})
	srv, err := metrics.Serve("127.0.0.1:0", scrapeSet)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	}()
	p := startPrometheus(t, bin, srv.Addr())

	outputs := []struct {
		runID string
		// latency are PromQL templates (%s: the series selector) of the
		// latency histogram's count that the output delivers: classic
		// _count for the scrape (Prometheus scrapes classic buckets unless
		// told otherwise), native and classic for remote write, native
		// (from OTLP's exponential histogram) for OTLP.
		latency []string
		start   func(*metrics.Set) (stop func() error, err error)
	}{
		{"scrape", []string{metrics.Latency + "_count%s"}, nil},
		{"remote-write", []string{"histogram_count(" + metrics.Latency + "%s)", metrics.Latency + "_count%s"}, func(s *metrics.Set) (func() error, error) {
			w, err := metrics.RemoteWrite("http://"+p.addr+"/api/v1/write", s, time.Second)
			if err != nil {
				return nil, err
			}
			return w.Close, nil
		}},
		{"otlp", []string{"histogram_count(" + metrics.Latency + "%s)"}, func(s *metrics.Set) (func() error, error) {
			e, err := metrics.OTLP("http://"+p.addr+"/api/v1/otlp/v1/metrics", s, time.Second)
			if err != nil {
				return nil, err
			}
			return func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				return e.Close(ctx)
			}, nil
		}},
	}
	for _, o := range outputs {
		t.Run(o.runID, func(t *testing.T) {
			began := time.Now()
			set := scrapeSet
			var rep *reports.Report
			if o.start == nil {
				// Prometheus applies new scrape targets on a 5s tick: wait
				// for its first scrape, or the run is over before the next.
				p.await(t, `up{job="streambench"}`, 1, 30*time.Second)
				rep = runWith(t, set)
			} else {
				set = metrics.New(metrics.Labels{Scenario: "metrics-live", RunID: o.runID})
				stop, err := o.start(set)
				if err != nil {
					t.Fatal(err)
				}
				rep = runWith(t, set)
				if err := stop(); err != nil {
					t.Fatal(errors.Join(errors.New("final push"), err))
				}
			}
			g := rep.Groups[0]
			sel := fmt.Sprintf(`{run_id=%q, group="pow"}`, o.runID)
			p.await(t, metrics.MessagesReceived+sel, float64(g.Messages.Received), 15*time.Second)
			p.await(t, metrics.StreamsOpened+sel, float64(g.Streams.Opened), 15*time.Second)
			p.await(t, metrics.ActiveStreams+sel, 0, 15*time.Second)
			for _, q := range o.latency {
				p.await(t, fmt.Sprintf(q, sel), float64(g.Latency.Count), 15*time.Second)
			}
			p.await(t, fmt.Sprintf(`max_over_time(%s%s[5m]) > bool 0`, metrics.ActiveStreams, sel), 1, 0)
			p.await(t, fmt.Sprintf(`max_over_time(%s{run_id=%q, kind="latency"}[5m])`, metrics.FaultActive, o.runID), 1, 5*time.Second)
			p.await(t, fmt.Sprintf(`%s{run_id=%q, kind="latency"}`, metrics.FaultActive, o.runID), 0, 5*time.Second)
			t.Logf("%s: %d messages received, agreed in %v", o.runID, g.Messages.Received, time.Since(began).Round(time.Millisecond))
		})
	}
}
