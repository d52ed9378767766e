package fault

import (
	"context"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streambench/streambench/harness/clock"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys the harness's clients send so the server side can tell
// which group and client a stream belongs to.
const (
	MDGroup  = "streambench-group"
	MDClient = "streambench-client"
)

// Streams is the gRPC-layer fault injector and stream accountant of a
// StreamHost target (the builtin servers, or the proxy in front of an
// address or command target): a server interceptor that consults the
// active stream faults on every message and counts how handlers ended,
// or, for a frame relay, the same choices per message (RelayStream) and
// the ends it counts (End).
type Streams struct {
	active atomic.Pointer[[]*activeStream]
	seed   uint64
	mu     sync.Mutex

	ends          sync.Map // code name -> *atomic.Uint64
	streamsOf     sync.Map // Member -> *atomic.Uint64: streams opened
	okAfterCancel atomic.Uint64
	injected      atomic.Uint64

	handlerOnly []string // stream kinds expected that a relay cannot act out (mu)
}

type activeStream struct {
	occ     Occurrence
	params  *StreamParams
	code    codes.Code
	clients map[Member]bool // nil: every client of group (or all)
	group   string
	salt    uint64
}

// NewStreams returns an injector whose random choices derive from seed.
func NewStreams(seed int64) *Streams {
	s := &Streams{seed: uint64(seed)}
	s.active.Store(&[]*activeStream{})
	return s
}

// Activate starts the stream fault o on clients (nil: everyone in scope)
// and returns its revert.
func (s *Streams) Activate(o Occurrence, clients []Member) func() {
	p := o.Spec.Params.(*StreamParams)
	a := &activeStream{occ: o, params: p, group: o.Spec.Scope.Group,
		salt: s.seed ^ uint64(o.Spec.Index)<<40 ^ uint64(o.Rep)<<20}
	if p.Status != "" {
		a.code, _ = ParseCode(p.Status)
	}
	if o.Spec.Scope.Fraction > 0 && o.Spec.Scope.Fraction < 1 {
		a.clients = make(map[Member]bool, len(clients))
		for _, m := range clients {
			a.clients[m] = true
		}
	}
	s.mu.Lock()
	old := *s.active.Load()
	next := append(append([]*activeStream(nil), old...), a)
	s.active.Store(&next)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		cur := *s.active.Load()
		kept := make([]*activeStream, 0, len(cur))
		for _, x := range cur {
			if x != a {
				kept = append(kept, x)
			}
		}
		s.active.Store(&kept)
	}
}

// ServerStats are the handler ends the interceptor counted.
type ServerStats struct {
	// Ends counts handler returns by status code name ("OK", "Canceled", …).
	Ends map[string]uint64
	// OKAfterCancel counts handlers that returned OK with their stream
	// broken — its context already cancelled, or a Send failed in the
	// transport — and their protocol unfinished (see incomplete): the
	// server claimed success for a stream whose client never saw its end.
	OKAfterCancel uint64
	// Injected counts faults injected into streams.
	Injected uint64
}

// Stats returns the counts so far.
func (s *Streams) Stats() ServerStats {
	st := ServerStats{Ends: map[string]uint64{}, OKAfterCancel: s.okAfterCancel.Load(), Injected: s.injected.Load()}
	s.ends.Range(func(k, v any) bool {
		st.Ends[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return st
}

func (s *Streams) countEnd(code codes.Code) {
	name := code.String()
	v, ok := s.ends.Load(name)
	if !ok {
		v, _ = s.ends.LoadOrStore(name, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// Interceptor returns the server stream interceptor.
func (s *Streams) Interceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		group, id := "", -1
		if md, ok := metadata.FromIncomingContext(ss.Context()); ok {
			group, id = memberOf(first(md.Get(MDGroup)), first(md.Get(MDClient)))
		}
		w := &faultStream{ServerStream: ss, streamState: s.newState(group, id)}
		w.want.Store(-1)
		err := handler(srv, w)
		code := status.Code(err)
		s.countEnd(code)
		// A closing transport can fail a Send before it cancels the
		// stream's context: a handler that returned OK after a failed
		// Send claimed success for a broken stream just the same.
		if err == nil && (ss.Context().Err() != nil || w.sendFailed.Load()) && w.incomplete(info) {
			s.okAfterCancel.Add(1)
		}
		return err
	}
}

// streamState is what the stream faults keep of one stream, wherever they
// act on it (the interceptor's faultStream, or a frame relay's stream).
type streamState struct {
	s      *Streams
	group  string
	id     int
	stream uint64
	// mu guards aborted and stalled: a handler may Send and Recv from two
	// goroutines, a relay reads a stream's two directions in two.
	mu      sync.Mutex
	aborted bool
	stalled map[*activeStream]bool
}

// newState is the state of a new stream of client id of group (-1: the
// stream named none), taking its ordinal.
func (s *Streams) newState(group string, id int) *streamState {
	// A client's streams are sequential, so its n-th stream is the same
	// stream in every replay: random choices key on (client, n).
	return &streamState{s: s, group: group, id: id, stream: s.ordinal(Member{Group: group, ID: id})}
}

// faultStream applies the active stream faults to one stream.
type faultStream struct {
	grpc.ServerStream
	*streamState
	msgs atomic.Int64
	// sent, sawEOF and want judge completeness when a handler returns OK
	// after a cancel (want < 0: the request named no count).
	sent   atomic.Int64
	sawEOF atomic.Bool
	want   atomic.Int64
	// sendFailed: a Send failed in the transport (the stream broke),
	// not by an injected fault.
	sendFailed atomic.Bool
}

// memberOf reads a stream's group and client id from its metadata's
// values ("" and -1 when it named none).
func memberOf(group, client string) (string, int) {
	id := -1
	if client != "" {
		if v, err := strconv.Atoi(client); err == nil {
			id = v
		}
	}
	return group, id
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// ordinal returns how many streams client m opened before this one.
func (s *Streams) ordinal(m Member) uint64 {
	v, ok := s.streamsOf.Load(m)
	if !ok {
		v, _ = s.streamsOf.LoadOrStore(m, new(atomic.Uint64))
	}
	return v.(*atomic.Uint64).Add(1) - 1
}

// roll returns a number in [0,1) that depends only on (fault salt, client,
// stream or message n): the same choices in every replay.
func roll(salt uint64, id int, n uint64) float64 {
	h := mix(salt ^ mix(uint64(id)^0x9e3779b97f4a7c15) ^ mix(n+0x632be59bd9b4e019))
	return float64(h>>11) / (1 << 53)
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (w *streamState) applies(a *activeStream) bool {
	if a.group != "" && a.group != w.group {
		return false
	}
	if a.clients != nil && !a.clients[Member{Group: w.group, ID: w.id}] {
		return false
	}
	return true
}

// verdict is what the active stream faults ask of one message: end the
// stream with abort, or hold the message for delay, or hold the stream for
// stall. The zero verdict lets the message move.
type verdict struct {
	abort error
	delay time.Duration
	stall time.Duration
}

// judge asks the active faults in scope about message n (1-based, both
// ways) of the stream; send is true for the server's own messages. It
// stops at the first abort. act, if not nil, carries out each fault's
// verdict in turn (the interceptor sleeps its delays and stalls one after
// the other, as the faults are listed) and may end the stream with an
// error; without act the verdicts are summed (delays) and the longest
// stall kept, for a relay that holds the message itself.
func (w *streamState) judge(n int, send bool, act func(verdict) error) (verdict, error) {
	var sum verdict
	for _, a := range *w.s.active.Load() {
		if !w.applies(a) {
			continue
		}
		v := a.occ.Spec.Kind.onMessage(w, a, n, send)
		if v == (verdict{}) {
			continue
		}
		w.s.injected.Add(1)
		if act != nil {
			if err := act(v); err != nil {
				return verdict{}, err
			}
			continue
		}
		if v.abort != nil {
			return verdict{abort: v.abort}, nil
		}
		sum.delay += v.delay
		sum.stall = max(sum.stall, v.stall)
	}
	return sum, nil
}

// before runs the active faults before message n of the stream moves.
func (w *faultStream) before(send bool) error {
	n := int(w.msgs.Add(1))
	if len(*w.s.active.Load()) == 0 {
		return nil
	}
	_, err := w.judge(n, send, func(v verdict) error {
		if v.abort != nil {
			return v.abort
		}
		return sleep(w.Context(), v.delay+v.stall)
	})
	return err
}

// once reports whether fault a has not yet fired on this stream, marking
// it fired (abort: whether the stream was not aborted yet).
func (w *streamState) once(a *activeStream, abort bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if abort {
		if w.aborted {
			return false
		}
		w.aborted = true
		return true
	}
	if w.stalled[a] {
		return false
	}
	if w.stalled == nil {
		w.stalled = map[*activeStream]bool{}
	}
	w.stalled[a] = true
	return true
}

// sleep waits d unless the stream's ctx ends first, then it is the
// stream's end status.
func sleep(ctx context.Context, d time.Duration) error {
	if !clock.Sleep(ctx, d) {
		return status.FromContextError(ctx.Err()).Err()
	}
	return nil
}

// SendMsg implements grpc.ServerStream.
func (w *faultStream) SendMsg(m any) error {
	if err := w.before(true); err != nil {
		return err
	}
	err := w.ServerStream.SendMsg(m)
	if err == nil {
		w.sent.Add(1)
	} else {
		w.sendFailed.Store(true)
	}
	return err
}

// RecvMsg implements grpc.ServerStream.
func (w *faultStream) RecvMsg(m any) error {
	if err := w.ServerStream.RecvMsg(m); err != nil {
		if err == io.EOF {
			w.sawEOF.Store(true)
		}
		return err
	}
	if c, ok := m.(interface{ GetCount() int32 }); ok {
		w.want.Store(int64(c.GetCount()))
	}
	return w.before(false)
}

// defaultCount is how many messages a server-streaming request with count
// 0 asks for (the reference Pow's default, as in the gRPC tutorial).
const defaultCount = 10

// incomplete reports whether a handler that returned OK had not finished
// its protocol, so its OK was a premature end rather than a race with a
// late cancel: a client-streaming or bidi handler that never saw the
// client's half-close, or a server-streaming handler whose request named a
// message count (GetCount) and that sent fewer. A stream whose completeness
// it cannot tell (Subscribe: its clean end is an Unsubscribe, judged by the
// client) is not counted.
func (w *faultStream) incomplete(info *grpc.StreamServerInfo) bool {
	if info.IsClientStream {
		return !w.sawEOF.Load()
	}
	want := w.want.Load()
	if want < 0 {
		return false
	}
	if want == 0 {
		want = defaultCount
	}
	return w.sent.Load() < want
}
