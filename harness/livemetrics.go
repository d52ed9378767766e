package harness

import (
	"maps"
	"strings"

	"github.com/streambench/streambench/harness/metrics"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/reports"
)

// WithMetrics feeds m, once a second and once at the end, from the run's
// per-second windows: the running totals of each group's recorder, the
// latency recorded in the second, and the faults active. The drivers are
// untouched: they record as always, and the sampler reads.
func WithMetrics(m *metrics.Set) RunOption { return func(c *runConfig) { c.metrics = m } }

// liveSample is one window's metrics.Sample, built by the sampler.
type liveSample struct{ metrics.Sample }

// metricsSample starts the sample of this window (nil without metrics).
func (r *run) metricsSample() *liveSample {
	if r.cfg.metrics == nil {
		return nil
	}
	return &liveSample{}
}

// add appends g's figures at its window w, with dropped open-loop slots
// so far (nothing on a nil sample).
func (s *liveSample) add(g *group, w *record.Window, dropped int) {
	if s == nil {
		return
	}
	c, t := w.Counters, w.Tally
	mg := metrics.Group{
		Name: g.spec.Name, RPC: g.spec.RPC,
		Active:  c.Started - min(c.Started, c.Ended),
		Started: c.Started, Sent: c.Sent, Received: c.Received,
		Outages: t.Broke, Recovered: t.Recovered,
		Ends:    maps.Clone(w.Ends), // the sampler reuses its map; the set keeps this one
		Latency: w.Latency, Corrected: w.Corrected, Recovery: w.Recovery,
	}
	for _, k := range record.Kinds() {
		if n := t.Violations[k]; n > 0 {
			if mg.Violations == nil {
				mg.Violations = map[string]uint64{}
			}
			mg.Violations[k.String()] = n
		}
	}
	if o := g.open; o != nil {
		due, _ := o.slots.Tally(o.offset())
		started := int(o.started.Load())
		mg.OpenLoop = true
		mg.Backlog = uint64(max(0, due-dropped-started))
	}
	s.Groups = append(s.Groups, mg)
}

// addBackends appends every backend's figures at its window ws (nothing
// on a nil sample): the streams open and up from the window, the running
// totals as the window read them, so they match the report's.
func (s *liveSample) addBackends(ws []reports.BackendWindow, totals []snapshot) {
	if s == nil {
		return
	}
	for i, w := range ws {
		at := totals[i] // the totals the window was cut with
		s.Backends = append(s.Backends, metrics.Backend{
			Name: w.Backend, Up: w.Up, Active: uint64(w.Active),
			Opened: at.opened, Messages: at.messages,
		})
	}
}

// observeMetrics adds the faults active now to s and hands it to the
// run's metric set.
func (r *run) observeMetrics(s *liveSample) {
	if s == nil {
		return
	}
	s.Faults = map[string]bool{}
	for _, spec := range r.specs {
		s.Faults[spec.Kind.Name] = false
	}
	evs := r.events.from(r.mlive.seen)
	// A fault that began since the last sample is shown for this one even
	// if it has ended already (a 1 s restart between two samples, a sever):
	// the gauge says a fault was active during the interval.
	for _, e := range evs {
		if e.Kind == "fault_start" {
			if k := r.faultKind(e.Fault); k != "" {
				s.Faults[k] = true
			}
		}
	}
	for _, name := range r.mlive.update(evs, r.cfg.now().Sub(r.start), r.instantFault) {
		if k := r.faultKind(name); k != "" {
			s.Faults[k] = true
		}
	}
	r.cfg.metrics.Observe(s.Sample)
}

// faultKind is the kind of the fault occurrence named name ("faults[2]
// latency #3"), or "".
func (r *run) faultKind(name string) string {
	for _, s := range r.specs {
		if n := s.Name(); name == n || strings.HasPrefix(name, n+" #") {
			return s.Kind.Name
		}
	}
	return ""
}
