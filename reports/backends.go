package reports

import (
	"math"
	"slices"
	"sort"
)

// Backends is what a run against several backends measured per backend:
// which backend each stream rode on, as the link saw it (the backend each
// connection went to), every second.
type Backends struct {
	// Balancing says how connections spread ("l4 round robin",
	// "client round_robin").
	Balancing string `json:"balancing"`
	// Names are every backend that was ever in service, in the order
	// they joined.
	Names []string `json:"names"`
	// Windows are each backend's figures at the end of every second.
	Windows []BackendWindow `json:"windows,omitempty"`
	// Spread is how evenly the streams spread over the backends in
	// service, every second.
	Spread []SpreadWindow `json:"spread,omitempty"`
}

// BackendWindow is one backend's figures over one second.
type BackendWindow struct {
	// Offset is the window's end, in seconds since Start.
	Offset  float64 `json:"offset_seconds"`
	Backend string  `json:"backend"`
	// Up: the backend was in service at the window's end.
	Up bool `json:"up"`
	// Active is how many streams were open on it at the window's end.
	Active int64 `json:"active"`
	// Opened and Messages are the streams opened on it and the messages
	// received from it during the window.
	Opened   uint64 `json:"opened"`
	Messages uint64 `json:"messages"`
}

// SpreadWindow is how evenly the open streams spread over the backends in
// service at the end of one second.
type SpreadWindow struct {
	Offset float64 `json:"offset_seconds"`
	// Backends is how many were in service; Total the streams open on
	// them.
	Backends int   `json:"backends"`
	Total    int64 `json:"total"`
	// Min and Max are the fewest and most streams one of them held, and
	// MinBackend and MaxBackend which (the first in join order on a tie).
	Min        int64  `json:"min"`
	Max        int64  `json:"max"`
	MinBackend string `json:"min_backend"`
	MaxBackend string `json:"max_backend"`
	// Ratio is Max/Min; absent when Min is 0 (a backend with nothing: the
	// ratio is infinite).
	Ratio *float64 `json:"max_min_ratio,omitempty"`
	// CV is the coefficient of variation (standard deviation / mean) of
	// the backends' streams: 0 is perfectly even.
	CV float64 `json:"cv"`
	// Jain is Jain's fairness index, (Σx)² / (n·Σx²): 1 is perfectly even,
	// 1/n is everything on one backend.
	Jain float64 `json:"jain"`
}

// Spread computes the spread of the windows at one offset: over the
// backends in service, of their open streams. ok is false when no backend
// was in service or no stream was open.
func Spread(at []BackendWindow) (SpreadWindow, bool) {
	var up []BackendWindow
	for _, w := range at {
		if w.Up {
			up = append(up, w)
		}
	}
	if len(up) == 0 {
		return SpreadWindow{}, false
	}
	s := SpreadWindow{Offset: up[0].Offset, Backends: len(up), Min: math.MaxInt64, Max: -1}
	var sum, sq float64
	for _, w := range up {
		x := float64(w.Active)
		sum += x
		sq += x * x
		s.Total += w.Active
		if w.Active < s.Min {
			s.Min, s.MinBackend = w.Active, w.Backend
		}
		if w.Active > s.Max {
			s.Max, s.MaxBackend = w.Active, w.Backend
		}
	}
	if s.Total == 0 {
		return SpreadWindow{}, false
	}
	if s.Min > 0 {
		r := float64(s.Max) / float64(s.Min)
		s.Ratio = &r
	}
	n := float64(len(up))
	mean := sum / n
	s.CV = math.Sqrt(math.Max(sq/n-mean*mean, 0)) / mean
	s.Jain = sum * sum / (n * sq)
	return s, true
}

// SpreadOf computes the spread of every second of windows (as a report
// holds them, ordered by offset).
func SpreadOf(windows []BackendWindow) []SpreadWindow {
	byOffset := map[float64][]BackendWindow{}
	var offsets []float64
	for _, w := range windows {
		if _, ok := byOffset[w.Offset]; !ok {
			offsets = append(offsets, w.Offset)
		}
		byOffset[w.Offset] = append(byOffset[w.Offset], w)
	}
	sort.Float64s(offsets)
	var out []SpreadWindow
	for _, off := range offsets {
		if s, ok := Spread(byOffset[off]); ok {
			out = append(out, s)
		}
	}
	return out
}

// MinShare is the share of the open streams the emptiest backend held.
func (s SpreadWindow) MinShare() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Min) / float64(s.Total)
}

// mergeBackends sums the shards' per-backend windows that fall in the same
// second of the same backend (offsets aligned by shift) and recomputes the
// spread: each shard measured its own clients. Nil when no shard measured
// per backend.
func mergeBackends(shards []*Report, shift func(*Report) float64) *Backends {
	type key struct {
		backend string
		second  int
	}
	var out *Backends
	sums := map[key]*BackendWindow{}
	for _, r := range shards {
		b := r.Backends
		if b == nil {
			continue
		}
		if out == nil {
			out = &Backends{Balancing: b.Balancing}
		}
		for _, n := range b.Names {
			if !slices.Contains(out.Names, n) {
				out.Names = append(out.Names, n)
			}
		}
		for _, w := range b.Windows {
			k := key{w.Backend, int(math.Round(w.Offset + shift(r)))}
			m := sums[k]
			if m == nil {
				m = &BackendWindow{Offset: float64(k.second), Backend: w.Backend}
				sums[k] = m
			}
			m.Up = m.Up || w.Up
			m.Active += w.Active
			m.Opened += w.Opened
			m.Messages += w.Messages
		}
	}
	if out == nil {
		return nil
	}
	order := map[string]int{}
	for i, n := range out.Names {
		order[n] = i
	}
	for _, w := range sums {
		out.Windows = append(out.Windows, *w)
	}
	sort.Slice(out.Windows, func(i, j int) bool {
		a, b := out.Windows[i], out.Windows[j]
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		return order[a.Backend] < order[b.Backend]
	})
	out.Spread = SpreadOf(out.Windows)
	return out
}

// SettleRatio is the spread that counts as even for Rebalance: the most
// streams on a backend in service over the fewest, at most 1.5 (the
// balance assertion's default bound).
const SettleRatio = 1.5

// Rebalance is how long, in seconds, the slowest backend_join of the run
// took until the spread was within SettleRatio (its first second within
// bound). A join after which the spread never came within bound counts
// the time from the join to the run's duration (a lower bound: never is
// slower still). ok is false without a join or per-backend figures.
func (r *Report) Rebalance() (seconds float64, ok bool) {
	if r.Backends == nil {
		return 0, false
	}
	for _, e := range r.Events {
		if e.Kind != "backend_join" {
			continue
		}
		took := math.Max(r.Scenario.DurationSeconds-e.Offset, 0)
		for _, s := range r.Backends.Spread {
			if s.Offset > e.Offset && s.Ratio != nil && *s.Ratio <= SettleRatio {
				took = s.Offset - e.Offset
				break
			}
		}
		seconds, ok = math.Max(seconds, took), true
	}
	return seconds, ok
}

// MeanCV is the mean over the run's duration of the per-second coefficient
// of variation of streams per backend: 0 is even all along. ok is false
// without per-backend figures.
func (r *Report) MeanCV() (float64, bool) {
	if r.Backends == nil {
		return 0, false
	}
	var sum float64
	n := 0
	for _, s := range r.Backends.Spread {
		if r.Scenario.DurationSeconds == 0 || s.Offset <= r.Scenario.DurationSeconds {
			sum += s.CV
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}
