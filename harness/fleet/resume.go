package fleet

import (
	"fmt"
	"strings"

	"github.com/streambench/streambench/harness/relay"
	"github.com/streambench/streambench/reports"
)

// ResumeKind is how a resubscribe continued the stream before it.
type ResumeKind string

const (
	// Exact: the first number delivered follows the last one before.
	Exact ResumeKind = "exact"
	// Overlap: numbers delivered before were delivered again.
	Overlap ResumeKind = "overlap"
	// Gap: numbers between the two streams were never delivered.
	Gap ResumeKind = "gap"
	// Restart: the client asked for no position (the resume field 0).
	Restart ResumeKind = "restart"
)

// Resumption is one resubscribe's verdict.
type Resumption struct {
	Client string
	// Conn and Stream name the new stream.
	Conn   uint64
	Stream uint32
	Kind   ResumeKind
	// N counts the numbers delivered twice (Overlap) or never (Gap).
	N uint64
	// Prev is the last number delivered before; First the new stream's
	// first; Asked the resume field the client sent.
	Prev, First, Asked uint64
	// AfterCancel: the stream before ended by the client's own cancel,
	// which may discard updates delivered but not yet read.
	AfterCancel bool
}

// Resumptions are the resubscribes of each client on method, in order:
// each stream that delivered numbers (relay.Config.Seqs) after an earlier
// one that did.
func Resumptions(clients []Client, method string) []Resumption {
	var out []Resumption
	for _, c := range clients {
		var prev *relay.StreamRecord
		for _, s := range byOpened(c.Streams, streamOpened) {
			if s.Method != method || s.Seq.Count == 0 {
				continue
			}
			if prev != nil {
				r := Resumption{Client: c.Name, Conn: s.Conn, Stream: s.ID, Prev: prev.Seq.Last, First: s.Seq.First, Asked: s.Seq.Resume,
					AfterCancel: prev.EndedBy == relay.EndedByClientReset}
				switch {
				case s.Seq.HasResume && s.Seq.Resume == 0:
					r.Kind = Restart
					if s.Seq.First > r.Prev+1 {
						r.N = s.Seq.First - r.Prev - 1
					}
				case s.Seq.First == r.Prev+1:
					r.Kind = Exact
				case s.Seq.First <= r.Prev:
					r.Kind, r.N = Overlap, r.Prev-s.Seq.First+1
				default:
					r.Kind, r.N = Gap, s.Seq.First-r.Prev-1
				}
				out = append(out, r)
			}
			prev = &s
		}
	}
	return out
}

// String says the resumption as a verdict names it.
func (r Resumption) String() string {
	s := fmt.Sprintf("client %s: resubscribe (connection %d, stream %d) %s", r.Client, r.Conn, r.Stream, r.Kind)
	if r.N > 0 {
		s += fmt.Sprintf(" %d", r.N)
	}
	return s + fmt.Sprintf(" (last delivered before %d, first after %d, asked from %d)", r.Prev, r.First, r.Asked)
}

// Resume judges every resubscribe on method against what the relay
// delivered to that client: each must be exact. An overlap after the
// client's own cancel is reported, not failed (updates in flight when a
// client cancels are delivered but never read). No resubscribe is no
// data.
func Resume(clients []Client, method string) reports.Verdict {
	rs := Resumptions(clients, method)
	var fails, noted []string
	count := map[ResumeKind]int{}
	for _, r := range rs {
		count[r.Kind]++
		switch {
		case r.Kind == Exact:
		case r.Kind == Overlap && r.AfterCancel:
			noted = append(noted, r.String()+" after its own cancel")
		default:
			fails = append(fails, r.String())
		}
	}
	actual := fmt.Sprintf("%d resubscribes: %d exact, %d overlap, %d gap, %d restart", len(rs), count[Exact], count[Overlap], count[Gap], count[Restart])
	if len(noted) > 0 {
		actual += "; " + strings.Join(noted, "; ")
	}
	return verdict("resume", "every resubscribe on "+method+" resumes exactly after the last update delivered", len(rs), actual, fails)
}
