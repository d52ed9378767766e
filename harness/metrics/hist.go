package metrics

import (
	"math"
	"sort"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// nativeSchema is the native histograms' resolution: 2^3 = 8 buckets per
// power of two, each about 9% wide (client_golang's bucket factor 1.1).
const nativeSchema = 3

// nativeBounds are the upper bounds, within [0.5, 1), of the buckets of one
// power of two at nativeSchema, as client_golang computes them.
var nativeBounds = func() []float64 {
	n := 1 << nativeSchema
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Exp2(float64(i)/float64(n)) / 2
	}
	return out
}()

// nativeKey is the index of the native bucket holding v (> 0): bucket i
// holds (2^((i-1)/8), 2^(i/8)].
func nativeKey(v float64) int {
	frac, exp := math.Frexp(v)
	return sort.SearchFloat64s(nativeBounds, frac) + (exp-1)*len(nativeBounds)
}

// hist is one series of a latency-like histogram, cumulative over the run:
// classic bucket counts and native bucket counts, filled from HDR
// histograms a bucket at a time (so its cost is per HDR bucket, never per
// message).
type hist struct {
	classic []uint64 // per classicBuckets bound; values above the last are only in count
	native  map[int]uint64
	count   uint64
	sum     float64
}

// addHDR adds every value of h (µs) in seconds: each HDR bucket's values at
// the bucket's lowest value (HDR buckets are 1 µs wide below 2 ms and under
// 0.1% of the value above, so a value recorded exactly on a classic bound,
// 10 ms, falls in that bound's bucket).
func (s *hist) addHDR(h *hdrhistogram.Histogram) {
	if h == nil || h.TotalCount() == 0 {
		return
	}
	if s.native == nil {
		s.native = map[int]uint64{}
		s.classic = make([]uint64, len(classicBuckets))
	}
	for _, b := range h.Distribution() {
		if b.Count <= 0 {
			continue
		}
		n, v := uint64(b.Count), float64(b.From)/1e6
		if i := sort.SearchFloat64s(classicBuckets, v); i < len(classicBuckets) {
			s.classic[i] += n
		}
		s.native[nativeKey(v)] += n
		s.count += n
		s.sum += v * float64(b.Count)
	}
}

// metric is the series as one client_golang metric carrying both the
// classic buckets and the native ones.
func (s *hist) metric(desc *prometheus.Desc, lv ...string) (prometheus.Metric, error) {
	cum := make(map[float64]uint64, len(classicBuckets))
	var acc uint64
	for i, b := range classicBuckets {
		acc += s.classic[i]
		cum[b] = acc
	}
	m, err := prometheus.NewConstHistogram(desc, s.count, s.sum, cum, lv...)
	if err != nil {
		return nil, err
	}
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		return nil, err
	}
	h := out.Histogram
	h.Schema = proto.Int32(nativeSchema)
	h.ZeroThreshold = proto.Float64(prometheus.DefNativeHistogramZeroThreshold)
	h.ZeroCount = proto.Uint64(0)
	keys := make([]int, 0, len(s.native))
	for k := range s.native {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var prevCount int64
	for i, k := range keys {
		if i == 0 || k != keys[i-1]+1 {
			off := int32(k)
			if i > 0 {
				off = int32(k - keys[i-1] - 1)
			}
			h.PositiveSpan = append(h.PositiveSpan, &dto.BucketSpan{Offset: proto.Int32(off), Length: proto.Uint32(0)})
		}
		sp := h.PositiveSpan[len(h.PositiveSpan)-1]
		*sp.Length++
		c := int64(s.native[k])
		h.PositiveDelta = append(h.PositiveDelta, c-prevCount)
		prevCount = c
	}
	return dtoMetric{desc: desc, m: &out}, nil
}

// dtoMetric is a metric already written out.
type dtoMetric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (d dtoMetric) Desc() *prometheus.Desc { return d.desc }

func (d dtoMetric) Write(out *dto.Metric) error {
	proto.Merge(out, d.m)
	return nil
}
