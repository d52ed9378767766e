// Package metrics is streambench's live metric set: one registry naming
// each metric (Defs), a Set that a run's sampler feeds once per interval
// from what the drivers already record (never from the hot path), and the
// three ways out of it — a Prometheus scrape endpoint (Serve), Prometheus
// remote write (RemoteWrite) and OTLP (OTLP).
package metrics

// Type is a metric's Prometheus type.
type Type string

// Metric types.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Def names one metric of the set.
type Def struct {
	// Name is the metric's name as exposed (prefix streambench_).
	Name string
	Type Type
	// Unit is what a value counts ("seconds", "streams", ...).
	Unit string
	// Help is the one-sentence description exposed with the metric.
	Help string
	// Labels are the metric's own labels, after the run's (RunLabels).
	Labels []string
}

// RunLabels are on every metric: scenario always; shard ("i/n") only when
// the run is a shard of a sharded run; run_id only when given
// (`run --run-id` or STREAMBENCH_RUN_ID), so one query can sum a fleet.
var RunLabels = []string{"scenario", "shard", "run_id"}

// Metric names.
const (
	ActiveStreams    = "streambench_active_streams"
	StreamsOpened    = "streambench_streams_opened_total"
	StreamsEnded     = "streambench_streams_ended_total"
	MessagesSent     = "streambench_messages_sent_total"
	MessagesReceived = "streambench_messages_received_total"
	Latency          = "streambench_message_latency_seconds"
	LatencyCorrected = "streambench_message_latency_corrected_seconds"
	Outages          = "streambench_outages_total"
	OutagesRecovered = "streambench_outages_recovered_total"
	RecoverySeconds  = "streambench_recovery_seconds"
	Violations       = "streambench_violations_total"
	FaultActive      = "streambench_fault_active"
	OpenLoopBacklog  = "streambench_open_loop_backlog"
	BackendActive    = "streambench_backend_active_streams"
	BackendOpened    = "streambench_backend_streams_opened_total"
	BackendMessages  = "streambench_backend_messages_received_total"
	BackendUp        = "streambench_backend_up"
)

var (
	group   = []string{"group", "rpc"}
	backend = []string{"backend"}
)

// Defs is the metric set, the one place that names each metric. The docs
// (docs/metrics.md) and the Grafana dashboard are checked against it.
var Defs = []Def{
	{ActiveStreams, Gauge, "streams", "Streams started and not yet ended, by client group.", group},
	{StreamsOpened, Counter, "streams", "Streams the clients opened (report: streams.opened).", group},
	{StreamsEnded, Counter, "streams", "Streams ended, by end class as the report's ends name them: complete, premature_eof, violation, canceled, deadline, idle_timeout, status:<gRPC code>.", append(group[:2:2], "end")},
	{MessagesSent, Counter, "messages", "Messages the clients sent (report: messages.sent).", group},
	{MessagesReceived, Counter, "messages", "Messages the clients received (report: messages.received).", group},
	{Latency, Histogram, "seconds", "Per-message latency: a native histogram, with classic buckets for servers without native histograms.", group},
	{LatencyCorrected, Histogram, "seconds", "Per-message latency from when each message was meant to be sent (coordinated-omission corrected), for groups whose load model paces messages.", group},
	{Outages, Counter, "outages", "Client outages opened: a live client's stream failed, so it reconnects (report: outages.opened).", group},
	{OutagesRecovered, Counter, "outages", "Client outages that ended back to live: a message within the group's freshness bound arrived (report: outages.recovered).", group},
	{RecoverySeconds, Histogram, "seconds", "Time from a client's stream breaking until it was back to live, one value per recovered outage (report: recovery).", group},
	{Violations, Counter, "violations", "Protocol violations found, by kind: gap, duplicate, reorder, wrong_value, wrong_result, extra.", append(group[:2:2], "kind")},
	{FaultActive, Gauge, "faults", "1 while an occurrence of the fault kind is active (an instant kind such as sever: for the second after it fired), else 0; one series per kind in the scenario.", []string{"kind"}},
	{OpenLoopBacklog, Gauge, "streams", "Open-loop slots due and neither started nor dropped: arrivals waiting for a free client.", group},
	{BackendActive, Gauge, "streams", "Streams open on each backend of a target of several backends (the backend each connection went to, as the link knows it; all groups together).", backend},
	{BackendOpened, Counter, "streams", "Streams opened on each backend of a target of several backends.", backend},
	{BackendMessages, Counter, "messages", "Messages the clients received from each backend of a target of several backends.", backend},
	{BackendUp, Gauge, "backends", "1 while the backend is in service behind the balancer, 0 after it left (or before it joined).", backend},
}

// Lookup returns the metric named name, or false.
func Lookup(name string) (Def, bool) {
	for _, d := range Defs {
		if d.Name == name {
			return d, true
		}
	}
	return Def{}, false
}
