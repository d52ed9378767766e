package harness

import (
	"time"

	"github.com/streambench/streambench/harness/metrics"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/harness/target"
)

// Option is an option of Run, which resolves a plan and runs it: a
// PlanOption or a RunOption.
type Option interface{ option() }

// PlanOption changes what a plan is: the scenario's overrides (WithDuration,
// WithSeed, WithClientScale, WithCompress, WithTarget, WithInsecure,
// WithTLS, WithShard, WithRemoteTarget) and the catalogs it draws on
// (WithRPCs, WithTargets, WithTargetKind). NewPlan applies and validates
// them. RunPlan takes no PlanOption: passing one does not compile.
type PlanOption func(*planConfig)

// RunOption changes how a plan is carried out (progress, settle, hooks,
// a planted bug's client side). NewPlan takes no RunOption.
type RunOption func(*runConfig)

func (PlanOption) option() {}
func (RunOption) option()  {}

type planConfig struct {
	ov      Overrides
	rpcs    *rpc.Catalog
	targets *target.Catalog
	kinds   []target.Kind // added to targets (WithTargetKind)
	// noVerify skips the RPCs' checks against the scenario's descriptor
	// files (rpc.Catalog.Verify): judging a report reads none of them.
	noVerify bool
}

type runConfig struct {
	progress      func(Progress)
	progressEvery time.Duration
	variant       *Variant
	settle        time.Duration
	now           func() time.Time
	onStop        func()
	startAt       time.Time
	artifacts     string
	cpuTime       func() time.Duration
	cpuWait       func() (CPUWait, bool)
	metrics       *metrics.Set
}

// planConfigOf applies opts.
func planConfigOf(opts []PlanOption) planConfig {
	var cfg planConfig
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// runConfigOf applies opts to the defaults.
func runConfigOf(opts []RunOption) runConfig {
	cfg := runConfig{progressEvery: time.Second, settle: 10 * time.Second, now: time.Now, cpuTime: processCPU, cpuWait: processWait}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// split sorts Run's options into the plan's and the run's.
func split(opts []Option) (plan []PlanOption, run []RunOption) {
	for _, o := range opts {
		switch o := o.(type) {
		case PlanOption:
			plan = append(plan, o)
		case RunOption:
			run = append(run, o)
		}
	}
	return plan, run
}

// WithProgress calls fn about every `every` while the run goes on (and once
// at the end), from one goroutine.
func WithProgress(fn func(Progress), every time.Duration) RunOption {
	return func(c *runConfig) {
		c.progress = fn
		if every > 0 {
			c.progressEvery = every
		}
	}
}

// WithTarget points the run at an external server (host:port, loopback)
// instead of the scenario's target (an override: NewPlan checks it).
func WithTarget(addr string) PlanOption { return func(c *planConfig) { c.ov.Target = addr } }

// WithInsecure dials the WithTarget server in plaintext (run --insecure).
// A target override needs this or WithTLS.
func WithInsecure() PlanOption { return func(c *planConfig) { c.ov.Insecure = true } }

// WithTLS dials the WithTarget server over TLS with these settings (run
// --cacert, --cert, --key, --cname); relative paths are relative to the
// working directory.
func WithTLS(t scenario.TLS) PlanOption { return func(c *planConfig) { c.ov.TLS = &t } }

// WithMetadata adds key: value to the metadata of every call (run -H),
// replacing the scenario's value of the same key. Keys and values are
// checked as target.metadata's are.
func WithMetadata(key, value string) PlanOption {
	return func(c *planConfig) {
		if c.ov.Metadata == nil {
			c.ov.Metadata = map[string]string{}
		}
		c.ov.Metadata[key] = value
	}
}

// WithDuration overrides the scenario's duration (> 0; NewPlan refuses a
// fault or group start the shorter run would silently drop).
func WithDuration(d time.Duration) PlanOption { return func(c *planConfig) { c.ov.Duration = &d } }

// WithGracefulStop overrides the scenario's graceful stop (>= 0).
func WithGracefulStop(d time.Duration) PlanOption {
	return func(c *planConfig) { c.ov.GracefulStop = &d }
}

// WithShard makes the run shard s of a sharded run (an override: NewPlan
// checks it). See Shard.
func WithShard(s Shard) PlanOption { return func(c *planConfig) { c.ov.Shard = &s } }

// WithStartAt holds the clients until t (after the target is reached and
// every connection is up), so the shards of a sharded run start together.
// The report says how far from t the clients actually started. A t in the
// past starts at once.
func WithStartAt(t time.Time) RunOption { return func(c *runConfig) { c.startAt = t } }

// WithRemoteTarget lets the target be any host:port, not only a loopback
// one: for runs inside a cluster of the user's, such as a sharded run's
// Kubernetes Job. streambench's own tests never use it.
func WithRemoteTarget() PlanOption { return func(c *planConfig) { c.ov.AllowRemote = true } }

// WithArtifacts names the folder a run may write files to besides the
// report: a command target's output (target.log). "" keeps only its last
// lines, for errors.
func WithArtifacts(dir string) RunOption { return func(c *runConfig) { c.artifacts = dir } }

// WithSeed overrides the scenario's seed (to replay a run).
func WithSeed(seed int64) PlanOption { return func(c *planConfig) { c.ov.Seed = &seed } }

// WithRPCs makes the plan's groups drive the RPCs of c. NewPlan validates
// the groups against c. Package streambench (the module's root) assembles
// the reference catalog.
func WithRPCs(c *rpc.Catalog) PlanOption { return func(cfg *planConfig) { cfg.rpcs = c } }

// WithTargets makes the plan's target one of the kinds of c. Package
// streambench (the module's root) assembles the reference kinds (builtin,
// address, command).
func WithTargets(c *target.Catalog) PlanOption { return func(cfg *planConfig) { cfg.targets = c } }

// WithTargetKind adds k to the plan's target kinds, or replaces the kind
// of the same name (a planted bug's builtin target): after WithTargets,
// whatever the order.
func WithTargetKind(k target.Kind) PlanOption {
	return func(cfg *planConfig) { cfg.kinds = append(cfg.kinds, k) }
}

// WithSettle bounds how long teardown may take after the graceful stop
// before the run is declared stuck (default 10s).
func WithSettle(d time.Duration) RunOption { return func(c *runConfig) { c.settle = d } }

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
func WithCompress(f float64) PlanOption { return func(c *planConfig) { c.ov.Compress = &f } }

// WithClientScale multiplies every group's clients and connections by f
// (> 0; at least 1 each). Self-tests use it to run the real scenario files
// under the race detector; `run --client-scale` uses it for scale runs.
func WithClientScale(f float64) PlanOption { return func(c *planConfig) { c.ov.ClientScale = &f } }

// WithCPUTime replaces the source of the process's CPU time (getrusage by
// default), which the run samples every second to tell whether the process
// itself was saturated (resources.cpu_busy_seconds and a warning). Tests
// inject one.
func WithCPUTime(fn func() time.Duration) RunOption { return func(c *runConfig) { c.cpuTime = fn } }

// WithCPUWait replaces the source of how long the process's threads have
// waited for a CPU while ready to run, and over how many timeslices
// (Linux's schedstat by default; false: unknown), which the run samples
// every second (resources.cpu_starved_seconds). Tests inject one.
func WithCPUWait(fn func() (CPUWait, bool)) RunOption {
	return func(c *runConfig) { c.cpuWait = fn }
}

// WithOnStop calls fn once, from the run's goroutine, when the run's
// duration ends (or it is interrupted): every stream is still open and
// the drain has not begun. `streambench run --memprofile` takes its heap
// profile there.
func WithOnStop(fn func()) RunOption { return func(c *runConfig) { c.onStop = fn } }
