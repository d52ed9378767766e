package harness

import (
	"time"

	"github.com/streambench/streambench/targets/faulty"
)

// Option adjusts a run.
type Option func(*config)

type config struct {
	progress      func(Progress)
	progressEvery time.Duration
	target        string
	duration      time.Duration
	gracefulStop  *time.Duration
	seed          *int64
	bug           *faulty.Bug
	settle        time.Duration
	now           func() time.Time
	compress      float64
	clientScale   float64
	onStop        func()
}

func defaults() config {
	return config{progressEvery: time.Second, settle: 10 * time.Second, now: time.Now}
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
// instead of the scenario's target.
func WithTarget(addr string) Option { return func(c *config) { c.target = addr } }

// WithDuration overrides the scenario's duration (tests shorten runs).
func WithDuration(d time.Duration) Option { return func(c *config) { c.duration = d } }

// WithGracefulStop overrides the scenario's graceful stop.
func WithGracefulStop(d time.Duration) Option { return func(c *config) { c.gracefulStop = &d } }

// WithSeed overrides the scenario's seed (to replay a run).
func WithSeed(seed int64) Option { return func(c *config) { c.seed = &seed } }

// WithBug runs the builtin target with a planted bug (self-checks only).
func WithBug(b faulty.Bug) Option { return func(c *config) { c.bug = &b } }

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
func WithCompress(f float64) Option { return func(c *config) { c.compress = f } }

// WithClientScale multiplies every group's clients and connections by f
// (at least 1 each). Self-tests use it to run the real scenario files under
// the race detector.
func WithClientScale(f float64) Option { return func(c *config) { c.clientScale = f } }

// WithOnStop calls fn once, from the run's goroutine, when the run's
// duration ends (or it is interrupted): every stream is still open and
// the drain has not begun. `streambench run --memprofile` takes its heap
// profile there.
func WithOnStop(fn func()) Option { return func(c *config) { c.onStop = fn } }
