package metrics

import (
	"sort"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
)

// Labels are the run's labels (RunLabels); empty ones are left off.
type Labels struct {
	Scenario string
	// Shard is "i/n" for a shard of a sharded run.
	Shard string
	// RunID names the run across a fleet of processes.
	RunID string
}

func (l Labels) constLabels() prometheus.Labels {
	out := prometheus.Labels{"scenario": l.Scenario}
	if l.Shard != "" {
		out["shard"] = l.Shard
	}
	if l.RunID != "" {
		out["run_id"] = l.RunID
	}
	return out
}

// Sample is what the run's sampler hands the set once per interval.
type Sample struct {
	Groups []Group
	// Faults says, for every fault kind of the scenario, whether an
	// occurrence of it is active now.
	Faults map[string]bool
	// Backends are a target of several backends' figures (none for
	// other targets).
	Backends []Backend
}

// Backend is one backend's figures in a Sample, all client groups
// together: running totals and the streams open now.
type Backend struct {
	Name string
	// Up says the backend is in service behind the balancer.
	Up bool
	// Active is streams open on it now; Opened and Messages are running
	// totals of streams opened on it and messages received from it.
	Active, Opened, Messages uint64
}

// Group is one client group's figures in a Sample: running totals as the
// recorder counts them, and the histograms of the interval just ended.
type Group struct {
	Name, RPC string
	// Active is streams started and not yet ended.
	Active uint64
	// Started, Sent, Received, Outages and Recovered are running totals.
	Started, Sent, Received uint64
	Outages, Recovered      uint64
	// Ends counts stream ends by class (record.End.Key) so far.
	Ends map[string]uint64
	// Violations counts violations by kind so far.
	Violations map[string]uint64
	// Latency, Corrected and Recovery hold the values (µs) recorded in the
	// interval; nil when none.
	Latency, Corrected, Recovery *hdrhistogram.Histogram
	// Backlog is an open-loop group's waiting arrivals; OpenLoop says the
	// group is one.
	Backlog  uint64
	OpenLoop bool
}

// classicBuckets are the latency histograms' classic bucket bounds
// (seconds), for Prometheus servers that do not ingest native histograms.
var classicBuckets = []float64{
	.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60,
}

// Set is the live metric set of one run. Counters and gauges are exposed
// as the recorder's own running totals at the latest sample (so they equal
// the report's figures at the end); histograms carry native and classic
// buckets, accumulated from each interval's HDR histogram one HDR bucket
// at a time (not one observation per message, which would cost the
// sampler a call per message at 10^5-10^6 messages a second). It is safe for concurrent use: the sampler feeds it while
// outputs read it.
type Set struct {
	reg   *prometheus.Registry
	descs map[string]*prometheus.Desc

	mu     sync.Mutex
	latest Sample
	seen   bool
	// hists are the histogram series by metric name and [group, rpc].
	hists map[string]map[[2]string]*hist
}

// New returns an empty set with the run's labels.
func New(l Labels) *Set {
	s := &Set{
		reg:   prometheus.NewRegistry(),
		descs: map[string]*prometheus.Desc{},
		hists: map[string]map[[2]string]*hist{},
	}
	cl := l.constLabels()
	for _, d := range Defs {
		s.descs[d.Name] = prometheus.NewDesc(d.Name, d.Help, d.Labels, cl)
		if d.Type == Histogram {
			s.hists[d.Name] = map[[2]string]*hist{}
		}
	}
	s.reg.MustRegister(collector{s})
	return s
}

// Gatherer is the set's registry, for promhttp and the other outputs.
func (s *Set) Gatherer() prometheus.Gatherer { return s.reg }

// Observe takes one interval's sample. The sampler calls it, once per
// interval and once at the end of the run.
func (s *Set) Observe(smp Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range smp.Groups {
		s.series(Latency, g).addHDR(g.Latency)
		s.series(LatencyCorrected, g).addHDR(g.Corrected)
		s.series(RecoverySeconds, g).addHDR(g.Recovery)
	}
	s.latest, s.seen = smp, true
}

// series is g's series of the histogram name, made at its first use
// (called with s.mu held).
func (s *Set) series(name string, g Group) *hist {
	k := [2]string{g.Name, g.RPC}
	h := s.hists[name][k]
	if h == nil {
		h = &hist{}
		s.hists[name][k] = h
	}
	return h
}

// collector exposes the counters and gauges of the latest sample as
// constant metrics.
type collector struct{ s *Set }

// Describe sends nothing: the set is an unchecked collector (the label
// values of ends and violations are known only as they occur).
func (collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	smp, seen := s.latest, s.seen
	if !seen {
		return
	}
	for _, d := range Defs {
		if d.Type != Histogram {
			continue
		}
		for k, h := range s.hists[d.Name] {
			if h.count == 0 {
				continue
			}
			m, err := h.metric(s.descs[d.Name], k[0], k[1])
			if err != nil {
				ch <- prometheus.NewInvalidMetric(s.descs[d.Name], err)
				continue
			}
			ch <- m
		}
	}
	emit := func(name string, t prometheus.ValueType, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(s.descs[name], t, float64(v), lv...)
	}
	for _, g := range smp.Groups {
		emit(ActiveStreams, prometheus.GaugeValue, g.Active, g.Name, g.RPC)
		emit(StreamsOpened, prometheus.CounterValue, g.Started, g.Name, g.RPC)
		emit(MessagesSent, prometheus.CounterValue, g.Sent, g.Name, g.RPC)
		emit(MessagesReceived, prometheus.CounterValue, g.Received, g.Name, g.RPC)
		emit(Outages, prometheus.CounterValue, g.Outages, g.Name, g.RPC)
		emit(OutagesRecovered, prometheus.CounterValue, g.Recovered, g.Name, g.RPC)
		for _, k := range sortedKeys(g.Ends) {
			emit(StreamsEnded, prometheus.CounterValue, g.Ends[k], g.Name, g.RPC, k)
		}
		for _, k := range sortedKeys(g.Violations) {
			emit(Violations, prometheus.CounterValue, g.Violations[k], g.Name, g.RPC, k)
		}
		if g.OpenLoop {
			emit(OpenLoopBacklog, prometheus.GaugeValue, g.Backlog, g.Name, g.RPC)
		}
	}
	for _, b := range smp.Backends {
		emit(BackendActive, prometheus.GaugeValue, b.Active, b.Name)
		emit(BackendOpened, prometheus.CounterValue, b.Opened, b.Name)
		emit(BackendMessages, prometheus.CounterValue, b.Messages, b.Name)
		var up uint64
		if b.Up {
			up = 1
		}
		emit(BackendUp, prometheus.GaugeValue, up, b.Name)
	}
	for _, k := range sortedKeys(smp.Faults) {
		var v uint64
		if smp.Faults[k] {
			v = 1
		}
		emit(FaultActive, prometheus.GaugeValue, v, k)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
