package generic

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// The covers oracle (call.expect.covers): a watcher group declares that it
// covers a writer group. Every write acknowledged to a writer (a response
// carrying an ack value) is logged with when it was sent and acknowledged;
// every value a watcher's responses carry at the event path is matched to
// the logged write of that value (the latest one sent before the event
// arrived, or, when the event came before the writer had its
// acknowledgement, the write acknowledged next with that value). At the
// end each watcher's matched writes are compared with the writes it
// covers.
const (
	// MaxCoveredWrites bounds a covers oracle's write log: about 24 bytes
	// a write plus its index entry, some 30 MB when full. Writes
	// acknowledged once it is full are counted, not judged.
	MaxCoveredWrites = 500_000
	// CoverSettle is how long before the stop a write must have been
	// acknowledged to be judged: a watcher has that long to receive it.
	CoverSettle = time.Second
	// maxEarly bounds the events held until their write's
	// acknowledgement arrives (events of writes nobody here made stay
	// there until pruned).
	maxEarly = 1 << 16
	// earlyAge is how long an event may wait for its acknowledgement.
	earlyAge = 10 * time.Second
	// maxIntervals bounds a watcher's set of writes seen (runs of
	// consecutive log entries); past it the watcher fails as too
	// fragmented to judge.
	maxIntervals = 1 << 16
	// coverFirst is how many values (or runs of them) a problem lists.
	coverFirst = 5
	// maxFailing is how many failing watchers a report lists.
	maxFailing = 20
)

// intPath reads the integers at a path of fields (name[] reads every
// element of a list): an integer field or a string holding one.
type intPath struct {
	spec *seqSpec
}

// resolveIntPath binds path to message type m.
func resolveIntPath(m protoreflect.MessageDescriptor, path string) (intPath, error) {
	s, err := resolveSeq(m, scenario.Sequence{Path: path, Mode: scenario.SeqIncreasing})
	if err != nil {
		return intPath{}, err
	}
	return intPath{spec: s}, nil
}

// each calls fn with every value at the path in msg, in order; a string
// that holds no integer is skipped, and an unset scalar without a list
// on the way reads as absent.
func (p intPath) each(msg protoreflect.Message, fn func(int64)) {
	p.spec.values(msg, p.spec.steps, true, func(v protoreflect.Value) {
		if n, ok := p.spec.integer(v); ok {
			fn(n)
		}
	})
}

// first returns the first value at the path in msg.
func (p intPath) first(msg protoreflect.Message) (int64, bool) {
	var out int64
	found := false
	p.each(msg, func(v int64) {
		if !found {
			out, found = v, true
		}
	})
	return out, found
}

// coverOracle is one covers declaration of a run: the writer group's
// write log and the watcher group's watchers.
type coverOracle struct {
	decl scenario.Covers
	// t0 is the origin of the log's times (nanoseconds after it).
	t0 time.Time

	mu       sync.Mutex
	log      []writeRec
	latest   map[int64]int32 // value -> index of the latest write with it
	unlogged uint64
	early    map[int64][]earlyEvent
	nearly   int
	hist     *hdrhistogram.Histogram
	watchers []*coverWatcher
}

// writeRec is one acknowledged write: its value, and when it was sent
// and acknowledged (nanoseconds after t0).
type writeRec struct {
	v         int64
	sent, ack int64
}

// earlyEvent is an event that arrived before its write's
// acknowledgement.
type earlyEvent struct {
	w        *coverWatcher
	at       int64
	belowMax bool
}

func newCoverOracle(decl scenario.Covers) *coverOracle {
	return &coverOracle{decl: decl, t0: time.Now(), latest: map[int64]int32{}, early: map[int64][]earlyEvent{}, hist: record.NewHistogram()}
}

func (o *coverOracle) offset(t time.Time) int64 { return int64(t.Sub(o.t0)) }

// recordLatency records one write-to-watch latency (ns; 0 when the event
// came first). Called with o.mu held.
func (o *coverOracle) recordLatency(ns int64) {
	us := max(ns/1e3, record.LowestUS)
	_ = o.hist.RecordValue(min(us, record.HighestUS))
}

// ackSink feeds one oracle from the writer group's responses.
type ackSink struct {
	path intPath
	o    *coverOracle
}

// acked logs the write msg acknowledges, sent at sent and acknowledged at
// now; a response without the ack field acknowledges nothing.
func (a ackSink) acked(msg protoreflect.Message, sent, now time.Time) {
	v, ok := a.path.first(msg)
	if !ok {
		return
	}
	o := a.o
	rec := writeRec{v: v, sent: o.offset(sent), ack: o.offset(now)}
	o.mu.Lock()
	if len(o.log) >= MaxCoveredWrites {
		o.unlogged++
		o.mu.Unlock()
		return
	}
	idx := int32(len(o.log))
	o.log = append(o.log, rec)
	o.latest[v] = idx
	evs := o.early[v]
	var mark []earlyEvent
	if len(evs) > 0 {
		delete(o.early, v)
		o.nearly -= len(evs)
		for _, e := range evs {
			// An event that came before this write was sent is another
			// write's (one nobody here made).
			if e.at >= rec.sent {
				o.recordLatency(0)
				mark = append(mark, e)
			}
		}
	}
	o.mu.Unlock()
	for _, e := range mark {
		e.w.mark(idx, v, e.belowMax)
	}
}

// coverWatcher is one watcher's state: where its watch started, the log
// entries it received (a set of runs), and what came twice or out of
// order.
type coverWatcher struct {
	o      *coverOracle
	client int
	// from and fromPath: where the watch starts; the receiving
	// goroutine's alone, like maxV.
	fromPath *intPath
	maxV     int64
	hasMax   bool

	mu       sync.Mutex
	started  bool
	startAt  int64
	from     int64
	fromSet  bool
	seen     runSet
	overflow bool
	dups     uint64
	dupFirst []int64
	reorders uint64
	reFirst  []int64
}

// watcher registers client's watcher.
func (o *coverOracle) watcher(client int, from *intPath) *coverWatcher {
	w := &coverWatcher{o: o, client: client, fromPath: from}
	o.mu.Lock()
	o.watchers = append(o.watchers, w)
	o.mu.Unlock()
	return w
}

// response takes one response of the watcher's (data or control),
// received at now: the first one starts its watch; every value at the
// event path is matched to its write.
func (w *coverWatcher) response(msg protoreflect.Message, path intPath, now time.Time) {
	o := w.o
	at := o.offset(now)
	w.mu.Lock()
	if !w.started {
		w.started, w.startAt = true, at
		if w.fromPath != nil {
			w.from, w.fromSet = w.fromPath.first(msg)
		}
	}
	w.mu.Unlock()
	path.each(msg, func(v int64) { w.event(v, at) })
}

// event matches value v received at at to its write.
func (w *coverWatcher) event(v, at int64) {
	if w.fromPath == nil {
		w.mu.Lock()
		if !w.fromSet {
			w.from, w.fromSet = v-1, true
		}
		w.mu.Unlock()
	}
	below := w.hasMax && v < w.maxV
	if !w.hasMax || v > w.maxV {
		w.maxV, w.hasMax = v, true
	}
	o := w.o
	o.mu.Lock()
	if idx, ok := o.latest[v]; ok && o.log[idx].sent <= at {
		o.recordLatency(at - o.log[idx].ack)
		o.mu.Unlock()
		w.mark(idx, v, below)
		return
	}
	if o.nearly >= maxEarly {
		o.pruneEarly(at)
	}
	o.early[v] = append(o.early[v], earlyEvent{w: w, at: at, belowMax: below})
	o.nearly++
	o.mu.Unlock()
}

// pruneEarly drops held events older than earlyAge, or all of them when
// that is not enough (called with o.mu held).
func (o *coverOracle) pruneEarly(now int64) {
	for v, evs := range o.early {
		keep := evs[:0]
		for _, e := range evs {
			if now-e.at < int64(earlyAge) {
				keep = append(keep, e)
			}
		}
		o.nearly -= len(evs) - len(keep)
		if len(keep) == 0 {
			delete(o.early, v)
		} else {
			o.early[v] = keep
		}
	}
	if o.nearly >= maxEarly {
		clear(o.early)
		o.nearly = 0
	}
}

// mark records that the watcher received log entry idx (value v);
// belowMax: a greater value had come before it.
func (w *coverWatcher) mark(idx int32, v int64, belowMax bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.seen.has(idx):
		w.dups++
		if len(w.dupFirst) < coverFirst {
			w.dupFirst = append(w.dupFirst, v)
		}
		return
	case belowMax:
		w.reorders++
		if len(w.reFirst) < coverFirst {
			w.reFirst = append(w.reFirst, v)
		}
	}
	if !w.seen.add(idx) {
		w.overflow = true
	}
}

// runSet is a set of int32s as sorted, disjoint, non-adjacent runs.
type runSet struct {
	runs [][2]int32 // [lo, hi], inclusive
}

// has reports whether x is in the set.
func (s *runSet) has(x int32) bool {
	i := s.search(x)
	return i < len(s.runs) && s.runs[i][0] <= x
}

// search returns the index of the first run whose hi is >= x.
func (s *runSet) search(x int32) int {
	n := len(s.runs)
	if n > 0 && s.runs[n-1][1] < x {
		return n // the common case: past every run
	}
	lo, hi := 0, n
	for lo < hi {
		m := (lo + hi) / 2
		if s.runs[m][1] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// add puts x in the set (it is not there); false when the set is full.
func (s *runSet) add(x int32) bool {
	i := s.search(x)
	joinPrev := i > 0 && s.runs[i-1][1] == x-1
	joinNext := i < len(s.runs) && s.runs[i][0] == x+1
	switch {
	case joinPrev && joinNext:
		s.runs[i-1][1] = s.runs[i][1]
		s.runs = slices.Delete(s.runs, i, i+1)
	case joinPrev:
		s.runs[i-1][1] = x
	case joinNext:
		s.runs[i][0] = x
	default:
		if len(s.runs) >= maxIntervals {
			return false
		}
		s.runs = slices.Insert(s.runs, i, [2]int32{x, x})
	}
	return true
}

// report judges every watcher against the write log: a write is covered
// by a watcher that started (received a response) when it was
// acknowledged at least CoverSettle before the stop and its value is above
// the watcher's start, or it was sent after the watcher's first response.
func (o *coverOracle) report(stopAt time.Time) (*reports.Covers, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	cut := o.offset(stopAt) - int64(CoverSettle)
	out := &reports.Covers{Group: o.decl.Group, Ack: o.decl.Ack, Event: o.decl.Event, From: o.decl.From,
		Writes: uint64(len(o.log)), Unlogged: o.unlogged, MaxWrites: MaxCoveredWrites,
		SettleSeconds: CoverSettle.Seconds(), Watchers: len(o.watchers)}
	ws := slices.Clone(o.watchers)
	slices.SortFunc(ws, func(a, b *coverWatcher) int { return a.client - b.client })
	for _, w := range ws {
		w.mu.Lock()
		cw := o.judge(w, cut)
		w.mu.Unlock()
		if cw.Started {
			out.Started++
		}
		out.Covered += cw.Covered
		out.Missing += cw.Missing
		out.Duplicates += cw.Duplicates
		out.Reorders += cw.Reorders
		if !cw.Started || cw.Missing+cw.Duplicates+cw.Reorders > 0 {
			out.FailingWatchers++
			if len(out.Failing) < maxFailing {
				out.Failing = append(out.Failing, cw)
			}
		}
	}
	h, err := reports.FromHDR(o.hist, 0)
	out.WriteToWatch = h
	return out, err
}

// judge is one watcher's account (called with o.mu and w.mu held).
func (o *coverOracle) judge(w *coverWatcher, cut int64) reports.CoverWatcher {
	cw := reports.CoverWatcher{Client: w.client, Started: w.started, From: w.from,
		Duplicates: w.dups, DupFirst: runsOf(w.dupFirst), Reorders: w.reorders, ReorderFirst: runsOf(w.reFirst)}
	if !w.started {
		return cw
	}
	var missing []int64
	for i, e := range o.log {
		if e.ack > cut || !(w.fromSet && e.v > w.from || e.sent > w.startAt) {
			continue
		}
		cw.Covered++
		if !w.seen.has(int32(i)) {
			cw.Missing++
			if len(missing) < 16*coverFirst {
				missing = append(missing, e.v)
			}
		}
	}
	// The log is in the order the acknowledgements came, which
	// concurrent writers interleave: the first missing, in value order.
	slices.Sort(missing)
	cw.MissingFirst = runsOf(missing)
	if w.overflow {
		// Its set of writes seen was full: what came after is unknown,
		// so it is not judged as complete.
		cw.MissingFirst = append(cw.MissingFirst, fmt.Sprintf("(over %d runs of writes seen: not judged further)", maxIntervals))
		cw.Missing = max(cw.Missing, 1)
	}
	return cw
}

// runsOf writes values as at most coverFirst entries, each a value or a
// run of consecutive values "16..35".
func runsOf(vs []int64) []string {
	var out []string
	for i := 0; i < len(vs) && len(out) < coverFirst; {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		if j > i {
			out = append(out, strconv.FormatInt(vs[i], 10)+".."+strconv.FormatInt(vs[j], 10))
		} else {
			out = append(out, strconv.FormatInt(vs[i], 10))
		}
		i = j + 1
	}
	return out
}

// coverField is a covers problem's field, relative to the group.
func coverField(name string) string { return "call.expect.covers." + name }

// resolveCovers binds the watcher side of a covers declaration (event and
// from) to the watcher's response type out.
func resolveCovers(decl scenario.Covers, out protoreflect.MessageDescriptor) (event intPath, from *intPath, err error) {
	if event, err = resolveIntPath(out, decl.Event); err != nil {
		return intPath{}, nil, &fieldError{coverField("event"), fmt.Errorf("event %s on %s: %w", decl.Event, out.FullName(), err)}
	}
	if decl.From != "" {
		f, err := resolveIntPath(out, decl.From)
		if err != nil {
			return intPath{}, nil, &fieldError{coverField("from"), fmt.Errorf("from %s on %s: %w", decl.From, out.FullName(), err)}
		}
		from = &f
	}
	return event, from, nil
}

// Link joins a watcher group's covers declaration to its writer group,
// once every group's call is resolved: the ack path is checked against
// the writer's response type, and the writer's drivers start logging
// their acknowledgements. It implements rpc.Linker.
func (c *Call) Link(setupOf func(group string) (any, bool), bad func(field, msg string) error) error {
	if c.covers == nil {
		return nil
	}
	decl := c.covers.decl
	other, ok := setupOf(decl.Group)
	if !ok {
		return bad(coverField("group"), fmt.Sprintf("no group %q drives a call here", decl.Group))
	}
	w, ok := other.(*Call)
	if !ok {
		return bad(coverField("group"), fmt.Sprintf("group %s does not drive a generic call (call:); covers reads the acknowledgements in its responses", decl.Group))
	}
	out := w.method.Output()
	if strings.Contains(decl.Ack, "[]") {
		return bad(coverField("ack"), fmt.Sprintf("ack %s: a plain path to one integer, without []", decl.Ack))
	}
	ack, err := resolveIntPath(out, decl.Ack)
	if err != nil {
		return bad(coverField("ack"), fmt.Sprintf("ack %s on %s (the response of %s's %s): %v", decl.Ack, out.FullName(), decl.Group, w.name, err))
	}
	w.acks = append(w.acks, ackSink{path: ack, o: c.covers})
	return nil
}

// Report puts a watcher group's covers oracle in its report, judged at
// the stop (stopAt). It implements rpc.Reporter.
func (c *Call) Report(g *reports.Group, stopAt time.Time) error {
	if c.covers == nil {
		return nil
	}
	cv, err := c.covers.report(stopAt)
	g.Covers = cv
	return err
}
