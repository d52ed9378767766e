// Package record measures streams: latency and stream-duration histograms
// (HdrHistogram), message and stream counters, stream ends by class and
// status code, and protocol violations.
//
// A Recorder belongs to one client group. It is split into shards, each with
// its own histograms and lock; a client always records into the shard picked
// by its id, so no lock is shared by all clients on the hot path and
// recording a message allocates nothing.
package record

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc/codes"
)

// Histogram range and precision. Values are microseconds.
const (
	// LowestUS is the smallest trackable value (1 µs).
	LowestUS = 1
	// HighestUS is the largest trackable value (1 h); larger values are
	// recorded as HighestUS and counted as clamped.
	HighestUS = int64(time.Hour / time.Microsecond)
	// SigFigs is the number of significant decimal digits kept.
	SigFigs = 3
)

// NewHistogram returns an empty histogram with streambench's range and
// precision (microseconds, 1 µs .. 1 h, 3 significant digits).
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestUS, HighestUS, SigFigs)
}

// Class says how a stream ended.
type Class uint8

// Stream end classes.
const (
	// Complete: the protocol's full, correct end (status OK after every
	// expected message).
	Complete Class = iota
	// PrematureEOF: a clean io.EOF / status OK before the stream was
	// complete — the most dangerous streaming bug, since a naive client
	// takes it for success.
	PrematureEOF
	// Status: the stream ended with a non-OK status from the server or the
	// transport; End.Code says which.
	Status
	// Violation: the client aborted the stream because the server broke the
	// protocol (wrong value, wrong seq, wrong sum).
	Violation
	// Canceled: the client itself cancelled the stream (end of run).
	Canceled
	// Deadline: the client's own per-stream deadline expired.
	Deadline
	// Idle: the client's per-stream idle watchdog ended the stream: no
	// message arrived for the configured idle time while the client was
	// reading (a blackholed or stalled server).
	Idle
	numClasses
)

var classNames = [...]string{"complete", "premature_eof", "status", "violation", "canceled", "deadline", "idle_timeout"}

// String names the class as reports do.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

// End describes how one stream ended.
type End struct {
	Class Class
	// Code is the gRPC status code when Class is Status.
	Code codes.Code
}

// Key names the end for reports: the class, or "status:<Code>".
func (e End) Key() string {
	if e.Class == Status {
		return "status:" + e.Code.String()
	}
	return e.Class.String()
}

// Kind is a protocol violation kind.
type Kind uint8

// Violation kinds.
const (
	// Gap: seqs were skipped (n = how many updates were lost).
	Gap Kind = iota
	// Duplicate: a seq arrived again.
	Duplicate
	// Reorder: a seq arrived after a later one.
	Reorder
	// WrongValue: a message carried a wrong value (Pow power, Sqrt root).
	WrongValue
	// WrongResult: a final result was wrong (Sum's sum or count).
	WrongResult
	// Extra: more messages than the protocol allows.
	Extra
	numKinds
)

var kindNames = [...]string{"gap", "duplicate", "reorder", "wrong_value", "wrong_result", "extra"}

// String names the violation kind as reports do.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Sink receives one client's measurements. Implementations must not
// allocate or take a lock shared by all clients, and must be safe for use
// from more than one goroutine (a bidi driver counts Sent from its sender
// goroutine while its receiver records the rest).
type Sink interface {
	// Sent counts one message sent by the client.
	Sent()
	// Received counts one message received, with its latency.
	Received(latency time.Duration)
	// Violated counts n protocol violations of kind k.
	Violated(k Kind, n uint64)
	// Started counts one stream opened.
	Started()
	// Ended counts one stream end, with the stream's duration. detail is a
	// human-readable reason kept for the first few non-complete ends.
	Ended(e End, d time.Duration, detail string)
}

// Window is one interval of a recorder's activity: counter totals at its
// end, ends by End.Key() so far, and the latency recorded during it.
type Window struct {
	Counters
	Ends    map[string]uint64
	Latency *hdrhistogram.Histogram
	// Corrected is the corrected latency (CorrectedSink) recorded in the
	// window; nil when the group records none.
	Corrected *hdrhistogram.Histogram
	// MaxSeq is the highest sequence number any client saw so far
	// (SeqSink; 0 when none reports them).
	MaxSeq uint64
	// Recovery is the recovery time (Snapshot.Recovery) of the outages
	// that ended back to live in the window; nil when none did.
	Recovery *hdrhistogram.Histogram
	// Tally is the violation and outage counters at the window's end.
	Tally Tally

	// The accumulators Merge reuses from window to window, and the running
	// totals of stream ends it keeps.
	accLatency, accCorrected, accRecovery *hdrhistogram.Histogram
	ends                                  *[numClasses][codes.Unauthenticated + 1]uint64
}

// Window cuts a window (Cut) and merges it into a new Window: the counters
// and stream ends so far, and the latency recorded since the previous cut.
// The caller diffs the cumulative parts. It allocates; a sampler that cuts
// every second uses Cut and Merge with reused values instead.
func (r *Recorder) Window() Window {
	r.compat.Lock()
	defer r.compat.Unlock()
	r.Cut(&r.compat.cut)
	r.Merge(&r.compat.cut, &r.compat.w, 0)
	w := r.compat.w
	w.Ends = maps.Clone(w.Ends)
	w.Latency, w.Corrected, w.Recovery = cloneHist(w.Latency), cloneHist(w.Corrected), cloneHist(w.Recovery)
	w.accLatency, w.accCorrected, w.accRecovery, w.ends = nil, nil, nil, nil
	return w
}

func cloneHist(h *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	if h == nil {
		return nil
	}
	c := NewHistogram()
	c.Merge(h)
	return c
}

// winHists is one window of a shard: its histograms, and the counts that
// go with them (recorded under the shard's lock with the values, so a
// message's count and its latency are in one window). The corrected and
// recovery histograms are made at their first value and then kept: a set
// goes back to the recorder's pool after each merge, so a run allocates
// sets only while a merger lags behind its cuts.
type winHists struct {
	latency, corrected, recovery *hdrhistogram.Histogram
	received, ended, failed      uint64
	ends                         [numClasses][codes.Unauthenticated + 1]uint64
}

func (h *winHists) reset() {
	for _, x := range [...]*hdrhistogram.Histogram{h.latency, h.corrected, h.recovery} {
		if x != nil && x.TotalCount() > 0 {
			x.Reset()
		}
	}
	h.received, h.ended, h.failed = 0, 0, 0
	h.ends = [numClasses][codes.Unauthenticated + 1]uint64{}
}

// spare returns an empty window set from the pool.
func (r *Recorder) spare() *winHists {
	r.pool.Lock()
	defer r.pool.Unlock()
	if n := len(r.pool.free); n > 0 {
		h := r.pool.free[n-1]
		r.pool.free = r.pool.free[:n-1]
		return h
	}
	return &winHists{latency: NewHistogram()}
}

// Cut is one window taken from every shard of a recorder, as HdrHistogram's
// Recorder takes an interval: each shard's window is swapped for an empty
// one in one atomic step, without waiting for its lock (a client holding it
// may be waiting for a processor behind thousands of others), and the
// shard's other counters are read at the same moment. Merge then waits, off
// the cutter's path, for any client still recording into a taken window.
// Reuse a Cut from window to window: Cut and Merge allocate nothing once
// the pool holds a spare set per shard.
type Cut struct {
	// Started, Opened and Sent are read at the cut; Received, Ended and
	// Failed are summed from the windows at Merge (Counters of a merged
	// Window holds all six as running totals).
	Counters
	Tally  Tally
	MaxSeq uint64
	taken  []*winHists // by shard
}

// Cut takes the window since the previous cut from every shard into c. One
// goroutine should call it (the run's cutter); Merge may run in another,
// later, but before the next Cut of c.
func (r *Recorder) Cut(c *Cut) {
	c.Counters, c.Tally, c.MaxSeq = Counters{}, Tally{}, 0
	c.taken = c.taken[:0]
	for i := range r.shards {
		s := &r.shards[i]
		c.taken = append(c.taken, s.win.Swap(r.spare()))
		c.Started += s.started.Load()
		c.Opened += s.opened.Load()
		c.Sent += s.sent.Load()
		for k := range c.Tally.Violations {
			c.Tally.Violations[k] += s.violations[k].Load()
		}
		c.Tally.Broke += s.broke.Load()
		c.Tally.Resumed += s.resumed.Load()
		c.Tally.Recovered += s.recovered.Load()
		c.MaxSeq = max(c.MaxSeq, uint64(s.maxSeq.Load()))
	}
}

// Merge merges the cut c into w, reusing w's map and histograms (w's
// previous contents are replaced; its counters are running totals), and
// returns c's windows to the recorder's pool. span is how long the window
// lasted (0: unknown): a window of at most BaselineSpan can set the
// group's pre-outage latency.
func (r *Recorder) Merge(c *Cut, w *Window, span time.Duration) {
	// A client that loaded a shard's window before the cut swapped it
	// records under the shard's lock: once the lock is free, it is done.
	for i := range c.taken {
		r.shards[i].mu.Lock()
		//lint:ignore SA2001 an empty critical section is the barrier
		r.shards[i].mu.Unlock()
	}
	received, ended, failed := w.Received, w.Ended, w.Failed
	w.Counters, w.Tally, w.MaxSeq = c.Counters, c.Tally, c.MaxSeq
	w.Received, w.Ended, w.Failed = received, ended, failed
	if w.ends == nil {
		w.ends = new([numClasses][codes.Unauthenticated + 1]uint64)
	}
	for _, h := range c.taken {
		w.Received += h.received
		w.Ended += h.ended
		w.Failed += h.failed
		for cl := range h.ends {
			for code, n := range h.ends[cl] {
				w.ends[cl][code] += n
			}
		}
	}
	if w.Ends == nil {
		w.Ends = map[string]uint64{}
	}
	for cl := range w.ends {
		for code, n := range w.ends[cl] {
			if n > 0 {
				w.Ends[endKeys[cl][code]] = n
			}
		}
	}
	w.Latency = mergeInto(&w.accLatency, c.taken, func(h *winHists) *hdrhistogram.Histogram { return h.latency }, true)
	w.Corrected = mergeInto(&w.accCorrected, c.taken, func(h *winHists) *hdrhistogram.Histogram { return h.corrected }, false)
	w.Recovery = mergeInto(&w.accRecovery, c.taken, func(h *winHists) *hdrhistogram.Histogram { return h.recovery }, false)
	r.pool.Lock()
	for _, h := range c.taken {
		h.reset()
		r.pool.free = append(r.pool.free, h)
	}
	r.pool.Unlock()
	clear(c.taken)
	c.taken = c.taken[:0]
	// Until the freshness bound is fixed, keep the best one-second
	// window's p99 as the group's pre-outage latency.
	if r.fresh.Load() == 0 && (span == 0 || span <= BaselineSpan) && w.Latency.TotalCount() >= minBaselineSamples {
		p := w.Latency.ValueAtQuantile(99)
		for {
			old := r.bestP99.Load()
			if old != 0 && old <= p || r.bestP99.CompareAndSwap(old, p) {
				break
			}
		}
	}
}

// endKeys holds every End's Key, so that merging a window makes no string.
var endKeys = func() (k [numClasses][codes.Unauthenticated + 1]string) {
	for cl := range k {
		for code := range k[cl] {
			k[cl][code] = End{Class: Class(cl), Code: codes.Code(code)}.Key()
		}
	}
	return k
}()

// BaselineSpan is the longest window whose latency p99 can be a group's
// pre-outage latency (Freshness.Baseline): a window the sampler cut late
// spans more than a second, and its p99 is not a second's.
const BaselineSpan = 1100 * time.Millisecond

// mergeInto resets the accumulator *acc (made at its first use and then
// kept) and merges into it the histogram pick returns of every taken set.
// It returns the accumulator, or nil when nothing was recorded and keep is
// false.
func mergeInto(acc **hdrhistogram.Histogram, taken []*winHists, pick func(*winHists) *hdrhistogram.Histogram, keep bool) *hdrhistogram.Histogram {
	if *acc != nil && (*acc).TotalCount() > 0 {
		(*acc).Reset()
	}
	for _, h := range taken {
		if x := pick(h); x != nil && x.TotalCount() > 0 {
			if *acc == nil {
				*acc = NewHistogram()
			}
			(*acc).Merge(x)
		}
	}
	if *acc == nil && keep {
		*acc = NewHistogram()
	}
	if *acc == nil || !keep && (*acc).TotalCount() == 0 {
		return nil
	}
	return *acc
}

// minBaselineSamples is the least latency samples a one-second window
// needs for its p99 to count as the group's pre-outage latency.
const minBaselineSamples = 10

func (s *shard) endsInto(m map[string]uint64) {
	for c := Class(0); c < numClasses; c++ {
		for code := range s.ends[c] {
			if n := s.ends[c][code].Load(); n > 0 {
				m[End{Class: c, Code: codes.Code(code)}.Key()] += n
			}
		}
	}
}

// OpenedSink is implemented by sinks that also count streams established
// and how long each took to establish. Drivers check for it once.
type OpenedSink interface {
	// Opened counts one stream established, wait after its open began.
	// A Subscribe stream is established when the server's response
	// headers arrive; a Math stream when the call returned (a stream slot
	// was granted and the request sent).
	Opened(wait time.Duration)
}

// CorrectedSink is implemented by sinks that also keep latency measured
// from each message's intended send time (coordinated-omission
// corrected). Drivers that pace their messages check for it once.
type CorrectedSink interface {
	Corrected(latency time.Duration)
}

// Counters is a consistent-enough sum of a recorder's counters, cheap to
// read while clients run (for progress lines and per-second windows).
type Counters struct {
	Started, Opened, Ended, Failed uint64
	Sent, Received                 uint64
}

// Sample is one non-complete stream end kept as an example.
type Sample struct {
	End    End
	Detail string
	At     time.Time
}

// MaxSamples is how many example ends of each kind (End.Key) a recorder
// keeps: a fault's transport errors cannot crowd out the first violation
// a check's detail quotes.
const MaxSamples = 20

// Recorder collects one group's measurements across shards.
type Recorder struct {
	shards []shard
	now    func() time.Time
	// live is streams established minus streams ended (an end of a stream
	// never established makes it low, never high); allOpenAt is when it
	// first reached wantOpen (UnixNano, 0 = not yet). Touched once per
	// stream, not per message.
	live      atomic.Int64
	wantOpen  int64
	allOpenAt atomic.Int64
	// fresh is the freshness bound (ns) a message's latency must be within
	// for its client to be back to live after an outage; fixed once, at
	// the group's first outage (see Freshness).
	fresh       atomic.Int64
	bestP99     atomic.Int64 // µs: the lowest per-second latency p99 so far (0 = none)
	freshOnce   sync.Once
	freshFixed  Freshness
	freshFactor float64
	freshFloor  time.Duration
	freshBound  time.Duration
	samples     struct {
		sync.Mutex
		list []Sample
		per  map[End]int // examples kept of each end
	}
	// compat is Window's own cut and window (running totals).
	compat struct {
		sync.Mutex
		cut Cut
		w   Window
	}
	// pool holds empty window histogram sets for Cut (see winHists).
	pool struct {
		sync.Mutex
		free []*winHists
	}
}

type shard struct {
	// maxSeq is the highest sequence number its clients saw (SeqSink).
	maxSeq   atomic.Int64
	mu       sync.Mutex
	latency  *hdrhistogram.Histogram
	duration *hdrhistogram.Histogram
	// recovery is each outage's time back to live; first its time to the
	// first message received after it.
	recovery *hdrhistogram.Histogram
	first    *hdrhistogram.Histogram
	// corrected is latency measured from when each message was meant to
	// be sent (coordinated-omission corrected).
	corrected *hdrhistogram.Histogram
	// open is how long streams took to establish (see OpenedSink).
	open *hdrhistogram.Histogram
	// win collects the window since the last Cut: a client records into
	// it under mu; Cut swaps it without the lock (see Cut).
	win     atomic.Pointer[winHists]
	clamped uint64

	broke, resumed, recovered atomic.Uint64

	started, opened atomic.Uint64
	ended, failed   atomic.Uint64
	sent, received  atomic.Uint64
	ends            [numClasses][codes.Unauthenticated + 1]atomic.Uint64
	violations      [numKinds]atomic.Uint64

	rec *Recorder
	_   [64]byte // keep neighbouring shards' hot counters off one cache line
}

// New returns a recorder with n shards (at least 1). now is the clock used to
// stamp samples; nil means time.Now.
func New(n int, now func() time.Time) *Recorder {
	if n < 1 {
		n = 1
	}
	if now == nil {
		now = time.Now
	}
	r := &Recorder{shards: make([]shard, n), now: now, freshFactor: DefaultFreshFactor, freshFloor: DefaultFreshFloor}
	for i := range r.shards {
		r.shards[i].latency = NewHistogram()
		r.shards[i].duration = NewHistogram()
		r.shards[i].recovery = NewHistogram()
		r.shards[i].first = NewHistogram()
		r.shards[i].corrected = NewHistogram()
		r.shards[i].win.Store(&winHists{latency: NewHistogram()})
		r.shards[i].open = NewHistogram()
		r.shards[i].rec = r
	}
	return r
}

func micros(d time.Duration) int64 {
	v := int64(d / time.Microsecond)
	if v < LowestUS {
		v = LowestUS
	}
	return v
}

func (s *shard) Sent() { s.sent.Add(1) }

func (s *shard) Received(latency time.Duration) {
	s.mu.Lock()
	// Counted with its latency, in one window.
	s.received.Add(1)
	v := s.clampLocked(latency)
	_ = s.latency.RecordValue(v) // in range by construction
	w := s.win.Load()
	w.received++
	_ = w.latency.RecordValue(v)
	s.mu.Unlock()
}

// clampLocked returns d in µs within the histograms' range, counting a
// value above it as clamped. The caller holds s.mu.
func (s *shard) clampLocked(d time.Duration) int64 {
	v := micros(d)
	if v > HighestUS {
		v = HighestUS
		s.clamped++
	}
	return v
}

// record adds d to h under the shard lock, clamped to the range.
func (s *shard) record(h *hdrhistogram.Histogram, d time.Duration) {
	s.mu.Lock()
	_ = h.RecordValue(s.clampLocked(d))
	s.mu.Unlock()
}

// recordRecovery records one outage's recovery time, for the run and for
// the current window.
func (s *shard) recordRecovery(d time.Duration) {
	s.mu.Lock()
	v := s.clampLocked(d)
	w := s.win.Load()
	if w.recovery == nil {
		w.recovery = NewHistogram()
	}
	_ = s.recovery.RecordValue(v)
	_ = w.recovery.RecordValue(v)
	s.mu.Unlock()
}

// Corrected implements CorrectedSink.
func (s *shard) Corrected(latency time.Duration) {
	s.mu.Lock()
	v := s.clampLocked(latency)
	w := s.win.Load()
	if w.corrected == nil {
		w.corrected = NewHistogram()
	}
	_ = s.corrected.RecordValue(v)
	_ = w.corrected.RecordValue(v)
	s.mu.Unlock()
}

func (s *shard) Violated(k Kind, n uint64) {
	if k < numKinds {
		s.violations[k].Add(n)
	}
}

func (s *shard) Started() { s.started.Add(1) }

// Opened implements OpenedSink.
func (s *shard) Opened(wait time.Duration) {
	s.opened.Add(1)
	s.record(s.open, wait)
	r := s.rec
	if n := r.live.Add(1); r.wantOpen > 0 && n >= r.wantOpen && r.allOpenAt.Load() == 0 {
		r.allOpenAt.CompareAndSwap(0, r.now().UnixNano())
	}
}

// WatchAllOpen makes the recorder note when n streams are established at
// once (see AllOpenAt). Call it before clients start.
func (r *Recorder) WatchAllOpen(n int) { r.wantOpen = int64(n) }

// AllOpenAt is when the streams established and not ended first numbered
// WatchAllOpen's n, taken by the client whose stream completed the count
// (so a starved sampler cannot make it late); zero until then.
func (r *Recorder) AllOpenAt() time.Time {
	if ns := r.allOpenAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

func (s *shard) Ended(e End, d time.Duration, detail string) {
	s.rec.live.Add(-1)
	code := e.Code
	if code > codes.Unauthenticated {
		code = codes.Unknown
	}
	failed := e.Class != Complete && e.Class != Canceled
	s.mu.Lock()
	s.ended.Add(1)
	w := s.win.Load()
	w.ended++
	if failed {
		s.failed.Add(1)
		w.failed++
	}
	if e.Class < numClasses {
		s.ends[e.Class][code].Add(1)
		w.ends[e.Class][code]++
	}
	_ = s.duration.RecordValue(s.clampLocked(d))
	s.mu.Unlock()
	if e.Class != Complete && e.Class != Canceled {
		s.rec.sample(e, detail)
	}
}

func (r *Recorder) sample(e End, detail string) {
	r.samples.Lock()
	defer r.samples.Unlock()
	if r.samples.per == nil {
		r.samples.per = map[End]int{}
	}
	if r.samples.per[e] < MaxSamples {
		r.samples.per[e]++
		r.samples.list = append(r.samples.list, Sample{End: e, Detail: detail, At: r.now()})
	}
}

// Counters sums the counters of every shard without stopping clients.
func (r *Recorder) Counters() Counters {
	var c Counters
	for i := range r.shards {
		s := &r.shards[i]
		c.Started += s.started.Load()
		c.Opened += s.opened.Load()
		c.Ended += s.ended.Load()
		c.Failed += s.failed.Load()
		c.Sent += s.sent.Load()
		c.Received += s.received.Load()
	}
	return c
}

// Tally is a recorder's cumulative counts beyond Counters, read from
// atomics only (cheap while clients run, like Counters).
type Tally struct {
	// Violations counts violations by Kind (index: the Kind).
	Violations [numKinds]uint64
	// Broke, Resumed and Recovered count outages as Snapshot does.
	Broke, Resumed, Recovered uint64
}

// Kinds returns every violation kind, in Kind order.
func Kinds() []Kind {
	out := make([]Kind, numKinds)
	for k := range out {
		out[k] = Kind(k)
	}
	return out
}

// Tally sums the violation and outage counters of every shard without
// stopping clients.
func (r *Recorder) Tally() Tally {
	var t Tally
	for i := range r.shards {
		s := &r.shards[i]
		for k := range t.Violations {
			t.Violations[k] += s.violations[k].Load()
		}
		t.Broke += s.broke.Load()
		t.Resumed += s.resumed.Load()
		t.Recovered += s.recovered.Load()
	}
	return t
}

// Snapshot is a recorder's merged state.
type Snapshot struct {
	Counters
	// Ends counts stream ends by End.Key().
	Ends map[string]uint64
	// Violations counts violations by Kind.String().
	Violations map[string]uint64
	// Latency, Duration, Recovery, RecoveryFirst, Corrected and Open are
	// merged histograms (µs). Recovery is each outage's time back to live,
	// RecoveryFirst its time to the first message after the break.
	Latency, Duration, Recovery, RecoveryFirst, Corrected, Open *hdrhistogram.Histogram
	// Broke counts outages (from a client's failed stream until it is back
	// to live); Resumed those in which a message arrived again; Recovered
	// those that ended back to live.
	Broke, Resumed, Recovered uint64
	// Freshness is the group's freshness bound (zero Bound when the group
	// had no outage).
	Freshness Freshness
	// Clamped counts values above HighestUS recorded as HighestUS.
	Clamped uint64
	// Samples are example non-complete ends, oldest first.
	Samples []Sample
}

// Snapshot merges every shard. It may run while clients record; each
// shard's histograms are read under that shard's lock.
func (r *Recorder) Snapshot() Snapshot {
	snap := Snapshot{
		Counters:      r.Counters(),
		Ends:          map[string]uint64{},
		Violations:    map[string]uint64{},
		Latency:       NewHistogram(),
		Duration:      NewHistogram(),
		Recovery:      NewHistogram(),
		Corrected:     NewHistogram(),
		RecoveryFirst: NewHistogram(),
		Open:          NewHistogram(),
	}
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		snap.Latency.Merge(s.latency)
		snap.Duration.Merge(s.duration)
		snap.Recovery.Merge(s.recovery)
		snap.RecoveryFirst.Merge(s.first)
		snap.Corrected.Merge(s.corrected)
		snap.Open.Merge(s.open)
		snap.Clamped += s.clamped
		s.mu.Unlock()
		snap.Broke += s.broke.Load()
		snap.Resumed += s.resumed.Load()
		snap.Recovered += s.recovered.Load()
		s.endsInto(snap.Ends)
		for k := Kind(0); k < numKinds; k++ {
			if n := s.violations[k].Load(); n > 0 {
				snap.Violations[k.String()] += n
			}
		}
	}
	if r.fresh.Load() != 0 {
		snap.Freshness = r.freshFixed
	}
	r.samples.Lock()
	snap.Samples = append([]Sample(nil), r.samples.list...)
	r.samples.Unlock()
	return snap
}

// Freshness defaults: a client is back to live when a message's latency is
// within DefaultFreshFactor × the group's latency before its first outage
// (the lowest p99 of a one-second window before it, so a start-up stall
// does not loosen the bound), and never less than DefaultFreshFloor.
const (
	DefaultFreshFactor = 3
	DefaultFreshFloor  = 100 * time.Millisecond
)

// Freshness is how a group's freshness bound was fixed.
type Freshness struct {
	// Bound is the latency a message must be within for its client to be
	// back to live.
	Bound time.Duration
	// Baseline is the group's latency before its first outage: the lowest
	// p99 of a one-second window (Recorder.Window) with at least 10
	// messages, or, when no such window had ended, the p99 of every message
	// so far (zero when none had arrived, or Explicit is set).
	Baseline time.Duration
	// Factor multiplies Baseline; Floor is the least bound it yields.
	Factor float64
	Floor  time.Duration
	// Explicit is true when the bound was given (SetFreshness) rather than
	// derived from the baseline.
	Explicit bool
}

// SetFreshness sets how the freshness bound is fixed: an explicit bound
// (> 0) used as given, or else factor × the group's latency p99 before its
// first outage, at least floor (factor <= 0 and floor <= 0 keep the
// defaults). Call it before clients start.
func (r *Recorder) SetFreshness(bound time.Duration, factor float64, floor time.Duration) {
	r.freshBound = bound
	if factor > 0 {
		r.freshFactor = factor
	}
	if floor > 0 {
		r.freshFloor = floor
	}
}

// fixFresh fixes the freshness bound from the latency recorded so far: it
// runs once, at the group's first outage.
func (r *Recorder) fixFresh() {
	r.freshOnce.Do(func() {
		f := Freshness{Factor: r.freshFactor, Floor: r.freshFloor}
		switch {
		case r.freshBound > 0:
			f.Bound, f.Explicit = r.freshBound, true
		case r.bestP99.Load() > 0:
			f.Baseline = time.Duration(r.bestP99.Load()) * time.Microsecond
			f.Bound = max(time.Duration(float64(f.Baseline)*f.Factor), f.Floor)
		default:
			h := NewHistogram()
			for i := range r.shards {
				s := &r.shards[i]
				s.mu.Lock()
				h.Merge(s.latency)
				s.mu.Unlock()
			}
			if h.TotalCount() > 0 {
				f.Baseline = time.Duration(h.ValueAtQuantile(99)) * time.Microsecond
			}
			f.Bound = max(time.Duration(float64(f.Baseline)*f.Factor), f.Floor)
		}
		r.freshFixed = f
		r.fresh.Store(int64(f.Bound))
	})
}

// Client is one client's sink. Beyond its shard it tracks outages: an
// outage opens at a failed stream end of a client that is live, and ends
// when the client is back to live — a message arrives whose latency is
// within the group's freshness bound (a stale message replayed after a
// reconnect does not end it) — across however many streams fail in
// between. That time is the client's recovery time; the time to the first
// message after the break, stale or not, is kept beside it.
// Received and Ended must come from one goroutine (the driver's receiver);
// Sent may come from another.
type Client struct {
	*shard
	// conn, when set, also gets every latency: the figures of the
	// connection the client's streams share with others.
	conn *Buckets
	// broken: an outage is open (since brokeAt); resumed: a message
	// arrived during it, but none yet within the freshness bound.
	broken, resumed bool
	brokeAt         time.Time
	now             func() time.Time
	n               uint64
}

// SeqSink is implemented by sinks that also keep the highest sequence
// number their clients saw: how fast a feed publishes, as its clients see
// it (the isolation check judges delivery against it).
type SeqSink interface {
	Seq(seq uint64)
}

// Seq keeps the highest sequence number seen (SeqSink).
func (c *Client) Seq(seq uint64) { RaiseTo(&c.shard.maxSeq, int64(min(seq, 1<<63-1))) }

// Messages counts the messages this client received so far (read it from
// the goroutine that runs its streams).
func (c *Client) Messages() uint64 { return c.n }

// Client returns the sink of client id.
func (r *Recorder) Client(id int) *Client {
	if id < 0 {
		id = -id
	}
	return &Client{shard: &r.shards[id%len(r.shards)], now: r.now}
}

// ClientOn returns the sink of client id whose latencies also go to conn,
// its connection's figures.
func (r *Recorder) ClientOn(id int, conn *Buckets) *Client {
	c := r.Client(id)
	c.conn = conn
	return c
}

// Received implements Sink, ending an outage if one is open.
func (c *Client) Received(latency time.Duration) {
	c.shard.Received(latency)
	if c.conn != nil {
		c.conn.Record(latency)
	}
	c.n++
	if !c.broken {
		return
	}
	var now time.Time
	if !c.resumed {
		now = c.now()
		c.resumed = true
		c.shard.resumed.Add(1)
		c.record(c.first, now.Sub(c.brokeAt))
	}
	if latency <= time.Duration(c.rec.fresh.Load()) {
		if now.IsZero() {
			now = c.now()
		}
		c.broken, c.resumed = false, false
		c.recovered.Add(1)
		c.recordRecovery(now.Sub(c.brokeAt))
	}
}

// Ended implements Sink, opening an outage when the stream failed.
func (c *Client) Ended(e End, d time.Duration, detail string) {
	c.shard.Ended(e, d, detail)
	if e.Class != Complete && e.Class != Canceled && !c.broken {
		c.rec.fixFresh()
		c.broken = true
		c.brokeAt = c.now()
		c.broke.Add(1)
	}
}

// Broken reports whether the client is in an outage (a stream failed and
// no message within the freshness bound has arrived since).
func (c *Client) Broken() bool { return c.broken }
