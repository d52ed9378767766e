package harness

import (
	"time"

	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
)

// Option adjusts a run. Some options are overrides of the scenario
// (WithDuration, WithGracefulStop, WithSeed, WithClientScale, WithCompress,
// WithTarget, WithInsecure, WithTLS): NewPlan applies and validates them. The others (progress,
// settle, hooks) change how the run is carried out and are read by Run.
type Option func(*config)

type config struct {
	ov            Overrides
	rpcs          *rpc.Catalog
	progress      func(Progress)
	progressEvery time.Duration
	variant       *Variant
	settle        time.Duration
	now           func() time.Time
	onStop        func()
	startAt       time.Time
	artifacts     string
	cpuTime       func() time.Duration
}

func defaults() config {
	return config{progressEvery: time.Second, settle: 10 * time.Second, now: time.Now, cpuTime: processCPU}
}

// configOf applies opts to the defaults.
func configOf(opts []Option) config {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// WithProgress calls fn about every `every` while the run goes on (and once
// at the end), from one goroutine.
func WithProgress(fn func(Progress), every time.Duration) Option {
	return func(c *config) {
		c.progress = fn
		if every > 0 {
			c.progressEvery = every
		}
	}
}

// WithTarget points the run at an external server (host:port, loopback)
// instead of the scenario's target (an override: NewPlan checks it).
func WithTarget(addr string) Option { return func(c *config) { c.ov.Target = addr } }

// WithInsecure dials the WithTarget server in plaintext (run --insecure).
// A target override needs this or WithTLS.
func WithInsecure() Option { return func(c *config) { c.ov.Insecure = true } }

// WithTLS dials the WithTarget server over TLS with these settings (run
// --cacert, --cert, --key, --cname); relative paths are relative to the
// working directory.
func WithTLS(t scenario.TLS) Option { return func(c *config) { c.ov.TLS = &t } }

// WithDuration overrides the scenario's duration (> 0; NewPlan refuses a
// fault or group start the shorter run would silently drop).
func WithDuration(d time.Duration) Option { return func(c *config) { c.ov.Duration = &d } }

// WithGracefulStop overrides the scenario's graceful stop (>= 0).
func WithGracefulStop(d time.Duration) Option { return func(c *config) { c.ov.GracefulStop = &d } }

// WithShard makes the run shard s of a sharded run (an override: NewPlan
// checks it). See Shard.
func WithShard(s Shard) Option { return func(c *config) { c.ov.Shard = &s } }

// WithStartAt holds the clients until t (after the target is reached and
// every connection is up), so the shards of a sharded run start together.
// The report says how far from t the clients actually started. A t in the
// past starts at once.
func WithStartAt(t time.Time) Option { return func(c *config) { c.startAt = t } }

// WithRemoteTarget lets the target be any host:port, not only a loopback
// one: for runs inside a cluster of the user's, such as a sharded run's
// Kubernetes Job. streambench's own tests never use it.
func WithRemoteTarget() Option { return func(c *config) { c.ov.AllowRemote = true } }

// WithArtifacts names the folder a run may write files to besides the
// report: a command target's output (target.log). "" keeps only its last
// lines, for errors.
func WithArtifacts(dir string) Option { return func(c *config) { c.artifacts = dir } }

// WithSeed overrides the scenario's seed (to replay a run).
func WithSeed(seed int64) Option { return func(c *config) { c.ov.Seed = &seed } }

// WithRPCs makes the run's groups drive the RPCs of c instead of the
// reference catalog (RPCs). NewPlan validates the groups against c.
func WithRPCs(c *rpc.Catalog) Option { return func(cfg *config) { cfg.rpcs = c } }

// WithSettle bounds how long teardown may take after the graceful stop
// before the run is declared stuck (default 10s).
func WithSettle(d time.Duration) Option { return func(c *config) { c.settle = d } }

// Progress is a live view of a run.
type Progress struct {
	// Elapsed is the time since clients started; Duration the planned run.
	Elapsed, Duration time.Duration
	// Phase is "running", "draining" (graceful stop) or "done".
	Phase string
	// Groups are per-group running totals.
	Groups []GroupProgress
	// Window is the span of the per-second window that GroupProgress.Rate
	// and P99 cover (0 before the first window: no figure yet).
	Window time.Duration
	// Faults names the fault occurrences active now ("faults[1] latency
	// #2"), oldest first; an instant one (sever) for a second after it fired.
	Faults []string
}

// GroupProgress is one group's running totals.
type GroupProgress struct {
	Name string
	// Active is streams open right now.
	Active uint64
	// Streams opened and failed, messages received so far.
	Opened, Failed, Received uint64
	// Rate is messages received per second over the latest per-second
	// window (0 before the first one).
	Rate float64
	// P99 is the message latency p99 over that window (0 when it received
	// nothing).
	P99 time.Duration
}

// WithCompress runs the scenario on a compressed clock: its duration,
// graceful stop, group start offsets and every fault's timing (at, for,
// every, until, grace) are multiplied by f (0 < f <= 1). Thresholds are
// left alone. Self-tests use it to run the real scenario files quickly.
func WithCompress(f float64) Option { return func(c *config) { c.ov.Compress = &f } }

// WithClientScale multiplies every group's clients and connections by f
// (> 0; at least 1 each). Self-tests use it to run the real scenario files
// under the race detector; `run --client-scale` uses it for scale runs.
func WithClientScale(f float64) Option { return func(c *config) { c.ov.ClientScale = &f } }

// WithCPUTime replaces the source of the process's CPU time (getrusage by
// default), which the run samples every second to tell whether the process
// itself was saturated (resources.cpu_busy_seconds and a warning). Tests
// inject one.
func WithCPUTime(fn func() time.Duration) Option { return func(c *config) { c.cpuTime = fn } }

// WithOnStop calls fn once, from the run's goroutine, when the run's
// duration ends (or it is interrupted): every stream is still open and
// the drain has not begun. `streambench run --memprofile` takes its heap
// profile there.
func WithOnStop(fn func()) Option { return func(c *config) { c.onStop = fn } }
