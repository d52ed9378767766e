// Package reports holds streambench's report model — a versioned JSON
// document that keeps full HDR histograms so reports merge and compare
// without loss: its types, reading older versions, merging the reports of
// a sharded run, and sets of runs. It imports neither the statistics
// (package reports/compare) nor the writers (package reports/render),
// which import it.
package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Schema identifies the report format; bump it on any incompatible change.
// v2: a group's recovery is the time until back to live (v1's, the time to
// the first message, is now recovery_first). v3: a window carries its
// start (start_seconds) beside its end: windows are cut at one moment and
// stamped with their real bounds, which may differ from one second.
const Schema = "streambench/report/v3"

// schemaV1 is the format before recovery meant back to live, and schemaV2
// the one before windows carried their start; ReadJSON still reads both.
const (
	schemaV1 = "streambench/report/v1"
	schemaV2 = "streambench/report/v2"
)

// Report is everything a run produced.
type Report struct {
	// Schema is always the Schema constant.
	Schema string `json:"schema"`
	// Scenario is the scenario as run.
	Scenario ScenarioEcho `json:"scenario"`
	// Seed is the seed the run used (replay with the same seed).
	Seed int64 `json:"seed"`
	// Start and End bound the run (wall clock).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Elapsed is End-Start in seconds.
	Elapsed float64 `json:"elapsed_seconds"`
	// DrainSeconds is how long the clients took to end after the stop (the
	// duration's end, or an interrupt): the graceful stop's drain, and the
	// hard stop's when it came to that.
	DrainSeconds float64 `json:"drain_seconds"`
	// Target and Link say what was driven and how.
	Target string `json:"target"`
	Link   string `json:"link"`
	// Proxy names the proxy of streambench's that carried the stream
	// faults of an address or a command target, between the link and
	// the server: "frame relay" (package relay) or "grpc proxy"
	// (package proxy, for a stream kind the relay cannot act out);
	// empty when the run had none.
	Proxy string `json:"proxy,omitempty"`
	// Environment describes the machine and versions.
	Environment Environment `json:"environment"`
	// Groups hold each client group's measurements.
	Groups []Group `json:"groups"`
	// Windows are the run's measurements interval by interval, normally a
	// second each (Window.Start and Window.Offset are their real bounds).
	Windows []Window `json:"windows,omitempty"`
	// Sampler says how the windows were cut: how late the cutter ran, and
	// how streambench's own process fared, window by window (absent in a
	// merged report: each shard's report keeps its own).
	Sampler *Sampler `json:"sampler,omitempty"`
	// Events are moments on the run's timeline (fault starts and ends,
	// server stops and starts), in time order.
	Events []Event `json:"events,omitempty"`
	// Faults are the effective fault windows, with the stream ends that
	// happened inside each.
	Faults []FaultWindow `json:"faults,omitempty"`
	// Server holds what the builtin target measured on its side.
	Server *ServerStats `json:"server,omitempty"`
	// Backends is what a target of several backends measured per
	// backend (nil for a single target).
	Backends *Backends `json:"backends,omitempty"`
	// TargetProcess is a command target's process: how it was started,
	// where its output went and how it ended.
	TargetProcess *TargetProcess `json:"target_process,omitempty"`
	// Leaks is the end-of-run evidence that everything ended.
	Leaks *Leaks `json:"leaks,omitempty"`
	// Resources is what the run cost this process (client and, for a
	// builtin target, server), sampled every second.
	Resources *Resources `json:"resources,omitempty"`
	// Assertions are the verdicts, in scenario order.
	Assertions []Verdict `json:"assertions"`
	// Passed is true when every assertion passed and the run was not
	// interrupted or broken.
	Passed bool `json:"passed"`
	// Interrupted is true when the run was stopped early (Ctrl-C).
	Interrupted bool `json:"interrupted,omitempty"`
	// Errors are harness or target failures (empty on a healthy run).
	Errors []string `json:"errors,omitempty"`
	// Warnings are things a reader should know that do not fail the run
	// (a shard that started late).
	Warnings []string `json:"warnings,omitempty"`
	// Shard says which shard of which sharded run this report is (nil for
	// a whole run). A shard's assertions are judged on the merged report.
	Shard *ShardInfo `json:"shard,omitempty"`
	// Shards summarises the shards a merged report was made of.
	Shards []ShardSummary `json:"shards,omitempty"`
}

// TargetProcess is a command target's process.
type TargetProcess struct {
	Argv []string `json:"argv"`
	Port int      `json:"port"`
	// Pid is the last process's id (a restart starts a new one).
	Pid      int `json:"pid"`
	Restarts int `json:"restarts"`
	// Exit is how the last process ended ("signal: terminated" after
	// streambench's SIGTERM, "exit status 0", ...).
	Exit string `json:"exit"`
	// Log is the file its stdout and stderr went to ("" when none).
	Log string `json:"log,omitempty"`
}

// ShardInfo places a shard's report in its sharded run.
type ShardInfo struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// Set identifies the sharded run: a hash of the scenario source, the
	// seed, the shard count, the duration and the client scale. Every
	// shard of one run has the same Set.
	Set string `json:"set"`
	// StartAt is the start barrier the shard waited for (zero: none), and
	// SkewSeconds how late (positive) or early its clients started.
	StartAt     time.Time `json:"start_at,omitempty"`
	SkewSeconds float64   `json:"skew_seconds"`
}

// ShardSummary is one shard's part of a merged report.
type ShardSummary struct {
	Index       int       `json:"index"`
	File        string    `json:"file,omitempty"`
	Start       time.Time `json:"start"`
	SkewSeconds float64   `json:"skew_seconds"`
	Clients     int       `json:"clients"`
	// Resources are the shard process's peaks.
	Resources *Resources `json:"resources,omitempty"`
	Errors    []string   `json:"errors,omitempty"`
}

// ScenarioEcho records the scenario as run.
type ScenarioEcho struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	File        string `json:"file,omitempty"`
	// DurationSeconds and GracefulStopSeconds are the effective settings.
	DurationSeconds     float64 `json:"duration_seconds"`
	GracefulStopSeconds float64 `json:"graceful_stop_seconds"`
	// Source is the scenario file's text.
	Source string `json:"source,omitempty"`
	// Compress and ClientScale are set when the run was compressed in time
	// or scaled in clients (self-tests).
	Compress    float64 `json:"compress,omitempty"`
	ClientScale float64 `json:"client_scale,omitempty"`
	// Target is the external server the run was pointed at instead of the
	// scenario's target (run --target), and Faulty the planted bug the
	// builtin target ran with (run --faulty); both empty otherwise.
	Target string `json:"target,omitempty"`
	Faulty string `json:"faulty,omitempty"`
	// TargetTLS is how that target was dialled over TLS (run --cacert,
	// --cert, --key, --cname); nil with a Target means plaintext (run
	// --insecure).
	TargetTLS *TargetTLS `json:"target_tls,omitempty"`
}

// TargetTLS is the TLS a target override was dialled with: file paths as
// given on the command line, and the name the server's certificate was
// checked against.
type TargetTLS struct {
	CA         string `json:"ca,omitempty"`
	ServerName string `json:"server_name,omitempty"`
	Cert       string `json:"cert,omitempty"`
	Key        string `json:"key,omitempty"`
}

// Environment describes where the run happened.
type Environment struct {
	Streambench string `json:"streambench"`
	GoVersion   string `json:"go"`
	GRPCVersion string `json:"grpc"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	CPUs        int    `json:"cpus"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
	Hostname    string `json:"hostname,omitempty"`
}

// Group is one client group's measurements.
type Group struct {
	Name        string `json:"name"`
	RPC         string `json:"rpc"`
	Clients     int    `json:"clients"`
	Connections int    `json:"connections"`
	// StartSeconds is when the group's clients started, from the run's start.
	StartSeconds float64 `json:"start_seconds,omitempty"`
	// Read describes a slow-reading group ("delay 20ms", "stall 5s after
	// 10s", "stop after 2s"); empty for groups that read at full speed.
	Read string `json:"read,omitempty"`
	// Streams counts streams opened and ended, and ends that were failures
	// (anything but complete or cancelled by the client at the end of the
	// run).
	Streams StreamCounts `json:"streams"`
	// Messages counts messages sent and received by the clients.
	Messages MessageCounts `json:"messages"`
	// Ends counts stream ends by class: "complete", "premature_eof",
	// "violation", "canceled", "deadline", "status:<Code>".
	Ends map[string]uint64 `json:"ends"`
	// Violations counts protocol violations by kind: "gap", "duplicate",
	// "reorder", "wrong_value", "wrong_result", "extra".
	Violations map[string]uint64 `json:"violations"`
	// Latency is per-message latency; StreamDuration is per-stream time from
	// open to end.
	Latency        Histogram `json:"latency"`
	StreamDuration Histogram `json:"stream_duration"`
	// Recovery is the time from a client's stream breaking until it is
	// back to live — the first message whose latency is within the group's
	// freshness bound (Freshness) — one value per recovered outage.
	Recovery Histogram `json:"recovery"`
	// RecoveryFirst is the time from a client's stream breaking to the
	// first message it received afterwards, fresh or a stale replay, one
	// value per outage in which a message arrived.
	RecoveryFirst Histogram `json:"recovery_first"`
	// Freshness is how the group's freshness bound was fixed (absent when
	// the group had no outage).
	Freshness *Freshness `json:"freshness,omitempty"`
	// Outages counts client outages: opened (a stream failed), resumed (a
	// message arrived again), recovered (back to live), unrecovered (not
	// back to live at the end).
	Outages Outages `json:"outages"`
	// LatencyCorrected is latency measured from when each message was
	// meant to be sent (coordinated-omission corrected): the Math RPCs,
	// whose messages are paced. Never below the raw figure.
	LatencyCorrected Histogram `json:"latency_corrected"`
	// Arrival is an open-loop group's schedule accounting.
	Arrival *Arrival `json:"arrival,omitempty"`
	// AllOpenSeconds is when every client of the group first had a stream
	// established at once: an offset from the start, taken by the client
	// whose stream completed the count (0: never). See Open for what
	// established means.
	AllOpenSeconds float64 `json:"all_open_seconds,omitempty"`
	// Open is how long each stream took to be established, from the start
	// of its open: for Subscribe until the server's response headers
	// arrived (the reference server sends them once it has registered the
	// subscription); for the Math RPCs until the call returned (a stream
	// slot granted and the request sent).
	Open *Histogram `json:"open,omitempty"`
	// OpenWait is time spent inside the open call itself, where gRPC
	// waits for a stream slot (the server's max_concurrent_streams) or for
	// the connection, and how many streams waited there at once.
	OpenWait *OpenWait `json:"open_wait,omitempty"`
	// ConnStats are the group's figures per ClientConn: how the latency
	// (a feed's fan-out delay) and the waits for a stream slot differ
	// between connections. Only for groups with more than one connection.
	ConnStats []ConnStats `json:"conn_stats,omitempty"`
	// Samples are example failed ends, for a human to start from.
	Samples []Sample `json:"samples,omitempty"`
	// Covers is the group's covers oracle (call.expect.covers): the
	// writer group's acknowledged writes against what each watcher saw.
	Covers *Covers `json:"covers,omitempty"`
}

// OpenWait is the time streams spent in the open call (waiting for a
// stream slot or the connection). Quantiles are within 12.5% (upper bucket
// edge); Max is exact.
type OpenWait struct {
	// PeakWaiting is the most streams inside the open call at once: above
	// a handful, streams queued for a slot (clients per connection over the
	// server's max_concurrent_streams) or for a connection.
	PeakWaiting int64   `json:"peak_waiting"`
	Calls       uint64  `json:"calls"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	MaxMS       float64 `json:"max_ms"`
}

// ConnStats are one ClientConn's figures. Latency quantiles are within
// 12.5% (upper bucket edge); maxima are exact.
type ConnStats struct {
	// Index is the connection's number in its group (label group/index).
	Index int `json:"index"`
	// Clients is how many of the group's clients share it.
	Clients  int     `json:"clients"`
	Messages uint64  `json:"messages"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	MaxMS    float64 `json:"max_ms"`
	// OpenWait is the connection's share of Group.OpenWait.
	OpenWait OpenWait `json:"open_wait"`
}

// Arrival accounts for an open-loop group's slots: every slot is
// scheduled, then started (late when more than 10ms behind), dropped (every
// client busy and the queue full) or left unstarted when the run stopped:
// Scheduled = Started + Dropped + Unstarted.
type Arrival struct {
	Scheduled uint64 `json:"scheduled"`
	Started   uint64 `json:"started"`
	Dropped   uint64 `json:"dropped"`
	// Unstarted are slots still queued when the run stopped.
	Unstarted uint64 `json:"unstarted"`
	Late      uint64 `json:"late"`
	// StartDelay is how far behind its slot each stream started.
	StartDelay Histogram `json:"start_delay"`
}

// Resources is the process's cost at its peak, sampled every second: heap
// in use and goroutines, and the same per open stream (client and builtin
// server together).
type Resources struct {
	PeakHeapBytes  uint64 `json:"peak_heap_bytes"`
	PeakGoroutines int    `json:"peak_goroutines"`
	// PeakStackBytes is the most memory goroutine stacks held (not part
	// of the heap): at 100,000 streams, a few KiB per goroutine adds up.
	PeakStackBytes uint64 `json:"peak_stack_bytes"`
	// CPUBusySeconds is how many seconds of the duration streambench's
	// process used over 90% of its CPUs (GOMAXPROCS): a saturated load
	// generator, said in the warnings when it is half the run or more.
	CPUBusySeconds float64 `json:"cpu_busy_seconds"`
	// CPUStarvedSeconds is how many seconds of the duration the process's
	// threads, each time they were ready to run, waited 0.5 ms or more on
	// average for a CPU (and 100 ms a second in all): a machine short of
	// CPUs, by other processes, a CPU quota, or the process's own bursts of
	// threads. Evidence, not a verdict: no warning comes of it. Linux only
	// (schedstat); 0 elsewhere.
	CPUStarvedSeconds   float64 `json:"cpu_starved_seconds"`
	PeakStreams         uint64  `json:"peak_streams"`
	HeapPerStreamBytes  float64 `json:"heap_per_stream_bytes,omitempty"`
	GoroutinesPerStream float64 `json:"goroutines_per_stream,omitempty"`
	StackPerStreamBytes float64 `json:"stack_per_stream_bytes,omitempty"`
}

// Outages counts client outages. An outage opens when a live client's
// stream fails and ends when the client is back to live; failures in
// between belong to the same outage.
type Outages struct {
	Opened uint64 `json:"opened"`
	// Resumed counts outages in which a message arrived again (fresh or
	// stale).
	Resumed uint64 `json:"resumed"`
	// Recovered counts outages that ended back to live.
	Recovered uint64 `json:"recovered"`
	// Unrecovered is Opened - Recovered: clients not back to live at the
	// end, whether they received stale messages (Resumed) or nothing.
	Unrecovered uint64 `json:"unrecovered"`
}

// Freshness is how a group's freshness bound was fixed: a client is back
// to live after an outage when a message arrives whose latency is at most
// BoundMS.
type Freshness struct {
	BoundMS float64 `json:"bound_ms"`
	// BaselineMS is the group's latency p99 before its first outage (0 when
	// no message had arrived by then or the bound was explicit).
	BaselineMS float64 `json:"baseline_ms,omitempty"`
	// Factor multiplies the baseline; FloorMS is the least bound it yields.
	Factor  float64 `json:"factor,omitempty"`
	FloorMS float64 `json:"floor_ms,omitempty"`
	// Explicit is true when the bound was given rather than derived.
	Explicit bool `json:"explicit,omitempty"`
}

// StreamCounts counts streams.
type StreamCounts struct {
	Opened uint64 `json:"opened"`
	// Established counts streams known to be established (see Group.Open).
	Established uint64 `json:"established,omitempty"`
	Ended       uint64 `json:"ended"`
	Failed      uint64 `json:"failed"`
}

// MessageCounts counts messages.
type MessageCounts struct {
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
	// DrainSent and DrainReceived are the part of Sent and Received that
	// came after the stop (the duration's end, or an interrupt), during
	// the graceful stop's drain: rates are over the load without them
	// (Report.LoadRate).
	DrainSent     uint64 `json:"drain_sent,omitempty"`
	DrainReceived uint64 `json:"drain_received,omitempty"`
}

// LoadSeconds is how long the load ran: from the start to the stop (the
// duration's end, or an interrupt), the drain left out. Every rate a
// report shows or asserts is over it.
func (r *Report) LoadSeconds() float64 { return max(r.Elapsed-r.DrainSeconds, 0) }

// LoadRate is g's messages received per second of the load: those
// received before the stop over LoadSeconds. A never-ending stream waits
// out the graceful stop, so a rate over Elapsed understated the load's
// by the drain's share (2,966/s for ~3,700/s in a 20 s etcd watch run).
// ok is false when the load has no length.
func (r *Report) LoadRate(g *Group) (rate float64, ok bool) {
	secs := r.LoadSeconds()
	if secs <= 0 {
		return 0, false
	}
	return float64(g.Messages.Received-min(g.Messages.DrainReceived, g.Messages.Received)) / secs, true
}

// Sample is one example stream end.
type Sample struct {
	End    string    `json:"end"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
}

// Window is one second of counter deltas for one group.
type Window struct {
	// Start is the window's start, in seconds since the report's Start:
	// the previous window's end (0 for the first).
	Start float64 `json:"start_seconds"`
	// Offset is the window's end, in seconds since Start: the moment its
	// figures were cut from the recorders.
	Offset float64 `json:"offset_seconds"`
	Group  string  `json:"group"`
	// Deltas over the window.
	Started  uint64 `json:"started"`
	Ended    uint64 `json:"ended"`
	Failed   uint64 `json:"failed"`
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
	// Ends counts stream ends in the window by class (as Group.Ends).
	Ends map[string]uint64 `json:"ends,omitempty"`
	// Latency is the latency recorded in the window.
	Latency *Histogram `json:"latency,omitempty"`
	// LatencyCorrected is the corrected latency recorded in the window
	// (Group.LatencyCorrected): how far behind its schedule each message
	// was, second by second — an open loop past capacity shows it grow.
	LatencyCorrected *Histogram `json:"latency_corrected,omitempty"`
	// MaxSeq is the highest sequence number the group's clients had seen
	// by the window's end (Subscribe's seq, a generic call's sequence
	// field; 0: none): how fast a feed publishes, as its clients see it.
	MaxSeq uint64 `json:"max_seq,omitempty"`
	// Dropped counts the open-loop slots (arrival) that fell due in the
	// window and could not be started, as k6's dropped_iterations: every
	// client was busy.
	Dropped uint64 `json:"dropped_slots,omitempty"`
	// Saturated marks a window in which streambench's own process was a
	// large share of the latency it measured: its goroutines' scheduling
	// delay or its timer oversleep (Sampler.Generator) p99 was at least
	// 10 ms and at least SaturatedShare of the window's latency p99.
	Saturated bool `json:"generator_saturated,omitempty"`
}

// Span is how many seconds the window lasted.
func (w Window) Span() float64 { return w.Offset - w.Start }

// SaturatedShare is the share of a window's latency p99 that the
// generator's own scheduling delay or oversleep p99 must reach for the
// window to be marked Saturated.
const SaturatedShare = 0.5

// Sampler says how a run's windows were cut. The cutter keeps absolute
// deadlines (the run's start + k × PeriodSeconds) and stamps each window
// with the moment it cut it; a window it cut late is longer, never
// relabelled.
type Sampler struct {
	PeriodSeconds float64 `json:"period_seconds"`
	// Cuts is how many times the windows were cut (each cut makes one
	// window per group).
	Cuts int `json:"cuts"`
	// LateMaxMS and LateP99MS are how late the cutter ran after its
	// deadlines.
	LateMaxMS float64 `json:"late_max_ms"`
	LateP99MS float64 `json:"late_p99_ms"`
	// CutMaxMS is the longest a cut took (every shard of every group, one
	// after the other): the window's end is the cut's first moment.
	CutMaxMS float64 `json:"cut_max_ms"`
	// OffWindows counts the cuts whose span differed from the period by
	// more than 10% (the last, cut at the run's end, aside).
	OffWindows int `json:"off_windows"`
	// Generator is streambench's own process, cut by cut.
	Generator []GeneratorWindow `json:"generator,omitempty"`
	// SaturatedWindows counts the windows of every group marked Saturated.
	SaturatedWindows int `json:"saturated_windows"`
}

// GeneratorWindow is how streambench's own process fared in one window:
// how long its goroutines waited for a processor (Go's scheduler), how
// long they waited on locks, and how far a 1 ms sleeper overslept (a
// hiccup meter, as jHiccup: it sees the operating system's scheduling
// too). Figures in milliseconds.
type GeneratorWindow struct {
	Start  float64 `json:"start_seconds"`
	Offset float64 `json:"offset_seconds"`
	// SchedP99MS and SchedMaxMS: runtime/metrics /sched/latencies:seconds
	// over the window (bucket upper bounds).
	SchedP99MS float64 `json:"sched_p99_ms"`
	SchedMaxMS float64 `json:"sched_max_ms"`
	// MutexWaitMS: /sync/mutex/wait/total:seconds over the window, summed
	// over goroutines.
	MutexWaitMS float64 `json:"mutex_wait_ms"`
	// HiccupP99MS and HiccupMaxMS: a 1 ms sleeper's oversleep.
	HiccupP99MS float64 `json:"hiccup_p99_ms"`
	HiccupMaxMS float64 `json:"hiccup_max_ms"`
	// Hiccups counts the sleeper's wake-ups in the window.
	Hiccups uint64 `json:"hiccups"`
}

// Event is a moment on the run's timeline.
type Event struct {
	// Offset is seconds since Start.
	Offset float64 `json:"offset_seconds"`
	// Kind is e.g. "fault_start", "fault_end", "server_stop", "server_start".
	Kind string `json:"kind"`
	// Fault names the fault ("faults[2] sever") when the event belongs to one.
	Fault  string `json:"fault,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// FaultWindow is one application of a fault, from start to revert.
type FaultWindow struct {
	// Name is "faults[i] kind", plus "#n" for the n-th repetition of an
	// `every:` fault.
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Start and End are offsets in seconds (End == Start for instant
	// faults such as sever).
	Start float64 `json:"start_seconds"`
	End   float64 `json:"end_seconds"`
	// Scope says what the fault hit ("server", "all connections",
	// "group subscribers, 30%: 6 of 20 connections", "50%: 5 of 10 clients").
	Scope string `json:"scope"`
	// Ends counts stream ends by class, across all groups, in the
	// per-second windows from Start to 2 s after End: the fault's effect.
	// An end inside several fault windows is counted in one: the
	// latest-started whose kind can cause it (a latency or bandwidth fault
	// causes only deadline and idle_timeout ends; complete and canceled
	// ends are anyone's). An end no containing fault can cause is counted
	// in none.
	Ends map[string]uint64 `json:"ends,omitempty"`
	// Overlaps names the other fault windows whose spans (to 2 s after
	// End) overlap this one's, in start order.
	Overlaps []string `json:"overlaps,omitempty"`
}

// ServerStats is what the builtin target measured.
type ServerStats struct {
	// Published is how many updates the feed published; FeedRate is its
	// configured rate (per second).
	Published uint64  `json:"published"`
	FeedRate  float64 `json:"feed_rate"`
	// SendBlocked is how long each Subscribe Send was blocked by flow
	// control (a slow reader's backlog, as the server sees it).
	SendBlocked Histogram `json:"send_blocked"`
	// CutOff counts subscribers ended with ResourceExhausted because their
	// queue overflowed.
	CutOff uint64 `json:"cut_off"`
	// MaxQueue is the deepest any subscriber's send queue got.
	MaxQueue int `json:"max_queue"`
	// Ends counts handler returns by status code name ("OK", "Canceled").
	Ends map[string]uint64 `json:"ends,omitempty"`
	// OKAfterCancel counts handlers that returned OK with their stream's
	// context already cancelled and their protocol unfinished (a Pow that
	// sent fewer messages than asked, a Sum or Sqrt that never saw the
	// client's half-close): the server claimed success for a stream whose
	// client never saw its end.
	OKAfterCancel uint64 `json:"ok_after_cancel"`
	// Injected counts stream-layer faults injected.
	Injected uint64 `json:"injected,omitempty"`
}

// Histogram is a latency distribution: summary figures in milliseconds and
// the full HDR histogram (microsecond values, V2 compressed, base64) for
// lossless merging and comparison.
type Histogram struct {
	// Unit of the encoded histogram's values.
	Unit    string  `json:"unit"`
	Count   int64   `json:"count"`
	MinMS   float64 `json:"min_ms"`
	MeanMS  float64 `json:"mean_ms"`
	P50MS   float64 `json:"p50_ms"`
	P90MS   float64 `json:"p90_ms"`
	P99MS   float64 `json:"p99_ms"`
	P999MS  float64 `json:"p999_ms"`
	MaxMS   float64 `json:"max_ms"`
	StdDevM float64 `json:"stddev_ms"`
	// Clamped counts values above the histogram's range recorded at its top.
	Clamped uint64 `json:"clamped,omitempty"`
	// HDR is the histogram, hdrhistogram V2 compressed encoding (base64).
	HDR string `json:"hdr"`
}

// UnitMicroseconds is the unit of every encoded histogram.
const UnitMicroseconds = "us"

func usToMS(v float64) float64 { return v / 1000 }

// FromHDR summarises and encodes h, whose values are microseconds.
func FromHDR(h *hdrhistogram.Histogram, clamped uint64) (Histogram, error) {
	out := Histogram{Unit: UnitMicroseconds, Count: h.TotalCount(), Clamped: clamped}
	if out.Count > 0 {
		out.MinMS = usToMS(float64(h.Min()))
		out.MeanMS = usToMS(h.Mean())
		out.P50MS = usToMS(float64(h.ValueAtQuantile(50)))
		out.P90MS = usToMS(float64(h.ValueAtQuantile(90)))
		out.P99MS = usToMS(float64(h.ValueAtQuantile(99)))
		out.P999MS = usToMS(float64(h.ValueAtQuantile(99.9)))
		out.MaxMS = usToMS(float64(h.Max()))
		out.StdDevM = usToMS(h.StdDev())
	}
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return out, fmt.Errorf("encode histogram: %w", err)
	}
	out.HDR = string(enc)
	return out, nil
}

// Decode returns the full histogram.
func (h Histogram) Decode() (*hdrhistogram.Histogram, error) {
	if h.HDR == "" {
		return nil, fmt.Errorf("histogram has no HDR data")
	}
	d, err := hdrhistogram.Decode([]byte(h.HDR))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return d, nil
}

// Quantile returns the value at quantile q (0..100) in milliseconds, from
// the full histogram; it falls back to the summary figures when the
// histogram is absent.
func (h Histogram) Quantile(q float64) (float64, error) {
	d, err := h.Decode()
	if err != nil {
		return 0, err
	}
	if d.TotalCount() == 0 {
		return 0, nil
	}
	return usToMS(float64(d.ValueAtQuantile(q))), nil
}

// Verdict is one assertion's outcome.
type Verdict struct {
	// Name is the assertion as written in the scenario.
	Name string `json:"name"`
	// Expected and Actual say what was required and what was measured.
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Pass     bool   `json:"pass"`
	// Detail explains a failure (which groups, which ends).
	Detail string `json:"detail,omitempty"`
}

// Group returns the group called name, or nil.
func (r *Report) Group(name string) *Group {
	for i := range r.Groups {
		if r.Groups[i].Name == name {
			return &r.Groups[i]
		}
	}
	return nil
}

// Failed returns the verdicts that did not pass.
func (r *Report) Failed() []Verdict {
	var out []Verdict
	for _, v := range r.Assertions {
		if !v.Pass {
			out = append(out, v)
		}
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON and checks its schema.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	if r.Schema == schemaV1 {
		r.upgradeV1()
	}
	if r.Schema == schemaV2 {
		r.upgradeV2()
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("read report: schema %q, this streambench reads %q (and %q, %q)", r.Schema, Schema, schemaV2, schemaV1)
	}
	return &r, nil
}

// upgradeV2 reads a v2 report as v3: v2's windows carried only their end,
// and each began where the group's previous window ended (the first at 0),
// which is the start v3 states.
func (r *Report) upgradeV2() {
	prev := map[string]float64{}
	for i := range r.Windows {
		w := &r.Windows[i]
		w.Start = prev[w.Group]
		prev[w.Group] = w.Offset
	}
	r.Schema = Schema
}

// upgradeV1 reads a v1 report as v2: v1's recovery stopped at the first
// message after a break, which is v2's recovery_first; back to live was
// not measured, so recovery is left empty, and a warning says why.
func (r *Report) upgradeV1() {
	for i := range r.Groups {
		g := &r.Groups[i]
		g.RecoveryFirst, g.Recovery = g.Recovery, Histogram{}
	}
	r.Schema = schemaV2
	r.Warnings = append(r.Warnings, "a "+schemaV1+" report: its recovery (to the first message) is read as recovery_first; back to live was not measured")
}

// Load reads a report file.
func Load(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
