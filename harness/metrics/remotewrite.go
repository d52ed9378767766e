package metrics

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/exp/api/remote"
	writev2 "github.com/prometheus/client_golang/exp/api/remote/genproto/v2"
	dto "github.com/prometheus/client_model/go"
)

// RemoteWriter pushes a set to a Prometheus remote-write receiver.
type RemoteWriter struct{ p *pusher }

// RemoteWrite pushes s to url (http, loopback; Prometheus's receiver is
// http://127.0.0.1:9090/api/v1/write) every interval and once at Close,
// as remote write 2.0 requests sent by client_golang's exp remote API
// (snappy-compressed protobuf, retried on 5xx and 429). A native histogram
// goes as a native histogram, its classic buckets as _bucket series.
func RemoteWrite(rawURL string, s *Set, every time.Duration) (*RemoteWriter, error) {
	u, err := loopbackURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--remote-write: %w", err)
	}
	path := u.Path
	base := *u
	base.Path, base.RawQuery = "", ""
	api, err := remote.NewAPI(base.String(),
		remote.WithAPIPath(path),
		remote.WithAPIHTTPClient(&http.Client{Timeout: pushTimeout}),
		remote.WithAPIBackoff(remote.BackoffConfig{Min: 100 * time.Millisecond, Max: time.Second, MaxRetries: 2}),
	)
	if err != nil {
		return nil, fmt.Errorf("--remote-write: %w", err)
	}
	return &RemoteWriter{p: startPusher(every, func(ctx context.Context) error {
		mfs, err := s.Gatherer().Gather()
		if err != nil {
			return fmt.Errorf("remote write: gather: %w", err)
		}
		req := WriteRequest(mfs, time.Now())
		if len(req.Timeseries) == 0 {
			return nil
		}
		if _, err := api.Write(ctx, remote.WriteV2MessageType, req); err != nil {
			return fmt.Errorf("remote write to %s: %w", rawURL, err)
		}
		return nil
	})}, nil
}

// Close pushes the final figures and stops; it returns the first error any
// push met.
func (w *RemoteWriter) Close() error { return w.p.close() }

// WriteRequest is mfs as one remote write 2.0 request stamped at now.
func WriteRequest(mfs []*dto.MetricFamily, now time.Time) *writev2.Request {
	st := writev2.NewSymbolTable()
	req := &writev2.Request{}
	ts := now.UnixMilli()
	add := func(name string, typ writev2.Metadata_MetricType, help string, m *dto.Metric, extra []string, s *writev2.Sample, h *writev2.Histogram) {
		lbls := []string{"__name__", name}
		for _, lp := range m.GetLabel() {
			lbls = append(lbls, lp.GetName(), lp.GetValue())
		}
		lbls = append(lbls, extra...)
		series := &writev2.TimeSeries{
			LabelsRefs: st.SymbolizeLabels(lbls, nil),
			Metadata:   &writev2.Metadata{Type: typ, HelpRef: st.Symbolize(help)},
		}
		if s != nil {
			series.Samples = []*writev2.Sample{s}
		}
		if h != nil {
			series.Histograms = []*writev2.Histogram{h}
		}
		req.Timeseries = append(req.Timeseries, series)
	}
	sample := func(v float64) *writev2.Sample { return &writev2.Sample{Value: v, Timestamp: ts} }
	for _, mf := range mfs {
		name, help := mf.GetName(), mf.GetHelp()
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add(name, writev2.Metadata_METRIC_TYPE_COUNTER, help, m, nil, sample(m.GetCounter().GetValue()), nil)
			case dto.MetricType_GAUGE:
				add(name, writev2.Metadata_METRIC_TYPE_GAUGE, help, m, nil, sample(m.GetGauge().GetValue()), nil)
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				if h.GetSchema() != 0 || len(h.GetPositiveSpan()) > 0 || h.GetZeroThreshold() > 0 {
					add(name, writev2.Metadata_METRIC_TYPE_HISTOGRAM, help, m, nil, nil, nativeHistogram(h, ts))
				}
				typ := writev2.Metadata_METRIC_TYPE_HISTOGRAM
				for _, b := range h.GetBucket() {
					add(name+"_bucket", typ, help, m, []string{"le", formatLE(b.GetUpperBound())}, sample(float64(b.GetCumulativeCount())), nil)
				}
				add(name+"_bucket", typ, help, m, []string{"le", "+Inf"}, sample(float64(h.GetSampleCount())), nil)
				add(name+"_sum", typ, help, m, nil, sample(h.GetSampleSum()), nil)
				add(name+"_count", typ, help, m, nil, sample(float64(h.GetSampleCount())), nil)
			}
		}
	}
	req.Symbols = st.Symbols()
	return req
}

// nativeHistogram is h's native part as remote write 2.0 carries it.
func nativeHistogram(h *dto.Histogram, ts int64) *writev2.Histogram {
	spans := func(in []*dto.BucketSpan) []*writev2.BucketSpan {
		out := make([]*writev2.BucketSpan, len(in))
		for i, s := range in {
			out[i] = &writev2.BucketSpan{Offset: s.GetOffset(), Length: s.GetLength()}
		}
		return out
	}
	return &writev2.Histogram{
		Count:          &writev2.Histogram_CountInt{CountInt: h.GetSampleCount()},
		Sum:            h.GetSampleSum(),
		Schema:         h.GetSchema(),
		ZeroThreshold:  h.GetZeroThreshold(),
		ZeroCount:      &writev2.Histogram_ZeroCountInt{ZeroCountInt: h.GetZeroCount()},
		NegativeSpans:  spans(h.GetNegativeSpan()),
		NegativeDeltas: h.GetNegativeDelta(),
		PositiveSpans:  spans(h.GetPositiveSpan()),
		PositiveDeltas: h.GetPositiveDelta(),
		Timestamp:      ts,
	}
}

// formatLE writes a bucket bound as Prometheus does.
func formatLE(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return fmt.Sprint(v)
}
