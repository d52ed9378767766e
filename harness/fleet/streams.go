package fleet

import (
	"fmt"
	"time"

	"golang.org/x/net/http2"

	"github.com/streambench/streambench/harness/relay"
	"github.com/streambench/streambench/reports"
)

// Zombies judges that no client holds more than maxOpen streams of
// method at once (0: one, a subscription's): a stream still open more
// than overlap after maxOpen newer ones of its client opened is a zombie
// (overlap lets a client open its next stream before it cancels the old,
// 0: 1 s); a stream open when the evidence was taken (after the clients
// stopped) was left open. No stream of method is no data.
func Zombies(clients []Client, method string, maxOpen int, overlap time.Duration) reports.Verdict {
	if maxOpen <= 0 {
		maxOpen = 1
	}
	if overlap <= 0 {
		overlap = time.Second
	}
	var fails []string
	judged, peakAll := 0, 0
	for _, c := range clients {
		var ss []relay.StreamRecord
		for _, s := range byOpened(c.Streams, streamOpened) {
			if s.Method == method {
				ss = append(ss, s)
			}
		}
		judged += len(ss)
		zombies, left := 0, 0
		var first string
		for i, s := range ss {
			end := s.Closed
			if s.EndedBy == "" {
				left++
				end = c.End
			}
			newer := 0
			for _, n := range ss[i+1:] {
				if n.Opened.Before(end) {
					newer++
				}
				if newer == maxOpen {
					if held := end.Sub(n.Opened); held > overlap {
						zombies++
						if first == "" {
							first = fmt.Sprintf("stream %d on connection %d stayed open %s after the client opened stream %d on connection %d",
								s.ID, s.Conn, ms(held), n.ID, n.Conn)
						}
					}
					break
				}
			}
		}
		peak := peakOpen(ss, c.End)
		peakAll = max(peakAll, peak)
		if zombies > 0 {
			fails = append(fails, fmt.Sprintf("client %s: %d zombie streams of %s (at most %d open at once, %d at its peak): %s",
				c.Name, zombies, method, maxOpen, peak, first))
		}
		if left > 0 {
			fails = append(fails, fmt.Sprintf("client %s: %d streams of %s left open at the end", c.Name, left, method))
		}
	}
	return verdict("zombies", fmt.Sprintf("at most %d stream of %s open per client (overlap %v), none left open", maxOpen, method, overlap),
		judged, fmt.Sprintf("%d streams, at most %d open at once in a client", judged, peakAll), fails)
}

// peakOpen is the most streams open at once.
func peakOpen(ss []relay.StreamRecord, end time.Time) int {
	peak := 0
	for _, s := range ss {
		n := 0
		for _, o := range ss {
			oe := o.Closed
			if o.EndedBy == "" {
				oe = end
			}
			if !o.Opened.After(s.Opened) && oe.After(s.Opened) {
				n++
			}
		}
		peak = max(peak, n)
	}
	return peak
}

// Keepalive judges the clients' PINGs as a gRPC server enforcing gRFC A8
// counts them: a client's PING that comes less than minTime after its
// previous one on the connection, with no DATA or HEADERS from the server
// between them, is a strike; more than maxStrikes (0: grpc-go's 2) on a
// connection fails, and so does the server's own GOAWAY too_many_pings.
// No connection is no data.
func Keepalive(clients []Client, minTime time.Duration, maxStrikes int) reports.Verdict {
	if maxStrikes <= 0 {
		maxStrikes = 2
	}
	var fails []string
	conns, pings := 0, 0
	for _, c := range clients {
		worst, worstConn, calm := 0, uint64(0), 0
		for _, x := range c.Conns {
			conns++
			strikes := 0
			var prev *relay.ControlFrame
			for i, f := range x.Control {
				switch {
				case f.Type == http2.FramePing && f.Dir == relay.ClientToServer && !f.Ack:
					pings++
					if prev != nil && f.At.Sub(prev.At) < minTime && f.ServerFrames == prev.ServerFrames {
						strikes++
					}
					prev = &x.Control[i]
				case f.Type == http2.FrameGoAway && f.Dir == relay.ServerToClient && !f.ByRelay &&
					f.Code == http2.ErrCodeEnhanceYourCalm && f.Debug == "too_many_pings":
					calm++
				}
			}
			if strikes > worst {
				worst, worstConn = strikes, x.ID
			}
		}
		if worst > maxStrikes || calm > 0 {
			fails = append(fails, fmt.Sprintf("client %s: %d pings on connection %d within %v of the previous with no data between (%d tolerated); the server answered too_many_pings %d times",
				c.Name, worst, worstConn, minTime, maxStrikes, calm))
		}
	}
	return verdict("keepalive", fmt.Sprintf("pings at most every %v without data between (gRFC A8, %d strikes tolerated)", minTime, maxStrikes),
		conns, fmt.Sprintf("%d pings on %d connections", pings, conns), fails)
}

// GoAway judges how clients answer a GOAWAY NO_ERROR (from the server or
// the relay's fault) with grace before the connection closes (0: the
// connection's recorded close): each stream of method open on the
// connection when the GOAWAY crossed must have a successor on another
// connection opened before the grace ended, and no stream may open on the
// connection after its GOAWAY (gRFC A9). No GOAWAY with a stream of
// method open under it is no data.
func GoAway(clients []Client, method string, grace time.Duration) reports.Verdict {
	var fails []string
	judged, moved := 0, 0
	for _, c := range clients {
		for _, x := range c.Conns {
			at, ok := goAwayAt(x)
			if !ok {
				continue
			}
			deadline := at.Add(grace)
			if grace <= 0 {
				deadline = x.Closed
			}
			for _, s := range c.Streams {
				if s.Method != method || s.Conn != x.ID {
					continue
				}
				if s.Opened.After(at) {
					judged++
					fails = append(fails, fmt.Sprintf("client %s: opened stream %d on connection %d %s after its GOAWAY",
						c.Name, s.ID, x.ID, ms(s.Opened.Sub(at))))
					continue
				}
				if s.EndedBy != "" && !s.Closed.After(at) {
					continue // ended before the GOAWAY
				}
				judged++
				next, found := successor(c.Streams, method, x.ID, at)
				switch {
				case !found:
					fails = append(fails, fmt.Sprintf("client %s: stream %d on connection %d never moved after the GOAWAY", c.Name, s.ID, x.ID))
				case !deadline.IsZero() && next.Opened.After(deadline):
					fails = append(fails, fmt.Sprintf("client %s: stream %d on connection %d moved %s after the GOAWAY, after the grace (%s)",
						c.Name, s.ID, x.ID, ms(next.Opened.Sub(at)), ms(deadline.Sub(at))))
				default:
					moved++
				}
			}
		}
	}
	return verdict("goaway", fmt.Sprintf("streams of %s move to a new connection within the grace after GOAWAY, none opens on the old (gRFC A9)", method),
		judged, fmt.Sprintf("%d streams under a GOAWAY, %d moved in time", judged, moved), fails)
}

// goAwayAt is when the first GOAWAY NO_ERROR crossed to the client.
func goAwayAt(x relay.ConnRecord) (time.Time, bool) {
	for _, f := range x.Control {
		if f.Type == http2.FrameGoAway && f.Dir == relay.ServerToClient && f.Code == http2.ErrCodeNo {
			return f.At, true
		}
	}
	return time.Time{}, false
}

// successor is the first stream of method opened after at on another
// connection.
func successor(ss []relay.StreamRecord, method string, conn uint64, at time.Time) (relay.StreamRecord, bool) {
	var best relay.StreamRecord
	found := false
	for _, s := range ss {
		if s.Method == method && s.Conn != conn && s.Opened.After(at) && (!found || s.Opened.Before(best.Opened)) {
			best, found = s, true
		}
	}
	return best, found
}
