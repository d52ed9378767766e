// Package scenario defines streambench's scenario format (v1): the schema
// structs, strict YAML decoding with file:line:column errors, defaults and
// validation. A Scenario is plain data; the harness runs it.
package scenario

import (
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Version is the scenario format version this package reads.
const Version = 1

// Link kinds.
const (
	LinkBufconn   = "bufconn"
	LinkTCP       = "tcp"
	LinkToxiproxy = "toxiproxy"
)

// LinkKinds lists every link kind, in documentation order.
var LinkKinds = []string{LinkBufconn, LinkTCP, LinkToxiproxy}

// Scenario is one load/chaos run: a target, a link, client groups and
// assertions.
type Scenario struct {
	// Version is the format version; 0 means the current one.
	Version int `yaml:"version"`
	// Name identifies the scenario; reports go to out/<name>/.
	Name string `yaml:"name"`
	// Description says in a sentence what the scenario proves.
	Description string `yaml:"description"`
	// Seed feeds every random choice of the run; 0 means pick one (recorded
	// in the report so the run can be replayed).
	Seed int64 `yaml:"seed"`
	// Duration is how long clients keep opening streams.
	Duration Duration `yaml:"duration"`
	// GracefulStop is how long streams in flight get to finish after Duration
	// before they are cancelled.
	GracefulStop Duration `yaml:"graceful_stop"`
	// Target is the server under test.
	Target Target `yaml:"target"`
	// Link is how clients reach a builtin target.
	Link Link `yaml:"link"`
	// Groups are the client groups.
	Groups []Group `yaml:"groups"`
	// Faults is the fault timeline.
	Faults []Fault `yaml:"faults"`
	// Assert lists the assertions judged on the finished report.
	Assert []Assertion `yaml:"assert"`
	// Explore narrows what `streambench explore` generates for this
	// scenario (nil: everything the target and link can take); `run`
	// ignores it.
	Explore *Explore `yaml:"explore"`

	// File is the path the scenario was read from ("" when built in code).
	File string `yaml:"-"`
	// Source is the YAML text as read (echoed in the report).
	Source string `yaml:"-"`

	// pos maps the path of every field decoded from the file
	// ("groups[0].clients") to where its value stands; see PosOf.
	pos map[string]Pos
	// overrides maps the path of a value an override set to how (see
	// Override).
	overrides map[string]string
	// remote lets target.address be any host (AllowRemote).
	remote bool
}

// Target is the server under test: the builtin reference servers, the
// address of a running server, or a command streambench starts. Exactly one
// kind is set.
type Target struct {
	// Builtin runs the reference servers in-process with these settings.
	Builtin *Builtin `yaml:"builtin"`
	// Address is host:port of an external server (loopback only).
	Address string `yaml:"address"`
	// Command is a process streambench starts, serves the run against and
	// stops: the program and its arguments, "{port}" replaced by a free
	// loopback port it must listen on.
	Command []string `yaml:"command"`
	// Env adds KEY=VALUE entries to the command's environment ("{port}"
	// replaced too).
	Env []string `yaml:"env"`
	// Dir is the command's working directory (default: streambench's).
	Dir string `yaml:"dir"`
	// Ready says when the command serves (default: grpc.health.v1 answers
	// SERVING), within a bound.
	Ready *Ready `yaml:"ready"`
	// StopTimeout is how long the command gets after SIGTERM before
	// SIGKILL, at the end of the run (default 5s).
	StopTimeout Duration `yaml:"stop_timeout"`
	// TLS dials an address or command target over TLS.
	TLS *TLS `yaml:"tls"`
	// Insecure dials an address target in plaintext. An address target
	// must say tls or insecure (as ghz and grpcurl require); a command
	// target is plaintext unless it sets tls.
	Insecure bool `yaml:"insecure"`
	// Metadata is static gRPC metadata sent with every call of every
	// group: lowercase keys without the "grpc-" prefix, printable ASCII
	// values.
	Metadata map[string]string `yaml:"metadata"`
	// Pprof is the base URL (http://127.0.0.1:PORT, loopback) of a Go
	// target's net/http/pprof handlers: the leak check compares its
	// goroutine count before load and after teardown.
	Pprof string `yaml:"pprof"`
	// Custom names a target kind a Go user added to the plan's catalog
	// (harness.WithTargets): target: {kind: NAME, settings: {...}}. The
	// reference kinds are chosen by their own keys (builtin, address,
	// command) instead.
	Custom string `yaml:"kind"`
	// Settings are a Custom kind's own settings, which its kind decodes
	// strictly (DecodeParams).
	Settings Settings `yaml:"settings"`
	// Backends makes the target several backends behind a balancer:
	// replicas of the builtin or command target, or a list of addresses.
	Backends *Backends `yaml:"backends"`
}

// Balancer names: how clients' connections spread over several backends.
const (
	// BalancerL4 is one address in front of the backends (streambench's
	// link) that sends each new connection to the next backend.
	BalancerL4 = "l4"
	// BalancerClient is the clients' own gRPC balancing: a resolver lists
	// every backend and the policy picks per stream.
	BalancerClient = "client"
)

// Balancers and Policies list the valid target.backends.balancer and
// target.backends.policy values.
var (
	Balancers = []string{BalancerL4, BalancerClient}
	Policies  = []string{"round_robin", "pick_first"}
)

// MaxReplicas bounds target.backends.replicas.
const MaxReplicas = 32

// Backends is a target of several backends: N replicas of the builtin or
// command target (each its own listener or process), or a list of
// running addresses, behind a balancer.
type Backends struct {
	// Replicas is how many backends of the builtin or command target run
	// from the start (b0, b1, ...).
	Replicas int `yaml:"replicas"`
	// Addresses are running servers (loopback host:port), one backend
	// each, named by their address; instead of replicas.
	Addresses []string `yaml:"addresses"`
	// Balancer is l4 (default) or client.
	Balancer string `yaml:"balancer"`
	// Policy is the client balancer's gRPC load-balancing policy:
	// round_robin (default) or pick_first.
	Policy string `yaml:"policy"`
	// MaxConnectionAge makes every backend streambench runs send GOAWAY
	// to connections older than this (0: never), giving them
	// MaxConnectionAgeGrace (default 5s) to drain.
	MaxConnectionAge      Duration `yaml:"max_connection_age"`
	MaxConnectionAgeGrace Duration `yaml:"max_connection_age_grace"`
}

// Settings are a target kind's own settings: single values by name.
type Settings map[string]Param

// TLS is how streambench dials a target over TLS, named as in ghz: the CA
// that signed the server's certificate (server-auth TLS), the name to
// verify it against, and a client certificate and key for mutual TLS.
// Relative paths are relative to the scenario file's directory.
type TLS struct {
	// CA is a PEM file of the certificate(s) that signed the server's
	// (ghz --cacert; default: the system's roots).
	CA string `yaml:"ca"`
	// ServerName is the name the server's certificate must hold (ghz
	// --cname; default: the target's host).
	ServerName string `yaml:"server_name"`
	// Cert and Key are a PEM client certificate and its key, for mutual
	// TLS (ghz --cert, --key): both or neither.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// SkipVerify dials over TLS without checking the server's
	// certificate at all (ghz --skipTLS): encrypted, but anyone can be the
	// server. The report warns of it.
	SkipVerify bool `yaml:"skip_verify"`
}

// Ready is how streambench knows a command target serves: grpc.health.v1
// answering SERVING (the default), a TCP connect, or an output line.
type Ready struct {
	// TCP: ready once a TCP connect to its port succeeds.
	TCP bool `yaml:"tcp"`
	// Log: ready once a line of its output matches this regexp.
	Log string `yaml:"log"`
	// Timeout bounds the wait (default 10s); a target not ready by then is
	// a target failure (exit 3).
	Timeout Duration `yaml:"timeout"`
}

// Kind is the target's kind: "builtin", "address", "command", or "" when
// none or several are set (Validate says which).
func (t Target) Kind() string {
	if t.Backends != nil && t.Custom == "" {
		return "backends"
	}
	if t.Custom != "" {
		if t.Builtin != nil || t.Address != "" || len(t.Command) > 0 {
			return ""
		}
		return t.Custom
	}
	n, kind := 0, ""
	if t.Builtin != nil {
		n, kind = n+1, "builtin"
	}
	if t.Address != "" {
		n, kind = n+1, "address"
	}
	if len(t.Command) > 0 {
		n, kind = n+1, "command"
	}
	if n != 1 {
		return ""
	}
	return kind
}

// Builtin holds the settings of the in-process reference servers.
type Builtin struct {
	// Feed configures the Longlived feed.
	Feed Feed `yaml:"feed"`
	// Server configures the gRPC server.
	Server Server `yaml:"server"`
}

// Feed configures the Longlived feed.
type Feed struct {
	// Rate is how many updates the feed publishes per second.
	Rate Rate `yaml:"rate"`
	// Payload is the size of each update's payload.
	Payload Size `yaml:"payload"`
	// Ring is how many of the newest updates are kept for resubscribers.
	Ring int `yaml:"ring"`
	// Queue is each subscriber's send queue length; a subscriber whose queue
	// overflows is ended with ResourceExhausted.
	Queue int `yaml:"queue"`
}

// Server configures a gRPC server.
type Server struct {
	// MaxConcurrentStreams caps streams per connection (0 = grpc-go default).
	MaxConcurrentStreams uint32 `yaml:"max_concurrent_streams"`
	// Keepalive configures server keepalive pings and their enforcement.
	Keepalive Keepalive `yaml:"keepalive"`
	// Window is the server's HTTP/2 receive window (stream and
	// connection); 0 keeps gRPC's dynamic (BDP) windows.
	Window Size `yaml:"window"`
	// Buffers sizes the server transport's buffers.
	Buffers Buffers `yaml:"buffers"`
}

// Buffers sizes one side's gRPC transport buffers, per connection.
type Buffers struct {
	// Write is how much the transport gathers before a write to the
	// connection (0 = grpc-go's 32KiB).
	Write Size `yaml:"write"`
	// Read is the transport's read buffer (0 = grpc-go's 32KiB).
	Read Size `yaml:"read"`
	// SharedWrite takes the write buffer from a pool for each flush and
	// gives it back after, instead of keeping one per connection: less
	// memory per idle connection, a little more work per flush.
	SharedWrite bool `yaml:"shared_write"`
}

// Keepalive configures gRPC keepalive (server side).
type Keepalive struct {
	// Time is the idle time after which the server pings (0 = grpc default).
	Time Duration `yaml:"time"`
	// Timeout is how long the server waits for the ping ack.
	Timeout Duration `yaml:"timeout"`
	// MinTime is the least interval between client pings the server allows.
	MinTime Duration `yaml:"min_time"`
}

// Link says how clients reach a builtin target.
type Link struct {
	// Kind is one of LinkKinds; "" means bufconn.
	Kind string
	// Toxiproxy holds the toxiproxy link's settings (link: {toxiproxy: {...}}).
	Toxiproxy *Toxiproxy
}

// Toxiproxy configures a toxiproxy link.
type Toxiproxy struct {
	// Address is host:port of a running toxiproxy server's HTTP API
	// (loopback); "" runs toxiproxy embedded in streambench.
	Address string `yaml:"address"`
}

// Group is a set of identical clients driving one RPC.
type Group struct {
	// Name identifies the group in reports and assertions.
	Name string `yaml:"name"`
	// RPC is an entry of the RPC catalog (harness/rpc; `streambench list`).
	RPC string `yaml:"rpc"`
	// Clients is how many concurrent clients the group runs.
	Clients int `yaml:"clients"`
	// Connections is how many ClientConns the clients share (default 1).
	Connections int `yaml:"connections"`
	// Messages is the number of messages per stream, for RPCs whose
	// streams carry a count (Pow's count, the requests of Sum and Sqrt;
	// default 10).
	Messages int `yaml:"messages"`
	// Interval is the pause between messages: between the client's sends for
	// Sum and Sqrt, between the server's sends for Pow.
	Interval Duration `yaml:"interval"`
	// Payload is the payload size of each message the group asks for or sends.
	Payload Size `yaml:"payload"`
	// Base is Pow's base (default 2): a setting of the Math/Pow catalog
	// entry, which defaults and checks it.
	Base *int64 `yaml:"base"`
	// Repeat says whether a client opens a new stream when one ends (default
	// true). A Subscribe client resubscribes from the next seq it needs.
	Repeat *bool `yaml:"repeat"`
	// Pause is the wait before a client opens its next stream.
	Pause Duration `yaml:"pause"`
	// StreamTimeout is a deadline for each stream (0 = none).
	StreamTimeout Duration `yaml:"stream_timeout"`
	// Start delays the group's clients from the start of the run (a phase
	// where other groups run alone, e.g. fast readers before slow ones).
	Start Duration `yaml:"start"`
	// Reconnect is the backoff after a failed stream before the next one,
	// and the group's ClientConns' connect backoff (gRPC connection-backoff
	// semantics).
	Reconnect *Reconnect `yaml:"reconnect"`
	// Read makes the group's clients slow readers.
	Read Read `yaml:"read"`
	// Idle ends a stream that received nothing for this long (a per-stream
	// watchdog that detects a blackholed connection; 0 = off).
	Idle Duration `yaml:"idle"`
	// Keepalive sets client keepalive pings on the group's ClientConns.
	Keepalive ClientKeepalive `yaml:"keepalive"`
	// Window is the HTTP/2 receive window (stream and connection) of the
	// group's ClientConns; 0 keeps gRPC's dynamic (BDP) windows.
	Window Size `yaml:"window"`
	// Buffers sizes the transport buffers of the group's ClientConns.
	Buffers Buffers `yaml:"buffers"`
	// Stages ramp the number of active clients (closed loop): from 0, each
	// stage moves linearly to its target over its duration; after the last
	// the target holds. Clients is the most that can be active.
	Stages []ClientStage `yaml:"stages"`
	// Call makes the group drive any gRPC method generically (the RPC
	// catalog's generic entry; rpc may then be left out).
	Call *Call `yaml:"call"`
	// Arrival makes the group open loop: streams start at this rate
	// whatever the target does, each on one of Clients (the most streams in
	// flight); due starts beyond Arrival.Queue while every client is busy
	// are dropped and counted.
	Arrival *Arrival `yaml:"arrival"`
}

// ClientStage is one step of a closed-loop ramp.
type ClientStage struct {
	Duration Duration `yaml:"duration"`
	Target   int      `yaml:"target"`
}

// Arrival is an open-loop arrival schedule: a constant rate, or stages
// ramping linearly from Rate (0 when unset) to each stage's target.
type Arrival struct {
	Rate   Rate        `yaml:"rate"`
	Stages []RateStage `yaml:"stages"`
	// Queue is how many due slots may wait for a free client; the oldest
	// beyond it are dropped. Nil means the group's client count.
	Queue *Queue `yaml:"queue"`
}

// RateStage is one step of an open-loop ramp.
type RateStage struct {
	Duration Duration `yaml:"duration"`
	Target   Rate     `yaml:"target"`
}

// Reconnect is an exponential backoff: delay = min(base*multiplier^n, max),
// then ± jitter (a fraction), as in gRPC's connection-backoff spec.
type Reconnect struct {
	Base       Duration `yaml:"base"`
	Multiplier float64  `yaml:"multiplier"`
	Jitter     float64  `yaml:"jitter"`
	Max        Duration `yaml:"max"`
}

// Read is how a group's clients read: all zero is as fast as possible.
type Read struct {
	// Delay is a pause after each message received.
	Delay Duration `yaml:"delay"`
	// StallAfter and StallFor: this long into each stream, stop reading for
	// StallFor, then resume.
	StallAfter Duration `yaml:"stall_after"`
	StallFor   Duration `yaml:"stall_for"`
	// Stop: after StallAfter, stop reading for good.
	Stop bool `yaml:"stop"`
}

// ClientKeepalive configures client keepalive pings. grpc-go raises Time
// below 10s to 10s; the server must allow it (server.keepalive.min_time).
type ClientKeepalive struct {
	Time    Duration `yaml:"time"`
	Timeout Duration `yaml:"timeout"`
}

// Fault is one entry of the fault timeline: when it starts (At, then every
// Every until Until), how long it lasts (For; 0 for an instant fault or one
// that is never reverted), what it is (Kind, with the kind's own settings in
// Params), and whom it hits (Scope).
type Fault struct {
	At    Duration `yaml:"at"`
	For   Duration `yaml:"for"`
	Every Duration `yaml:"every"`
	// Until is the last offset a repeating fault may start at (default:
	// the end of the run).
	Until Duration `yaml:"until"`
	Kind  string   `yaml:"kind"`
	Scope Scope    `yaml:"scope"`
	// Params are the kind's own settings (every other key of the entry),
	// decoded strictly by the fault registry.
	Params map[string]Param `yaml:"-"`
	// Pos is where the entry stands in the file.
	Pos Pos `yaml:"-"`
}

// Scope picks what a fault hits: everything (the zero Scope), one group,
// and/or a fraction of clients (network faults: of connections) picked with
// the scenario's seed.
type Scope struct {
	Group    string  `yaml:"group"`
	Fraction float64 `yaml:"fraction"`
}

// Param is one kind-specific fault setting as written.
type Param struct {
	Value string
	Pos   Pos
	node  *yaml.Node
}

// Assertion is one entry of the assert list, kept as written: either an
// expression ("pow.latency.p99 < 20ms") or a one-key mapping ({eof: clean}).
// The assert package compiles it.
type Assertion struct {
	// Expr is the expression text, or "" for a mapping.
	Expr string
	// Key and Value are the mapping form's key and value (Value may be "").
	Key, Value string
	// Args holds a mapping form whose value is itself a mapping of
	// settings (isolation: {group: fast, factor: 3}).
	Args map[string]string
	// Pos is where the entry stands in the file.
	Pos Pos
}

// String renders the assertion the way it was written.
func (a Assertion) String() string {
	if a.Key == "" {
		return a.Expr
	}
	if len(a.Args) > 0 {
		keys := make([]string, 0, len(a.Args))
		for k := range a.Args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + a.Args[k]
		}
		return a.Key + ": {" + strings.Join(parts, ", ") + "}"
	}
	if a.Value == "" {
		return a.Key
	}
	return a.Key + ": " + a.Value
}

// Pos is a position in a scenario file (1-based; zero when unknown).
type Pos struct {
	Line, Column int
}

// Duration is a time.Duration written in YAML as a Go duration string ("10s").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders the duration as Go does.
func (d Duration) String() string { return time.Duration(d).String() }

// Size is a byte count written in YAML as "256B", "4KiB", "1MiB" or a plain
// integer of bytes.
type Size int64

// Rate is a per-second rate written in YAML as "200/s", "12000/m", "5/ms" or
// a plain number (per second).
type Rate float64

// PerSecond returns the rate in events per second.
func (r Rate) PerSecond() float64 { return float64(r) }
