package fault

import (
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RelayStream is one stream the stream faults act on from outside a gRPC
// server: a frame relay's (package relay), which tells it each message as
// the message begins to cross and carries out what Message answers. The
// faults' choices are the interceptor's: the same `after` count (both
// directions, Pow's request is message 1), the same seeded draws keyed on
// the client and its stream's ordinal, the same scope.
type RelayStream struct{ st *streamState }

// OpenRelayStream starts a stream of the client its metadata names (group
// and client are the values of MDGroup and MDClient, "" when the stream
// sent none).
// Streams must be opened in the order their clients opened them, as the
// interceptor sees them: a client's n-th stream draws the same choices in
// every replay.
func (s *Streams) OpenRelayStream(group, client string) *RelayStream {
	g, id := memberOf(group, client)
	return &RelayStream{st: s.newState(g, id)}
}

// Hold is what the active stream faults ask of one message. The zero Hold
// lets it move.
type Hold struct {
	// Abort, if not nil, ends the stream with its status before the
	// message moves.
	Abort *status.Status
	// Delay holds the message (the delays of every fault that picked it,
	// summed).
	Delay time.Duration
	// Stall holds the stream from this message on (the longest of the
	// stalls that picked it).
	Stall time.Duration
}

// Message is what the active faults ask of the stream's message n
// (1-based, both directions, in the order they began to cross); send is
// true for the server's own messages. Each fault that acts counts as an
// injection, as in the interceptor.
func (t *RelayStream) Message(n int, send bool) Hold {
	if len(*t.st.s.active.Load()) == 0 {
		return Hold{}
	}
	v, _ := t.st.judge(n, send, nil)
	if v.abort != nil {
		return Hold{Abort: status.Convert(v.abort)}
	}
	return Hold{Delay: v.delay, Stall: v.stall}
}

// End counts a stream's end with code in Stats().Ends, for a host that
// runs no handler to count it: a relay counts each stream's status as it
// ended.
func (s *Streams) End(code codes.Code) { s.countEnd(code) }

// Expect tells s the plan's stream kinds, before its host starts, so
// Relayable can say whether a frame relay can carry them.
func (s *Streams) Expect(kinds ...Kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range kinds {
		if k.Layer == Stream && !k.relays {
			s.handlerOnly = append(s.handlerOnly, k.Name)
		}
	}
}

// Relayable reports whether every stream kind expected (Expect) acts with
// what a frame relay can do to a stream — end it with a status, hold a
// message, hold the stream — and if not, names those that need a gRPC
// handler (a host then runs them through the grpc proxy).
func (s *Streams) Relayable() (ok bool, handlerOnly []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.handlerOnly) == 0, append([]string(nil), s.handlerOnly...)
}
