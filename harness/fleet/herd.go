package fleet

import (
	"fmt"
	"math"
	"time"

	"github.com/streambench/streambench/reports"
)

// herdRatio is the least spread, as a fraction of the profile's, of a
// fleet's reconnect attempts that is not lockstep.
const herdRatio = 0.3

// Herd judges whether clients cut at once (at cut) disperse. Each
// client's k-th connection attempt after cut is gathered across the
// fleet; under p, attempt k's time varies by the jitter of the pauses
// before it (the first pause, Base, has none), so across clients its
// standard deviation should approach the profile's. The observed
// variances, pooled over the attempts whose profile deviation is at
// least 2 ms, must reach herdRatio of the profile's (as deviations): a
// fleet in lockstep fails. Actual also gives the peak attempts per bin
// over the mean bin, from the cut to the last attempt, of the attempts
// after each client's second (the first two follow the cut with no
// jitter by gRPC's spec: at once, then Base later). Fewer than three
// clients with attempts after cut, or no attempt whose profile spread is
// measurable, is no data.
func Herd(clients []Client, cut time.Time, p Profile, bin time.Duration) reports.Verdict {
	p = p.withDefaults()
	if bin <= 0 {
		bin = 100 * time.Millisecond
	}
	var times [][]time.Duration // per client, attempts after cut
	var all []time.Duration
	for _, c := range clients {
		var ts []time.Duration
		for _, x := range byOpened(c.Conns, connOpened) {
			if !x.Opened.Before(cut) {
				ts = append(ts, x.Opened.Sub(cut))
			}
		}
		if len(ts) > 0 {
			times = append(times, ts)
		}
		if len(ts) > 2 {
			all = append(all, ts[2:]...) // the attempts jitter can spread
		}
	}
	expected := fmt.Sprintf("attempts of clients cut at once spread at least %.0f%% as much as %s", herdRatio*100, p)
	if len(times) < 3 {
		return verdict("herd", expected, 0, fmt.Sprintf("%d clients with attempts after the cut (need 3)", len(times)), nil)
	}
	var obsVar, expVar float64
	used := 0
	for k := 2; ; k++ { // attempt k (0-based) follows pauses 0..k-1
		var xs []float64
		for _, ts := range times {
			if k < len(ts) {
				xs = append(xs, float64(ts[k]))
			}
		}
		if len(xs) < 3 {
			break
		}
		var ev float64
		for i := 1; i < k; i++ {
			s := float64(p.delay(i)) * p.Jitter
			ev += s * s / 3 // a uniform draw on ±s
		}
		if math.Sqrt(ev) < float64(2*time.Millisecond) {
			continue
		}
		obsVar += variance(xs)
		expVar += ev
		used++
	}
	peak, mean := peakOverMean(all, bin)
	if used == 0 {
		return verdict("herd", expected, 0, fmt.Sprintf("%d clients, too few attempts after the cut to see their spread (peak %d per %v, mean %.1f)",
			len(times), peak, bin, mean), nil)
	}
	ratio := math.Sqrt(obsVar / expVar)
	actual := fmt.Sprintf("%d clients: spread %.0f%% of the profile's over %d attempts each (%s observed, %s by the profile); peak %d attempts per %v, %.1f× the mean %.1f",
		len(times), ratio*100, used, ms(time.Duration(math.Sqrt(obsVar/float64(used)))), ms(time.Duration(math.Sqrt(expVar/float64(used)))),
		peak, bin, float64(peak)/max(mean, 1e-9), mean)
	var fails []string
	if ratio < herdRatio {
		fails = append(fails, fmt.Sprintf("the fleet reconnects in lockstep: %s", actual))
	}
	return verdict("herd", expected, used, actual, fails)
}

func variance(xs []float64) float64 {
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return v / float64(len(xs)-1)
}

// peakOverMean bins the attempts (offsets from the cut) and returns the
// fullest bin and the mean over bins up to the last attempt.
func peakOverMean(ts []time.Duration, bin time.Duration) (int, float64) {
	if len(ts) == 0 {
		return 0, 0
	}
	counts := map[int64]int{}
	var last int64
	for _, t := range ts {
		b := int64(t / bin)
		counts[b]++
		last = max(last, b)
	}
	peak := 0
	for _, n := range counts {
		peak = max(peak, n)
	}
	return peak, float64(len(ts)) / float64(last+1)
}
