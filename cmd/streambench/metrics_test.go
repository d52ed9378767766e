package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRunMetricsFlagsRefuseBadInput: every live-metric output is loopback
// only, and a bad address is bad input before anything runs.
func TestRunMetricsFlagsRefuseBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics-listen", "0.0.0.0:9464"}, "--metrics-listen"},
		{[]string{"--metrics-listen", "9464"}, "not host:port"},
		{[]string{"--remote-write", "http://10.1.2.3:9090/api/v1/write"}, "--remote-write"},
		{[]string{"--otlp", "ftp://127.0.0.1:4318/v1/metrics"}, "--otlp"},
		{[]string{"--otlp", "http://127.0.0.1:4318/v1/metrics", "--metrics-interval", "0s"}, "--metrics-interval"},
	} {
		t.Run(c.want, func(t *testing.T) {
			args := append([]string{"run", "--no-progress", "--duration", "1s", "--out", t.TempDir()}, c.args...)
			code, _, errs := cli(t, append(args, mini)...)
			if code != ExitBadInput || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, stderr %q; want %d naming %s", code, errs, ExitBadInput, c.want)
			}
		})
	}
}

// TestRunMetricsRemoteWrite: a run with --remote-write pushes to the
// receiver, at least once at the end.
func TestRunMetricsRemoteWrite(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/write" && strings.Contains(r.Header.Get("Content-Type"), "io.prometheus.write.v2.Request") {
			got.Add(1)
		}
		// A remote write 2.0 receiver says what it accepted.
		w.Header().Set("X-Prometheus-Remote-Write-Samples-Written", "1")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	code, out, errs := cli(t, "run", "--no-progress", "--duration", "1s", "--out", t.TempDir(),
		"--metrics-listen", "127.0.0.1:0", "--remote-write", srv.URL+"/api/v1/write", "--run-id", "ci-1", mini)
	if code != ExitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if got.Load() == 0 {
		t.Error("the receiver got no remote write")
	}
	if !strings.Contains(errs, "metrics at http://127.0.0.1:") || strings.Contains(errs, "warning") {
		t.Errorf("stderr: %s", errs)
	}
}
