package math

import (
	"context"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
)

// nopSink counts nothing: the benchmarks measure the driver and grpc-go.
type nopSink struct{}

func (nopSink) Sent()                                   {}
func (nopSink) Received(time.Duration)                  {}
func (nopSink) Violated(record.Kind, uint64)            {}
func (nopSink) Started()                                {}
func (nopSink) Ended(record.End, time.Duration, string) {}

// benchDriver runs one stream per iteration over bufconn against the
// correct server and reports ns and allocs per message too (both sides of
// the connection run in this process, so allocs count the server's).
func benchDriver(b *testing.B, f driver.Factory, msgs int) {
	cc, _ := serve(b, New())
	d := f(cc, driver.Params{ID: 1, Messages: msgs, Base: 1, Payload: 64}, nopSink{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if end := d.Stream(ctx, context.Background()); end.Class != record.Complete {
			b.Fatalf("end %v", end.Key())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*msgs), "ns/msg")
}

func BenchmarkPowDriver(b *testing.B)  { benchDriver(b, NewPowDriver, 100) }
func BenchmarkSumDriver(b *testing.B)  { benchDriver(b, NewSumDriver, 100) }
func BenchmarkSqrtDriver(b *testing.B) { benchDriver(b, NewSqrtDriver, 100) }
