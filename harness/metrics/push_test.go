package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/klauspost/compress/snappy"
	writev2 "github.com/prometheus/client_golang/exp/api/remote/genproto/v2"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	otlpmetrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/streambench/streambench/harness/metrics"
	"github.com/streambench/streambench/harness/record"
)

// fedSet is a set fed one known sample: 1000 messages received, 40 of
// them with latencies 1ms .. 40ms, a fault of kind latency active.
func fedSet(t *testing.T) *metrics.Set {
	t.Helper()
	s := metrics.New(metrics.Labels{Scenario: "push", Shard: "1/4", RunID: "r7"})
	h := record.NewHistogram()
	for i := int64(1); i <= 40; i++ {
		if err := h.RecordValue(i * 1000); err != nil {
			t.Fatal(err)
		}
	}
	s.Observe(metrics.Sample{
		Groups: []metrics.Group{{
			Name: "pow", RPC: "Math/Pow", Active: 7, Started: 12, Sent: 3, Received: 1000,
			Ends: map[string]uint64{"complete": 5}, Violations: map[string]uint64{"gap": 2},
			Latency: h, Recovery: (*hdrhistogram.Histogram)(nil),
		}},
		Faults: map[string]bool{"latency": true, "sever": false},
	})
	return s
}

// receiver is an in-test HTTP endpoint keeping the request bodies it got.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	hdr    []http.Header
	reply  func(w http.ResponseWriter)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, b)
	rc.hdr = append(rc.hdr, r.Header.Clone())
	rc.mu.Unlock()
	rc.reply(w)
}

func (rc *receiver) last(t *testing.T) ([]byte, http.Header) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) == 0 {
		t.Fatal("the receiver got no request")
	}
	return rc.bodies[len(rc.bodies)-1], rc.hdr[len(rc.hdr)-1]
}

// TestMetricsRemoteWrite decodes what RemoteWrite sends (snappy, remote
// write 2.0 protobuf) and finds the sample's figures in it.
func TestMetricsRemoteWrite(t *testing.T) {
	rc := &receiver{reply: func(w http.ResponseWriter) {
		w.Header().Set("X-Prometheus-Remote-Write-Samples-Written", "1")
		w.WriteHeader(http.StatusNoContent)
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rw, err := metrics.RemoteWrite(srv.URL+"/api/v1/write", fedSet(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil { // the final push
		t.Fatal(err)
	}
	body, hdr := rc.last(t)
	if got := hdr.Get("Content-Type"); !strings.Contains(got, "io.prometheus.write.v2.Request") {
		t.Errorf("Content-Type %q, want remote write 2.0", got)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatalf("snappy: %v", err)
	}
	var req writev2.Request
	if err := proto.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	series := map[string]*writev2.TimeSeries{}
	for _, ts := range req.GetTimeseries() {
		l := writev2.DesymbolizeLabels(ts.GetLabelsRefs(), req.GetSymbols(), nil)
		m := map[string]string{}
		for i := 0; i+1 < len(l); i += 2 {
			m[l[i]] = l[i+1]
		}
		if m["run_id"] != "r7" || m["shard"] != "1/4" || m["scenario"] != "push" {
			t.Errorf("series %v lacks the run's labels", m)
		}
		key := m["__name__"]
		for _, k := range []string{"kind", "end", "le"} {
			if v, ok := m[k]; ok {
				key += "{" + k + "=" + v + "}"
			}
		}
		series[key] = ts
	}
	for _, c := range []struct {
		key  string
		want float64
	}{
		{metrics.MessagesReceived, 1000},
		{metrics.ActiveStreams, 7},
		{metrics.StreamsOpened, 12},
		{metrics.StreamsEnded + "{end=complete}", 5},
		{metrics.Violations + "{kind=gap}", 2},
		{metrics.FaultActive + "{kind=latency}", 1},
		{metrics.FaultActive + "{kind=sever}", 0},
		{metrics.Latency + "_count", 40},
		{metrics.Latency + "_bucket{le=0.01}", 10},
		{metrics.Latency + "_bucket{le=+Inf}", 40},
	} {
		ts := series[c.key]
		if ts == nil || len(ts.GetSamples()) != 1 {
			t.Errorf("no sample of %s", c.key)
			continue
		}
		if got := ts.GetSamples()[0].GetValue(); got != c.want {
			t.Errorf("%s = %v, want %v", c.key, got, c.want)
		}
	}
	native := series[metrics.Latency]
	if native == nil || len(native.GetHistograms()) != 1 {
		t.Fatalf("no native histogram of %s", metrics.Latency)
	}
	if h := native.GetHistograms()[0]; h.GetCountInt() != 40 || h.GetSchema() != 3 || len(h.GetPositiveSpans()) == 0 {
		t.Errorf("native histogram: count %d schema %d spans %d, want 40, 3, some", h.GetCountInt(), h.GetSchema(), len(h.GetPositiveSpans()))
	}
}

// TestMetricsOTLP decodes what OTLP sends (OTLP/HTTP protobuf) and finds the
// sample's figures in it: counters as monotonic sums, the latency as an
// exponential histogram.
func TestMetricsOTLP(t *testing.T) {
	rc := &receiver{reply: func(w http.ResponseWriter) {
		b, _ := proto.Marshal(&colmetrics.ExportMetricsServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	exp, err := metrics.OTLP(srv.URL+"/v1/metrics", fedSet(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	body, _ := rc.last(t)
	var req colmetrics.ExportMetricsServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	found := map[string]*otlpmetrics.Metric{}
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				found[m.GetName()] = m
			}
		}
	}
	recv := found[metrics.MessagesReceived]
	if recv == nil || recv.GetSum() == nil || !recv.GetSum().GetIsMonotonic() {
		t.Fatalf("no monotonic sum %s in %d metrics", metrics.MessagesReceived, len(found))
	}
	dp := recv.GetSum().GetDataPoints()[0]
	if dp.GetAsDouble() != 1000 {
		t.Errorf("%s = %v, want 1000", metrics.MessagesReceived, dp.GetAsDouble())
	}
	attrs := map[string]string{}
	for _, kv := range dp.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if attrs["group"] != "pow" || attrs["run_id"] != "r7" || attrs["shard"] != "1/4" {
		t.Errorf("attributes %v, want group, run_id and shard", attrs)
	}
	lat := found[metrics.Latency]
	if lat == nil || lat.GetExponentialHistogram() == nil {
		t.Fatalf("%s is not an exponential histogram: %v", metrics.Latency, lat)
	}
	if n := lat.GetExponentialHistogram().GetDataPoints()[0].GetCount(); n != 40 {
		t.Errorf("%s count %d, want 40", metrics.Latency, n)
	}
}

func TestMetricsOutputsRefuseNonLoopback(t *testing.T) {
	set := metrics.New(metrics.Labels{Scenario: "x"})
	for _, c := range []struct {
		name string
		try  func() error
	}{
		{"listen", func() error { _, err := metrics.Serve("0.0.0.0:0", set); return err }},
		{"listen-host", func() error { _, err := metrics.Serve("example.com:9464", set); return err }},
		{"remote-write", func() error {
			_, err := metrics.RemoteWrite("http://10.0.0.1:9090/api/v1/write", set, time.Second)
			return err
		}},
		{"remote-write-https", func() error {
			_, err := metrics.RemoteWrite("https://127.0.0.1:9090/api/v1/write", set, time.Second)
			return err
		}},
		{"otlp", func() error {
			_, err := metrics.OTLP("http://192.168.1.2:4318/v1/metrics", set, time.Second)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.try()
			if err == nil || !strings.Contains(err.Error(), "loopback") && !strings.Contains(err.Error(), "scheme") {
				t.Errorf("got %v, want a refusal naming loopback", err)
			}
		})
	}
}
