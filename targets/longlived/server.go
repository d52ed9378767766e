// Package longlived is the reference Longlived server — a feed of updates
// that subscribers follow for as long as they like — and the Subscribe client
// driver that checks its protocol.
//
// The server publishes updates with contiguous seqs (1, 2, 3, …) at a
// configured rate. Each subscriber has its own bounded send queue, filled by
// the publisher with non-blocking sends and drained by the subscriber's own
// handler goroutine, so one slow subscriber never delays the others: it is
// cut off with codes.ResourceExhausted when its queue overflows. The last
// Ring updates are kept, so a client that resubscribes with from_seq = last
// seen + 1 misses nothing.
//
// The server measures how slow readers weigh on it (Server.Stats): how long
// each Send was blocked by flow control, the Sends blocked right now, the
// subscribers cut off and the deepest queue.
package longlived

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

// Defaults for zero Config fields.
const (
	// DefaultRing is the replay ring length used when Config.Ring is 0.
	DefaultRing = 1024
	// DefaultQueue is the per-subscriber queue length used when Config.Queue is 0.
	DefaultQueue = 1024
)

// Config is the feed's settings.
type Config struct {
	// Rate is updates per second; 0 = manual: only Publish publishes.
	Rate float64
	// Payload is each update's payload size in bytes.
	Payload int
	// Ring is how many recent updates are kept for resubscribers
	// (0 = DefaultRing).
	Ring int
	// Queue is each subscriber's send queue length (0 = DefaultQueue). A
	// subscriber whose queue overflows is ended with ResourceExhausted.
	Queue int
	// Since, when set, numbers the feed from that moment instead of from
	// Start: update n is due at Since + n/Rate, so servers given the same
	// Since (replicas in separate processes) publish the same seq at the
	// same moment with the same payload — one log, as replicas behind a
	// balancer share. A server started late has no update from before its
	// start: a resubscriber asking for one gets OutOfRange.
	Since time.Time
}

func (c Config) withDefaults() Config {
	if c.Ring <= 0 {
		c.Ring = DefaultRing
	}
	if c.Queue <= 0 {
		c.Queue = DefaultQueue
	}
	if c.Payload < 0 {
		c.Payload = 0
	}
	if c.Rate < 0 {
		c.Rate = 0
	}
	return c
}

// Server is the reference Longlived server. It implements
// streambenchpb.LonglivedServer; register it on any number of gRPC servers
// (one after another across restarts: the feed, its seqs and its ring outlive
// them).
type Server struct {
	pb.UnimplementedLonglivedServer

	cfg     Config
	payload []byte // shared by every update; read-only

	live atomic.Int64 // Subscribe handlers that registered and have not returned

	// Send accounting. epoch is the origin of the monotonic clock readings
	// kept in subscriber.sendingSince; each handler records its Send
	// durations into one shard, picked round-robin at registration, so no
	// lock is shared by all subscribers.
	epoch  time.Time
	shards []sendShard

	mu       sync.Mutex
	last     uint64       // seq of the last published update
	first    uint64       // the first seq this server published or will (Config.Since)
	since    time.Time    // Config.Since when the feed is numbered from it
	ring     []*pb.Update // ring[seq%len] holds seq while it is recent
	subs     []*subscriber
	byID     map[int32]*subscriber
	handlers map[*subscriber]struct{} // every running handler, registered or ended
	nextSh   int                      // next send shard to hand out
	cutOff   uint64                   // subscribers ended with errQueueFull
	maxQueue int                      // deepest queue seen by the publisher
	started  bool
	closed   bool

	stop chan struct{} // closed by Close: stops the publisher
	wg   sync.WaitGroup
}

// subscriber is one live Subscribe stream, as the publisher sees it.
type subscriber struct {
	id   int32
	from uint64        // first seq the publisher enqueues
	q    queue         // updates waiting for the handler's Send
	end  chan struct{} // closed when the server ends the stream
	err  error         // the status to end with; written before end closes
	idx  int           // position in Server.subs while registered

	shard *sendShard // where its handler records Send durations
	// sendingSince is when the Send in progress started, as nanoseconds
	// since Server.epoch plus 1; 0 = not in Send. Stats reads it to see a
	// stall while it lasts.
	sendingSince atomic.Int64
}

// queue is one subscriber's send queue: the updates the publisher handed
// it that its handler has not taken yet, at most limit. It holds what is in
// flight, not its limit: a subscriber that keeps up holds one or two
// pointers, not Config.Queue of them (1,024 pointers are 8 KiB per
// subscriber before any update, 800 MB at 100,000 subscribers).
type queue struct {
	mu    sync.Mutex
	items []*pb.Update // items[head:] are queued, oldest first
	head  int
	limit int
	wake  chan struct{} // capacity 1: something was pushed since the handler last looked
}

// shrinkAbove is the capacity above which an emptied queue lets its slice
// go, so a subscriber that caught up after a burst holds little again.
const shrinkAbove = 16

func newQueue(limit int) queue { return queue{limit: limit, wake: make(chan struct{}, 1)} }

// push appends u and returns the queue's depth, or false when the queue is
// full (u is not queued).
func (q *queue) push(u *pb.Update) (int, bool) {
	q.mu.Lock()
	n := len(q.items) - q.head
	if n >= q.limit {
		q.mu.Unlock()
		return q.limit, false
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Reuse the room the handler has taken from instead of growing.
		copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, u)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
	return n + 1, true
}

// pop takes the oldest queued update, or returns nil when none is queued.
func (q *queue) pop() *pb.Update {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return nil
	}
	u := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		if cap(q.items) > shrinkAbove {
			q.items = nil
		} else {
			q.items = q.items[:0]
		}
		q.head = 0
	}
	return u
}

// len returns how many updates are queued.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// sendShard holds the Send durations of some subscribers.
type sendShard struct {
	mu      sync.Mutex
	blocked *hdrhistogram.Histogram // Send durations, µs
	clamped uint64                  // durations above the histogram's range
	total   time.Duration           // sum of Send durations
	_       [64]byte                // keep neighbouring shards' locks apart
}

func (sh *sendShard) record(d time.Duration) {
	v := int64(d / time.Microsecond)
	sh.mu.Lock()
	sh.total += d
	if v > record.HighestUS {
		v = record.HighestUS
		sh.clamped++
	}
	_ = sh.blocked.RecordValue(max(v, record.LowestUS)) // in range by construction
	sh.mu.Unlock()
}

// New returns a feed with cfg (zero fields take their defaults). It publishes
// nothing until Start (or Publish).
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:      cfg,
		payload:  make([]byte, cfg.Payload),
		ring:     make([]*pb.Update, cfg.Ring),
		byID:     make(map[int32]*subscriber),
		handlers: make(map[*subscriber]struct{}),
		stop:     make(chan struct{}),
		epoch:    time.Now(),
		shards:   make([]sendShard, sendShards()),
	}
	for i := range s.shards {
		s.shards[i].blocked = record.NewHistogram()
	}
	return s
}

// sendShards is how many Send-duration shards a server keeps: enough that
// handlers on different Ps rarely share a lock, few enough that the
// histograms (~140 KB each) stay small.
func sendShards() int { return min(4*runtime.GOMAXPROCS(0), 64) }

// Config returns the feed's effective settings (defaults applied).
func (s *Server) Config() Config { return s.cfg }

// Start starts the publisher goroutine when Rate > 0. It is idempotent and
// does nothing after Close.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed || s.cfg.Rate <= 0 {
		return
	}
	s.started = true
	if since, now := s.cfg.Since, time.Now(); !since.IsZero() && since.Before(now) {
		// Numbered from Since: the updates due before this server started
		// were other replicas' to publish. Set before any Subscribe can
		// see the feed, so nobody is told seq 1 comes next.
		s.since = since
		s.last = uint64(now.Sub(since).Seconds() * s.cfg.Rate)
		s.first = s.last + 1
	}
	s.wg.Add(1)
	go s.publishLoop()
}

// Close stops the publisher and waits for it, then ends every live stream
// with codes.Unavailable ("server closing"); later Subscribes get the same.
// It is idempotent and safe before Start.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()

	s.mu.Lock()
	for len(s.subs) > 0 {
		s.endLocked(s.subs[len(s.subs)-1], errClosing)
	}
	s.mu.Unlock()
}

// Publish publishes one update now and returns its seq. It is used by the
// rate loop and by tests (Rate 0).
func (s *Server) Publish() uint64 {
	u := &pb.Update{Payload: s.payload}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last++
	u.Seq = s.last
	u.SentUnixNano = time.Now().UnixNano()
	s.ring[u.Seq%uint64(len(s.ring))] = u
	// Iterate backwards: endLocked swaps the last subscriber into the
	// removed one's slot, which this loop has already visited.
	deepest := 0
	for i := len(s.subs) - 1; i >= 0; i-- {
		sub := s.subs[i]
		if u.Seq < sub.from {
			continue
		}
		depth, ok := sub.q.push(u)
		deepest = max(deepest, depth)
		if !ok {
			s.cutOff++
			s.endLocked(sub, errQueueFull)
		}
	}
	s.maxQueue = max(s.maxQueue, deepest)
	return u.Seq
}

// Subscribers returns how many Subscribe handlers are running with a
// registered subscription (leak evidence: it drops to 0 once every client
// has gone). A subscriber is counted from the moment the publisher feeds it
// until its handler returns: once a client is counted, it receives every
// update published afterwards.
func (s *Server) Subscribers() int { return int(s.live.Load()) }

// LastSeq returns the seq of the last published update (0 before the first).
func (s *Server) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

var (
	errClosing   = status.Error(codes.Unavailable, "server closing")
	errReplaced  = status.Error(codes.Aborted, "replaced by a newer Subscribe with the same id")
	errQueueFull = status.Error(codes.ResourceExhausted, "subscriber too slow: send queue full")
)

// publishLoop publishes at cfg.Rate until Close. The number of updates due
// is computed from the time elapsed since start, so the rate does not drift
// and rates above the ticker's resolution publish several updates per tick.
// A tick publishes at most half a queue: after a stall of the process (GC,
// CPU starvation of the harness itself) the backlog goes out over a few
// ticks, so subscribers that keep up get to drain between them instead of
// being cut off by a burst the feed itself made.
func (s *Server) publishLoop() {
	defer s.wg.Done()
	interval := time.Duration(float64(time.Second) / s.cfg.Rate)
	if interval < time.Millisecond {
		interval = time.Millisecond
	}
	burst := uint64(max(1, s.cfg.Queue/2))
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	var published uint64
	if !s.since.IsZero() {
		start, published = s.since, s.first-1 // set by Start
	}
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			due := min(uint64(now.Sub(start).Seconds()*s.cfg.Rate), published+burst)
			for published < due {
				s.Publish()
				published++
				if published%256 == 0 {
					select {
					case <-s.stop:
						return
					default:
					}
				}
			}
		}
	}
}

// endLocked unregisters sub and ends its stream with err (nil = OK). s.mu
// must be held. Each subscriber is ended at most once: only registered
// subscribers are ended, and ending unregisters.
func (s *Server) endLocked(sub *subscriber, err error) {
	last := len(s.subs) - 1
	moved := s.subs[last]
	s.subs[sub.idx] = moved
	moved.idx = sub.idx
	s.subs[last] = nil
	s.subs = s.subs[:last]
	if s.byID[sub.id] == sub {
		delete(s.byID, sub.id)
	}
	sub.err = err
	close(sub.end)
}

// Subscribe streams every update from req.FromSeq on (0 = the next one
// published). A FromSeq older than the ring ends the stream with OutOfRange
// before anything is sent; a FromSeq in the future starts when that update
// is published. The stream ends with OK only after Unsubscribe(id); with
// Aborted when a newer Subscribe takes the same id; with ResourceExhausted
// when the subscriber falls a queue behind; with Unavailable on Close.
func (s *Server) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.Update]) error {
	ctx := stream.Context()
	sub := &subscriber{
		id:  req.GetId(),
		q:   newQueue(s.cfg.Queue),
		end: make(chan struct{}),
	}

	// Registration and ring catch-up happen under the publication lock, so
	// the backlog and the queue meet exactly: backlog < sub.from <= queue.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosing
	}
	from := req.GetFromSeq()
	var backlog []*pb.Update
	switch {
	case from == 0:
		sub.from = s.last + 1
	case from <= s.last:
		oldest := uint64(1)
		if n := uint64(len(s.ring)); s.last > n {
			oldest = s.last - n + 1
		}
		oldest = max(oldest, s.first)
		if from < oldest {
			last := s.last
			s.mu.Unlock()
			return status.Errorf(codes.OutOfRange,
				"from_seq %d is too old: the oldest update kept is %d (last %d)", from, oldest, last)
		}
		backlog = make([]*pb.Update, 0, s.last-from+1)
		for seq := from; seq <= s.last; seq++ {
			backlog = append(backlog, s.ring[seq%uint64(len(s.ring))])
		}
		sub.from = s.last + 1
	default: // from > last: now or in the future
		sub.from = from
	}
	if old := s.byID[sub.id]; old != nil {
		s.endLocked(old, errReplaced)
	}
	sub.idx = len(s.subs)
	s.subs = append(s.subs, sub)
	s.byID[sub.id] = sub
	s.handlers[sub] = struct{}{}
	sub.shard = &s.shards[s.nextSh]
	s.nextSh = (s.nextSh + 1) % len(s.shards)
	s.live.Add(1) // under the lock: once counted, the publisher feeds it
	s.mu.Unlock()
	// Answer at once: the client knows it is subscribed (and how long that
	// took) without waiting for the next update. An error here shows again
	// in the first Send.
	_ = stream.SendHeader(nil)

	defer s.live.Add(-1)
	defer s.unregister(sub)

	next := uint64(0) // seqs below next were sent
	for _, u := range backlog {
		select {
		case <-sub.end:
			return sub.err
		default:
		}
		if err := s.send(sub, stream, u); err != nil {
			return err
		}
		next = u.Seq + 1
	}
	backlog = nil

	for {
		select {
		case <-sub.end:
			return sub.err
		case <-ctx.Done():
			return status.FromContextError(context.Cause(ctx)).Err()
		case <-sub.q.wake:
		}
		// Send what is queued, one update at a time: an update taken from
		// the queue is sent, and the end is checked before taking the next.
		for {
			select {
			case <-sub.end:
				return sub.err
			default:
			}
			u := sub.q.pop()
			if u == nil {
				break
			}
			if u.Seq < next {
				continue
			}
			if err := s.send(sub, stream, u); err != nil {
				return err
			}
			next = u.Seq + 1
		}
	}
}

// send sends u and records how long Send took: long when flow control
// holds it (the client reads slower than the feed). While it runs,
// sub.sendingSince says since when.
func (s *Server) send(sub *subscriber, stream grpc.ServerStreamingServer[pb.Update], u *pb.Update) error {
	start := time.Since(s.epoch) // monotonic
	sub.sendingSince.Store(int64(start) + 1)
	err := stream.Send(u)
	d := time.Since(s.epoch) - start
	sub.sendingSince.Store(0)
	sub.shard.record(d)
	return err
}

// unregister removes sub if it is still registered (its client went away)
// and forgets its handler.
func (s *Server) unregister(sub *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.handlers, sub)
	select {
	case <-sub.end: // already ended and unregistered by the server
	default:
		s.endLocked(sub, nil)
	}
}

// Unsubscribe ends id's live Subscribe stream with OK and reports whether
// there was one.
func (s *Server) Unsubscribe(_ context.Context, req *pb.UnsubscribeRequest) (*pb.UnsubscribeResponse, error) {
	s.mu.Lock()
	sub := s.byID[req.GetId()]
	if sub != nil {
		s.endLocked(sub, nil)
	}
	s.mu.Unlock()
	return &pb.UnsubscribeResponse{Found: sub != nil}, nil
}

// Stats is what the feed measured since New (it outlives gRPC servers and
// restarts, as the feed does).
type Stats struct {
	// Published is how many updates were published (the last seq).
	Published uint64
	// Rate is the configured rate, updates per second (0 = manual).
	Rate float64
	// SendBlocked is the distribution of every Subscribe Send's duration
	// (µs, record.NewHistogram's range): a Send lasts long when flow control
	// holds it because the client reads slower than the feed. A fresh copy.
	SendBlocked *hdrhistogram.Histogram
	// SendBlockedClamped counts Sends longer than the histogram's range.
	SendBlockedClamped uint64
	// SendTime is the total time spent in Send, by every handler.
	SendTime time.Duration
	// CutOff counts subscribers ended with ResourceExhausted because their
	// queue overflowed.
	CutOff uint64
	// MaxQueue is the deepest any subscriber's send queue got (Queue when
	// one overflowed): how far, in updates, the server saw a subscriber
	// fall behind, besides what flow control holds in flight.
	MaxQueue int
	// Subscribers is the number of running Subscribe handlers (registered
	// or ended and still returning).
	Subscribers int
	// BlockedNow is how many handlers have been in one Send for longer
	// than Stats' argument, right now: a stall in progress.
	BlockedNow int
	// LongestSend is how long the oldest Send in progress has lasted.
	LongestSend time.Duration
}

// Stats returns the feed's measurements so far; blockedOver is the
// threshold for Stats.BlockedNow. It is safe to call while the feed runs
// (a per-second sampler may): it takes each send shard's lock briefly and
// the publication lock while it scans the handlers, and allocates one
// histogram.
func (s *Server) Stats(blockedOver time.Duration) Stats {
	st := Stats{Rate: s.cfg.Rate, SendBlocked: record.NewHistogram()}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.SendBlocked.Merge(sh.blocked)
		st.SendBlockedClamped += sh.clamped
		st.SendTime += sh.total
		sh.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := int64(time.Since(s.epoch))
	st.Published = s.last
	st.CutOff = s.cutOff
	st.MaxQueue = s.maxQueue
	st.Subscribers = len(s.handlers)
	for sub := range s.handlers {
		since := sub.sendingSince.Load()
		if since == 0 {
			continue
		}
		d := time.Duration(now - (since - 1))
		st.LongestSend = max(st.LongestSend, d)
		if d > blockedOver {
			st.BlockedNow++
		}
	}
	return st
}
