package record

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Buckets is a lock-free latency histogram for figures many goroutines
// record into at once (every stream of one connection): log-linear buckets
// of atomic counters, 8 per power of two, so a quantile is reported within
// 12.5% (its bucket's upper edge, never below the true value). It costs
// 4 KiB and no allocation per value; the zero value is ready to use.
// Reports use it where a full HdrHistogram per unit would be too large
// (one per connection at 100,000 streams).
type Buckets struct {
	counts [numBuckets]atomic.Uint64
	max    atomic.Int64 // µs
}

const (
	linearBuckets = 16 // values 0..15 µs get a bucket each
	subBits       = 3  // 8 sub-buckets per power of two above that
	numBuckets    = linearBuckets + (64-4)<<subBits
)

func bucketOf(us uint64) int {
	if us < linearBuckets {
		return int(us)
	}
	e := bits.Len64(us) - 1 // >= 4
	sub := (us >> (e - subBits)) & (1<<subBits - 1)
	return linearBuckets + (e-4)<<subBits + int(sub)
}

// upperEdge is the largest value that falls in bucket i (µs).
func upperEdge(i int) uint64 {
	if i < linearBuckets {
		return uint64(i)
	}
	i -= linearBuckets
	e := i>>subBits + 4
	sub := uint64(i & (1<<subBits - 1))
	return 1<<e + (sub+1)<<(e-subBits) - 1
}

// Record adds one value.
func (b *Buckets) Record(d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < 0 {
		us = 0
	}
	b.counts[bucketOf(uint64(us))].Add(1)
	RaiseTo(&b.max, us)
}

// Count returns how many values were recorded.
func (b *Buckets) Count() uint64 {
	var n uint64
	for i := range b.counts {
		n += b.counts[i].Load()
	}
	return n
}

// Max returns the largest value recorded (exact).
func (b *Buckets) Max() time.Duration { return time.Duration(b.max.Load()) * time.Microsecond }

// Quantile returns the value at quantile q (0..1): the upper edge of the
// bucket holding it, capped at Max. 0 when nothing was recorded.
func (b *Buckets) Quantile(q float64) time.Duration {
	var counts [numBuckets]uint64
	var total uint64
	for i := range b.counts {
		counts[i] = b.counts[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	rank = min(max(rank, 1), total)
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			v := time.Duration(upperEdge(i)) * time.Microsecond
			return min(v, b.Max())
		}
	}
	return b.Max()
}

// Merge adds o's values to b. Not atomic as a whole: merge after recording
// stopped for exact figures.
func (b *Buckets) Merge(o *Buckets) {
	for i := range o.counts {
		if n := o.counts[i].Load(); n > 0 {
			b.counts[i].Add(n)
		}
	}
	RaiseTo(&b.max, o.max.Load())
}

// RaiseTo sets a to v if v is larger, atomically (a running maximum that
// many goroutines update).
func RaiseTo(a *atomic.Int64, v int64) {
	for m := a.Load(); v > m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}
