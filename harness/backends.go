package harness

import (
	"context"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/reports"
)

// backendStats counts streams and messages per backend behind a balancing
// link. Which backend a stream rides on is the remote address of its
// connection, which the link named when it dialled it (link.BackendAddr):
// nothing is asked of the server.
type backendStats struct {
	lb link.Balancer

	mu     sync.Mutex
	counts map[string]*backendCount
	// last are the counters at the previous window, by backend (the
	// sampler's).
	last map[string]snapshot
}

// snapshot is a backend's counters at the previous window.
type snapshot struct{ opened, messages uint64 }

// backendCount is one backend's counters.
type backendCount struct {
	active           atomic.Int64
	opened, messages atomic.Uint64
}

// newBackendStats measures per backend when the run's link balances over
// several backends, and returns nil otherwise.
func newBackendStats(l link.Link) *backendStats {
	lb, ok := l.(link.Balancer)
	if !ok {
		return nil
	}
	return &backendStats{lb: lb, counts: map[string]*backendCount{}, last: map[string]snapshot{}}
}

func (b *backendStats) count(name string) *backendCount {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.counts[name]
	if !ok {
		c = &backendCount{}
		b.counts[name] = c
	}
	return c
}

// ownStreamKey marks the context of a stream streambench opens for itself
// on a group's connection (its setup: a method resolved over server
// reflection), which is no client's stream.
type ownStreamKey struct{}

// ownStreams marks ctx's streams as streambench's own: the per-backend
// counts leave them out.
func ownStreams(ctx context.Context) context.Context {
	return context.WithValue(ctx, ownStreamKey{}, true)
}

// interceptor attributes every client's stream opened on a ClientConn to
// the backend its transport is connected to, counting it open until it
// ends (its first receive error, its single response, or its context's
// end: a stream canceled is not read to an error), and every message
// received. Streams of streambench's own (ownStreams) are not counted.
func (b *backendStats) interceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || ctx.Value(ownStreamKey{}) != nil {
			return s, err
		}
		p, ok := peer.FromContext(s.Context())
		if !ok {
			return s, nil
		}
		a, ok := p.Addr.(link.BackendAddr)
		if !ok {
			return s, nil
		}
		c := b.count(a.Backend)
		c.opened.Add(1)
		c.active.Add(1)
		bs := &backendStream{ClientStream: s, c: c, single: !desc.ServerStreams}
		// gRPC ends the stream's context however the stream ends.
		context.AfterFunc(s.Context(), bs.end)
		return bs, nil
	}
}

// backendStream counts one stream's messages on its backend.
type backendStream struct {
	grpc.ClientStream
	c      *backendCount
	single bool // one response ends it
	ended  atomic.Bool
}

func (s *backendStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		s.c.messages.Add(1)
	}
	if err != nil || s.single {
		s.end()
	}
	return err
}

func (s *backendStream) end() {
	if s.ended.CompareAndSwap(false, true) {
		s.c.active.Add(-1)
	}
}

// window is every backend's figures at offset off (seconds), for the
// sampler's per-second windows, and each one's running totals.
func (b *backendStats) window(off float64) ([]reports.BackendWindow, []snapshot) {
	var out []reports.BackendWindow
	var totals []snapshot
	for _, st := range b.lb.Backends() {
		c := b.count(st.Name)
		w := reports.BackendWindow{Offset: off, Backend: st.Name, Up: st.Up, Active: max(c.active.Load(), 0)}
		opened, msgs := c.opened.Load(), c.messages.Load()
		prev := b.last[st.Name]
		w.Opened, w.Messages = opened-prev.opened, msgs-prev.messages
		b.last[st.Name] = snapshot{opened, msgs}
		out = append(out, w)
		totals = append(totals, snapshot{opened, msgs})
	}
	return out, totals
}

// report is the report's per-backend section: the windows, the spread of
// every second and the backends' names.
func (b *backendStats) report(windows []reports.BackendWindow) *reports.Backends {
	out := &reports.Backends{Balancing: b.lb.Balancing(), Windows: windows}
	for _, st := range b.lb.Backends() {
		out.Names = append(out.Names, st.Name)
	}
	out.Spread = reports.SpreadOf(windows)
	return out
}
