package record

import (
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestBucketEdges(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<20; us++ {
		i := bucketOf(us)
		if i < prev || i > prev+1 {
			t.Fatalf("bucketOf(%d) = %d after %d: buckets must be contiguous", us, i, prev)
		}
		if us > upperEdge(i) || (i > 0 && us <= upperEdge(i-1)) {
			t.Fatalf("value %d in bucket %d outside (%d, %d]", us, i, upperEdge(i-1), upperEdge(i))
		}
		prev = i
	}
	if i := bucketOf(1<<63 + 5); i >= numBuckets {
		t.Fatalf("bucketOf(max) = %d, want < %d", i, numBuckets)
	}
}

func TestBucketsQuantileWithinOneBucket(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var b Buckets
	vals := make([]time.Duration, 10000)
	for i := range vals {
		vals[i] = time.Duration(rnd.ExpFloat64()*50e3) * time.Microsecond
		b.Record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := vals[int(q*float64(len(vals))+0.5)-1]
		got := b.Quantile(q)
		if got < want || float64(got) > float64(want)*1.125+float64(time.Microsecond) {
			t.Errorf("p%v = %v, want within [%v, %v]", q*100, got, want, time.Duration(float64(want)*1.125))
		}
	}
	if b.Max() != vals[len(vals)-1].Truncate(time.Microsecond) {
		t.Errorf("max = %v, want %v", b.Max(), vals[len(vals)-1])
	}
	if b.Count() != uint64(len(vals)) {
		t.Errorf("count = %d, want %d", b.Count(), len(vals))
	}
	var empty Buckets
	if empty.Quantile(0.99) != 0 {
		t.Error("empty quantile != 0")
	}
}

func TestBucketsConcurrent(t *testing.T) {
	var b Buckets
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				b.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if b.Count() != 8000 || b.Max() != 7999*time.Microsecond {
		t.Fatalf("count %d max %v, want 8000 and 7.999ms", b.Count(), b.Max())
	}
}

func BenchmarkBucketsRecord(b *testing.B) {
	var h Buckets
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := 1500 * time.Microsecond
		for pb.Next() {
			h.Record(d)
		}
	})
}
