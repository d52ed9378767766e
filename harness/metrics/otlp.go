package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	promb "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// OTLPExporter pushes a set over OTLP/HTTP.
type OTLPExporter struct{ mp *sdkmetric.MeterProvider }

// OTLP pushes s to endpoint (an http URL to a loopback OTLP/HTTP metrics
// receiver, e.g. http://127.0.0.1:4318/v1/metrics, or Prometheus's
// http://127.0.0.1:9090/api/v1/otlp/v1/metrics) every interval and once
// at Close, with the OTel Go SDK: a periodic reader whose producer is the
// OTel Prometheus bridge over s's registry (so OTLP carries the very
// figures the scrape endpoint shows; a native histogram becomes an
// exponential histogram) and the otlpmetrichttp exporter.
func OTLP(endpoint string, s *Set, every time.Duration) (*OTLPExporter, error) {
	if _, err := loopbackURL(endpoint); err != nil {
		return nil, fmt.Errorf("--otlp: %w", err)
	}
	if every <= 0 {
		every = time.Second
	}
	exp, err := otlpmetrichttp.New(context.Background(),
		otlpmetrichttp.WithEndpointURL(endpoint),
		otlpmetrichttp.WithTimeout(pushTimeout),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}),
	)
	if err != nil {
		return nil, fmt.Errorf("--otlp: %w", err)
	}
	reader := sdkmetric.NewPeriodicReader(exp,
		sdkmetric.WithInterval(every),
		sdkmetric.WithTimeout(pushTimeout),
		sdkmetric.WithProducer(promb.NewMetricProducer(promb.WithGatherer(s.Gatherer()))),
	)
	return &OTLPExporter{mp: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}, nil
}

// Close exports the final figures and stops, within ctx.
func (e *OTLPExporter) Close(ctx context.Context) error {
	return errors.Join(e.mp.ForceFlush(ctx), e.mp.Shutdown(ctx))
}
