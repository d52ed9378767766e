package harness

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/leak"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
	"github.com/streambench/streambench/internal/version"
	"github.com/streambench/streambench/reports"
)

// outcome is what the run found beyond its measurements: the leak check's
// evidence, the groups' reports, what the report warns of, a target's
// end nobody asked for, and what the watcher saw.
type outcome struct {
	leakOpts     leak.Options
	leaks        *reports.Leaks
	groupReports []reports.Group
	// warnings are what the report should say that fails nothing.
	warnings []string
	// crash is the target's end nobody asked for, told by the target
	// (guarded by crashMu) and joined to errs at teardown.
	crash   error
	crashMu sync.Mutex
	// watch is what the watcher of a Watched target found.
	watch targetWatch
}

// report turns the run's measurements into a report and judges it.
func (r *run) report(checks []assert.Assertion) *reports.Report {
	rep := &reports.Report{
		Schema: reports.Schema,
		Scenario: reports.ScenarioEcho{
			Name:                r.sc.Name,
			Description:         r.sc.Description,
			File:                r.sc.File,
			DurationSeconds:     r.duration.Seconds(),
			GracefulStopSeconds: r.grace.Seconds(),
			Source:              r.sc.Source,
			Compress:            deref(r.p.ov.Compress),
			ClientScale:         deref(r.p.ov.ClientScale),
			Target:              r.p.ov.Target,
			TargetTLS:           targetTLS(r.p.ov.TLS),
		},
		Seed:         r.seed,
		Start:        r.start,
		End:          r.end,
		Elapsed:      r.end.Sub(r.start).Seconds(),
		DrainSeconds: r.end.Sub(r.stopAt).Seconds(),
		Environment:  Environment(),
		Windows:      r.windows,
		Sampler:      r.samplerReport(),
		Interrupted:  r.interrupted,
	}
	rep.Link = r.p.link
	if sp, ok := r.target.(fault.StreamProxy); ok {
		rep.Proxy = sp.ProxiesStreams()
	}
	d := r.target.Describe()
	rep.Target, rep.TargetProcess = d.Target, d.Process
	rep.Leaks = r.leaks
	if res := r.resources; res.PeakGoroutines > 0 {
		if res.PeakStreams > 0 {
			res.HeapPerStreamBytes = float64(res.PeakHeapBytes) / float64(res.PeakStreams)
			res.GoroutinesPerStream = float64(res.PeakGoroutines) / float64(res.PeakStreams)
			res.StackPerStreamBytes = float64(res.PeakStackBytes) / float64(res.PeakStreams)
		}
		rep.Resources = &res
	}

	rep.Events = r.events.all()
	rep.Faults = faultWindows(r.applied, r.windows)
	if st, ok := r.target.(target.Stats); ok {
		rep.Server = r.serverStats(st)
	}
	if r.bk != nil {
		rep.Backends = r.bk.report(r.bkWindows)
	}
	if v := r.cfg.variant; v != nil && v.Name != "" {
		rep.Target += " (planted bug: " + v.Name + ")"
		rep.Scenario.Faulty = v.Name
	}
	rep.Groups = r.groupReports
	for _, err := range r.errs {
		rep.Errors = append(rep.Errors, err.Error())
	}
	rep.Warnings = append(rep.Warnings, r.warnings...)
	if t := r.p.tr.tls; t != nil && t.InsecureSkipVerify {
		rep.Warnings = append(rep.Warnings, "TLS without checking the target's certificate (skip_verify): the connection is encrypted, but any server could have answered")
	}
	if sh := r.p.ov.Shard; sh != nil {
		// A shard's share is judged with the others, by merge.
		rep.Shard = &reports.ShardInfo{Index: sh.Index, Count: sh.Count, Set: r.p.SetID(),
			StartAt: r.cfg.startAt, SkewSeconds: r.skew.Seconds()}
		checks = nil
	}
	judge(rep, checks)
	return rep
}

// judge sets rep's verdicts and whether it passed.
func judge(rep *reports.Report, checks []assert.Assertion) {
	rep.Assertions = nil
	for _, c := range checks {
		rep.Assertions = append(rep.Assertions, c.Check(rep))
	}
	rep.Passed = len(rep.Failed()) == 0 && len(rep.Errors) == 0 && !rep.Interrupted
}

func groupReport(g *group, start time.Time) (reports.Group, error) {
	snap := g.rec.Snapshot()
	out := reports.Group{
		Name:         g.spec.Name,
		RPC:          g.spec.RPC,
		Clients:      len(g.share.clients),
		Connections:  len(g.share.conns),
		StartSeconds: g.spec.Start.D().Seconds(),
		Read:         readText(g.spec.Read),
		Streams:      reports.StreamCounts{Opened: snap.Started, Established: snap.Opened, Ended: snap.Ended, Failed: snap.Failed},
		Messages:     reports.MessageCounts{Sent: snap.Sent, Received: snap.Received},
		Ends:         snap.Ends,
		Violations:   snap.Violations,
	}
	if g.stopped {
		out.Messages.DrainSent = snap.Sent - min(g.atStop.Sent, snap.Sent)
		out.Messages.DrainReceived = snap.Received - min(g.atStop.Received, snap.Received)
	}
	out.Outages = reports.Outages{Opened: snap.Broke, Resumed: snap.Resumed, Recovered: snap.Recovered, Unrecovered: snap.Broke - snap.Recovered}
	if f := snap.Freshness; f.Bound > 0 {
		out.Freshness = &reports.Freshness{BoundMS: ms(f.Bound), BaselineMS: ms(f.Baseline), Explicit: f.Explicit}
		if !f.Explicit {
			out.Freshness.Factor, out.Freshness.FloorMS = f.Factor, ms(f.Floor)
		}
	}
	var err1, err2, err3, err7 error
	out.Latency, err1 = reports.FromHDR(snap.Latency, snap.Clamped)
	out.StreamDuration, err2 = reports.FromHDR(snap.Duration, 0)
	out.Recovery, err3 = reports.FromHDR(snap.Recovery, 0)
	out.RecoveryFirst, err7 = reports.FromHDR(snap.RecoveryFirst, 0)
	var err4, err5 error
	out.LatencyCorrected, err4 = reports.FromHDR(snap.Corrected, 0)
	if g.open != nil {
		out.Arrival, err5 = g.open.report()
	}
	var err6 error
	if snap.Open.TotalCount() > 0 {
		var h reports.Histogram
		h, err6 = reports.FromHDR(snap.Open, 0)
		out.Open = &h
	}
	connReports(g, &out)
	// Stamped by the client whose stream completed the count (see
	// record.Recorder.AllOpenAt).
	if at := g.rec.AllOpenAt(); !at.IsZero() {
		out.AllOpenSeconds = max(at.Sub(start), time.Nanosecond).Seconds()
	}
	for _, s := range snap.Samples {
		out.Samples = append(out.Samples, reports.Sample{End: s.End.Key(), Detail: s.Detail, At: s.At})
	}
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7); err != nil {
		return out, fmt.Errorf("group %s: %w", g.spec.Name, err)
	}
	return out, nil
}

// Version is streambench's module version as internal/version reads it
// (a release build's stamp, the version go install recorded, or "devel"),
// the one `streambench version` prints.
func Version() string { return version.Read().Version }

// Environment describes this process's machine and versions.
func Environment() reports.Environment {
	host, _ := os.Hostname()
	return reports.Environment{
		Streambench: Version(),
		GoVersion:   runtime.Version(),
		GRPCVersion: grpc.Version,
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		CPUs:        runtime.NumCPU(),
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		Hostname:    host,
	}
}

// serverStats reads the target's own measurements and the stream
// interceptor's counts.
func (r *run) serverStats(st target.Stats) *reports.ServerStats {
	out, err := st.Stats()
	if err != nil {
		r.errs = append(r.errs, err)
	}
	if r.streams != nil {
		ss := r.streams.Stats()
		out.Ends, out.OKAfterCancel, out.Injected = ss.Ends, ss.OKAfterCancel, ss.Injected
	}
	return out
}

// deref is *p, or 0 for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// snapshot turns every group's recorder into its report and drops the
// recorders, so the leak check's heap figure is not the run's own
// measurements (a few MB of histograms per group).
func (r *run) snapshot() {
	for _, g := range r.groups {
		gr, err := groupReport(g, r.start)
		if err != nil {
			r.errs = append(r.errs, err)
		}
		if err := r.setupReport(g, &gr); err != nil {
			r.errs = append(r.errs, err)
		}
		r.groupReports = append(r.groupReports, gr)
		g.rec = nil
		if re, ok := g.setup.(rpc.RunErrors); ok {
			// What a group's drivers could not do at all (a request
			// that could not be built) is an error of the run, told
			// in the summary, not only a sample of a stream's end.
			for _, err := range re.RunErrors() {
				r.errs = append(r.errs, fmt.Errorf("group %s: %w", g.spec.Name, err))
			}
		}
	}
}

// targetTLS is the report's record of a target override's TLS settings.
func targetTLS(t *scenario.TLS) *reports.TargetTLS {
	if t == nil {
		return nil
	}
	return &reports.TargetTLS{CA: t.CA, ServerName: t.ServerName, Cert: t.Cert, Key: t.Key}
}
