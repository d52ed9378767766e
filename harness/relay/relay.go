// Package relay is a fault proxy that costs what a TCP relay costs: it
// relays HTTP/2 frames between each client connection and an upstream
// connection of its own, one for one, without terminating the streams it
// forwards, and still sees every gRPC stream it carries.
//
// Each frame read with http2.Framer from one side is written with the
// Framer to the other as it came: SETTINGS and their ACKs, PING,
// GOAWAY, WINDOW_UPDATE, RST_STREAM, PRIORITY, DATA with its flags and
// padding, and header blocks (HEADERS and CONTINUATION) as the raw
// fragments the sender encoded, never re-encoded, so the two sides'
// HPACK tables stay in step. The relay decodes a copy of every header
// block of each direction, in order, with an hpack.Decoder of its own,
// only to read :path and grpc-status; it counts each stream's gRPC
// messages both ways from the DATA payloads (a Parser per direction).
//
// Faults act on streams at their messages (Faults): an abort sends the
// client trailers with a status, encoded with never-indexed literals so
// the client's HPACK table does not change, drops the stream's later
// frames to the client and resets it upstream with CANCEL; a delay or a
// stall holds the stream's frames in a queue of its own, released in
// order by a timer, while the connection's other streams flow. Flow
// control is the endpoints' own, end to end: window updates pass
// through, so a held stream's sender stops when the window its receiver
// granted is used, and the relay holds at most that. Data the relay drops
// (an aborted stream's) is credited back to its sender with a
// connection-level WINDOW_UPDATE, so the connection's window does not
// shrink.
//
// PINGs pass end to end, keepalives included, but for one case: a
// client's PING sent after held frames of the server's reached it (since
// its previous PING) is acknowledged by the relay, not forwarded. A gRPC
// client sends a BDP ping as data reaches it; released late by a delay or
// a stall, that data arrives long after the server wrote it, and its
// pings would reach the server with none of the server's writes between
// them, which a server enforcing grpc-go's default keepalive policy
// counts as strikes and answers with GOAWAY too_many_pings, closing the
// connection. Directly, each such ping follows a write of the server's.
//
// One ordering no relay that forwards header blocks raw can escape: the
// HPACK table is the connection's, so header blocks must reach each
// receiver in the order they were encoded. A header block of a stream
// whose frames are held (the trailers of a delayed stream, say) is held
// with them, and the header blocks of other streams in that direction
// wait behind it (their DATA does not): while a stream's trailers are
// delayed by d, streams that open or end in the same direction of that
// connection wait up to d for their headers. Streams already open keep
// flowing.
//
// The relay speaks h2c with prior knowledge (gRPC's plaintext), or
// HTTP/2 over TLS when given the certificate to present to its clients
// (Config.TLS) and how to dial the upstream (Config.UpstreamTLS): it
// terminates TLS on each side, never HTTP/2.
package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config is what a relay forwards to and how.
type Config struct {
	// Upstream is the host:port every client connection is relayed to.
	Upstream string
	// Dial opens an upstream connection; nil dials Upstream over TCP
	// (over TLS with UpstreamTLS).
	Dial func(ctx context.Context) (net.Conn, error)
	// TLS, if not nil, is what the relay presents to its clients: the
	// certificate the user supplied (the relay cannot present the
	// server's without its key). The relay negotiates "h2" by ALPN.
	TLS *tls.Config
	// UpstreamTLS, if not nil, dials Upstream over TLS with it (its
	// ServerName defaults to Upstream's host), negotiating "h2".
	UpstreamTLS *tls.Config
	// Listener is where the relay accepts clients; nil: a new listener
	// on 127.0.0.1:0. The relay closes it at Close.
	Listener net.Listener
	// Faults, if not nil, is asked at every message of every stream.
	Faults Faults
	// ConnFaults, if not nil, is asked at each stage of every connection
	// (Relay.SetConnFaults switches it while the relay runs).
	ConnFaults ConnFaults
	// Seqs, if not nil, declares a numbered stream protocol whose
	// delivered numbers each of its streams' records keeps.
	Seqs *Seqs
	// Opened, if not nil, is called as each stream opens (its request
	// headers decoded, before any of its messages), and what it returns
	// is the stream's StreamInfo.State. Ended, if not nil, is called once
	// with each stream's record as the stream is finished (ended both
	// ways, reset, aborted or cut by its connection's close). Both run
	// with the relay's locks held: they must be quick and must not call
	// the relay.
	Opened func(StreamInfo) any
	Ended  func(StreamRecord)
	// KeepHeaders names the request headers (lower case, as HTTP/2
	// sends them) the relay keeps in each stream's StreamInfo.Headers.
	KeepHeaders []string
	// DialTimeout bounds the upstream dial (default 5s).
	DialTimeout time.Duration
	// PrefaceTimeout bounds the wait for a client's connection preface
	// (default 10s).
	PrefaceTimeout time.Duration
	// WriteTimeout bounds each write to a side; a side that takes no
	// bytes for that long (at least 7/8 of it: the deadline follows a
	// coarse clock) closes the connection (default 1 minute).
	WriteTimeout time.Duration
	// Linger is how long a connection waits, once one side has closed
	// its end, for the other to close (default 2s).
	Linger time.Duration
	// MaxHeld bounds the bytes a connection holds in each direction
	// (delayed and stalled frames); beyond it the relay stops reading
	// that direction until some are released (default 64 MiB). The
	// windows bound it first: it is a safety net.
	MaxHeld int64
	// MaxRecords bounds the finished streams and connections kept for
	// Streams and Conns (default 100,000 each; the oldest go first).
	MaxRecords int
}

// Relay is a running relay. Its methods are safe for concurrent use.
type Relay struct {
	cfg Config
	lis net.Listener

	wg      sync.WaitGroup // the accept loop and every connection's serve
	closing atomic.Bool
	once    sync.Once
	nextID  atomic.Uint64

	held, peak atomic.Int64 // bytes held in queues, now and at most
	connFaults atomic.Pointer[connFaultsBox]

	clock coarseClock   // write deadlines' time
	done  chan struct{} // closed by Close: stops the clock

	mu        sync.Mutex
	live      map[*conn]bool
	doneConns ring[ConnRecord]
	doneStrs  ring[StreamRecord]
}

// errRelayClosed is the error of connections the relay's Close ended.
var errRelayClosed = errors.New("relay closed")

// Start listens and relays every client connection to cfg.Upstream.
func Start(cfg Config) (*Relay, error) {
	if cfg.Upstream == "" && cfg.Dial == nil {
		return nil, errors.New("relay: no upstream address")
	}
	setDefault(&cfg.DialTimeout, 5*time.Second)
	setDefault(&cfg.PrefaceTimeout, 10*time.Second)
	setDefault(&cfg.WriteTimeout, time.Minute)
	setDefault(&cfg.Linger, 2*time.Second)
	setDefault(&cfg.MaxHeld, 64<<20)
	setDefault(&cfg.MaxRecords, 100000)
	if cfg.Dial == nil {
		d := &net.Dialer{}
		up := cfg.Upstream
		cfg.Dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", up) }
		if cfg.UpstreamTLS != nil {
			td := &tls.Dialer{NetDialer: d, Config: withH2(cfg.UpstreamTLS)}
			cfg.Dial = func(ctx context.Context) (net.Conn, error) { return td.DialContext(ctx, "tcp", up) }
		}
	}
	lis := cfg.Listener
	if lis == nil {
		var err error
		if lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("relay: listen: %w", err)
		}
	}
	if cfg.TLS != nil {
		lis = tls.NewListener(lis, withH2(cfg.TLS))
	}
	r := &Relay{cfg: cfg, lis: lis, live: map[*conn]bool{}, done: make(chan struct{}),
		doneConns: ring[ConnRecord]{max: cfg.MaxRecords}, doneStrs: ring[StreamRecord]{max: cfg.MaxRecords}}
	r.SetConnFaults(cfg.ConnFaults)
	r.clock.ns.Store(time.Now().UnixNano())
	r.wg.Add(2)
	go r.accept()
	go func() {
		defer r.wg.Done()
		r.clock.run(cfg.WriteTimeout/rearmParts, r.done)
	}()
	return r, nil
}

// withH2 is c offering HTTP/2 by ALPN (gRPC requires it).
func withH2(c *tls.Config) *tls.Config {
	c = c.Clone()
	if !slices.Contains(c.NextProtos, "h2") {
		c.NextProtos = append([]string{"h2"}, c.NextProtos...)
	}
	return c
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Addr is the host:port the relay accepts clients at.
func (r *Relay) Addr() string { return r.lis.Addr().String() }

// accept serves each client connection until the listener closes.
func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		nc, err := r.lis.Accept()
		if err != nil {
			if r.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure (out of descriptors): breathe.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c := newConn(r, nc)
		r.mu.Lock()
		if r.closing.Load() {
			r.mu.Unlock()
			_ = nc.Close()
			return
		}
		r.live[c] = true
		r.wg.Add(1)
		r.mu.Unlock()
		go func() {
			defer r.wg.Done()
			c.serve()
		}()
	}
}

// Close stops accepting, closes every connection (their clients and
// upstreams see the TCP connection end) and waits for every goroutine
// the relay started. Idempotent.
func (r *Relay) Close() error {
	var err error
	r.once.Do(func() {
		r.mu.Lock()
		r.closing.Store(true)
		live := make([]*conn, 0, len(r.live))
		for c := range r.live {
			live = append(live, c)
		}
		r.mu.Unlock()
		if cerr := r.lis.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("relay: close listener: %w", cerr)
		}
		for _, c := range live {
			c.close(errRelayClosed)
		}
		close(r.done)
		r.wg.Wait()
	})
	return err
}

// Held is the bytes the relay holds now in its delay and stall queues,
// over all connections, and the most it has held at once.
func (r *Relay) Held() (now, peak int64) { return r.held.Load(), r.peak.Load() }

func (r *Relay) addHeld(n int64) {
	v := r.held.Add(n)
	for {
		p := r.peak.Load()
		if v <= p || r.peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// Open counts the client connections open now.
func (r *Relay) Open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

// Streams are the records of the streams the relay has seen: finished
// ones (the latest MaxRecords) first, then open ones.
func (r *Relay) Streams() []StreamRecord {
	r.mu.Lock()
	out := r.doneStrs.all()
	live := r.liveConns()
	r.mu.Unlock()
	for _, c := range live {
		out = append(out, c.openStreams()...)
	}
	return out
}

// Conns are the records of the client connections: closed ones (the
// latest MaxRecords) first, then open ones.
func (r *Relay) Conns() []ConnRecord {
	r.mu.Lock()
	out := r.doneConns.all()
	live := r.liveConns()
	r.mu.Unlock()
	for _, c := range live {
		out = append(out, c.record())
	}
	return out
}

// liveConns lists the open connections; r.mu is held.
func (r *Relay) liveConns() []*conn {
	live := make([]*conn, 0, len(r.live))
	for c := range r.live {
		live = append(live, c)
	}
	return live
}

// finishStream keeps a finished stream's record.
func (r *Relay) finishStream(rec StreamRecord) {
	r.mu.Lock()
	r.doneStrs.add(rec)
	r.mu.Unlock()
	if r.cfg.Ended != nil {
		r.cfg.Ended(rec)
	}
}

// finishConn keeps a closed connection's record (its open streams' too).
func (r *Relay) finishConn(c *conn, rec ConnRecord, open []StreamRecord) {
	r.mu.Lock()
	delete(r.live, c)
	r.doneConns.add(rec)
	for _, s := range open {
		r.doneStrs.add(s)
	}
	r.mu.Unlock()
	if r.cfg.Ended != nil {
		for _, s := range open {
			r.cfg.Ended(s)
		}
	}
}

// ring keeps the latest max values added. It grows in chunks, so a
// relay that keeps 100,000 records never copies them to grow (a slice
// did, at up to 10% of the relay's CPU on short calls).
type ring[T any] struct {
	max    int
	chunks [][]T
	n      int // values kept
	next   int // where the next value goes once n == max
}

// ringChunk is the values a ring's chunk holds.
const ringChunk = 1024

func (r *ring[T]) at(i int) *T { return &r.chunks[i/ringChunk][i%ringChunk] }

func (r *ring[T]) add(v T) {
	if r.n < r.max {
		if r.n%ringChunk == 0 {
			r.chunks = append(r.chunks, make([]T, min(ringChunk, r.max-r.n)))
		}
		*r.at(r.n) = v
		r.n++
		return
	}
	*r.at(r.next) = v
	r.next = (r.next + 1) % r.max
}

// all are the values kept, oldest first.
func (r *ring[T]) all() []T {
	out := make([]T, 0, r.n)
	for i := range r.n {
		out = append(out, *r.at((r.next + i) % r.n))
	}
	return out
}
