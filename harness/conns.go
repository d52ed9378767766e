package harness

import (
	"context"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/reports"
)

// connStat is one ClientConn's figures: the latency of every message on
// its streams, and the open calls made on it.
type connStat struct {
	clients int
	latency record.Buckets
	// call is how long each open call took: gRPC blocks there while the
	// connection is at the server's max_concurrent_streams, or not ready.
	call             record.Buckets
	waiting, waitMax atomic.Int64
}

// interceptor times every client's stream open on the connection and
// counts the opens in progress at once (streambench's own streams,
// ownStreams, are not a client's). It runs once per stream, not per
// message.
func (c *connStat) interceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if ctx.Value(ownStreamKey{}) != nil {
			return streamer(ctx, desc, cc, method, opts...)
		}
		record.RaiseTo(&c.waitMax, c.waiting.Add(1))
		began := time.Now()
		s, err := streamer(ctx, desc, cc, method, opts...)
		c.call.Record(time.Since(began))
		c.waiting.Add(-1)
		return s, err
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func openWaitOf(b *record.Buckets, peak int64) reports.OpenWait {
	return reports.OpenWait{
		PeakWaiting: peak,
		Calls:       b.Count(),
		P50MS:       ms(b.Quantile(0.50)),
		P99MS:       ms(b.Quantile(0.99)),
		MaxMS:       ms(b.Max()),
	}
}

// connReports fills a group report's OpenWait and, with more than one
// connection, its ConnStats.
func connReports(g *group, out *reports.Group) {
	if len(g.stats) == 0 {
		return
	}
	var all record.Buckets
	var peak int64
	for i, c := range g.stats {
		all.Merge(&c.call)
		peak = max(peak, c.waitMax.Load())
		if g.share.totalConns > 1 {
			out.ConnStats = append(out.ConnStats, reports.ConnStats{
				Index:    g.share.conns[i],
				Clients:  c.clients,
				Messages: c.latency.Count(),
				P50MS:    ms(c.latency.Quantile(0.50)),
				P99MS:    ms(c.latency.Quantile(0.99)),
				MaxMS:    ms(c.latency.Max()),
				OpenWait: openWaitOf(&c.call, c.waitMax.Load()),
			})
		}
	}
	if all.Count() > 0 {
		w := openWaitOf(&all, peak)
		out.OpenWait = &w
	}
}
