package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/metrics"
)

// metricsFlags are run's live-metric outputs (docs/metrics.md), all off
// by default.
type metricsFlags struct {
	listen, remoteWrite, otlp string
	runID                     string
	interval                  time.Duration
}

// runIDEnv names the environment variable that sets run_id when --run-id
// is not given.
const runIDEnv = "STREAMBENCH_RUN_ID"

func (m *metricsFlags) flags(fl *pflag.FlagSet) {
	fl.StringVar(&m.listen, "metrics-listen", "", "serve live Prometheus metrics at http://ADDR/metrics while the run goes on (loopback host:port, e.g. 127.0.0.1:9464)")
	fl.StringVar(&m.remoteWrite, "remote-write", "", "push live metrics by Prometheus remote write 2.0 to this loopback URL (e.g. http://127.0.0.1:9090/api/v1/write)")
	fl.StringVar(&m.otlp, "otlp", "", "push live metrics over OTLP/HTTP to this loopback URL (e.g. http://127.0.0.1:4318/v1/metrics)")
	fl.StringVar(&m.runID, "run-id", "", "label every live metric with run_id=ID, to sum a sharded run's processes (default $"+runIDEnv+")")
	fl.DurationVar(&m.interval, "metrics-interval", time.Second, "how often --remote-write and --otlp push (they push once more at the end)")
}

// liveMetrics is a run's metric set and its outputs.
type liveMetrics struct {
	set    *metrics.Set
	server *metrics.Server
	rw     *metrics.RemoteWriter
	otlp   *metrics.OTLPExporter
}

// start makes plan's metric set and starts the outputs asked for; nil when
// none is. A bad address is bad input (exit 2).
func (m *metricsFlags) start(plan *harness.Plan, stderr io.Writer) (*liveMetrics, error) {
	if m.listen == "" && m.remoteWrite == "" && m.otlp == "" {
		return nil, nil
	}
	if m.interval <= 0 {
		return nil, exitf(ExitBadInput, "--metrics-interval: %v; want > 0", m.interval)
	}
	l := metrics.Labels{Scenario: plan.Name(), RunID: m.runID}
	if l.RunID == "" {
		l.RunID = os.Getenv(runIDEnv)
	}
	if sh := plan.Shard(); sh != nil {
		l.Shard = sh.String()
	}
	lm := &liveMetrics{set: metrics.New(l)}
	var err error
	if m.listen != "" {
		if lm.server, err = metrics.Serve(m.listen, lm.set); err != nil {
			return nil, exitf(ExitBadInput, "--metrics-listen: %v", err)
		}
		fmt.Fprintf(stderr, "streambench: metrics at http://%s/metrics\n", lm.server.Addr())
	}
	if m.remoteWrite != "" {
		if lm.rw, err = metrics.RemoteWrite(m.remoteWrite, lm.set, m.interval); err != nil {
			lm.stop(stderr)
			return nil, exitf(ExitBadInput, "%v", err)
		}
	}
	if m.otlp != "" {
		if lm.otlp, err = metrics.OTLP(m.otlp, lm.set, m.interval); err != nil {
			lm.stop(stderr)
			return nil, exitf(ExitBadInput, "%v", err)
		}
	}
	return lm, nil
}

// stopTimeout bounds the final pushes and the endpoint's shutdown.
const stopTimeout = 10 * time.Second

// stop pushes the final figures and closes the outputs. A push that failed
// is a warning: the run's own report is unaffected.
func (lm *liveMetrics) stop(stderr io.Writer) {
	if lm == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var errs []error
	if lm.rw != nil {
		errs = append(errs, lm.rw.Close())
	}
	if lm.otlp != nil {
		errs = append(errs, lm.otlp.Close(ctx))
	}
	if lm.server != nil {
		errs = append(errs, lm.server.Close(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "streambench: warning: live metrics: %v\n", err)
	}
}
