// Package fleet judges a fleet of the user's own clients from what the
// frame relay in front of them saw (harness/relay's connection and stream
// records): checks of backoff, herd, resume, zombies, keepalive and
// GOAWAY behaviour, each a pure function of the evidence returning a
// reports.Verdict. A check with nothing to judge fails ("no data"), it
// never passes.
//
// Client identity: a Client is the evidence of one relay listener, one
// per client or replica (a Relay per replica); the checks never guess
// who a connection belongs to.
package fleet

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/streambench/streambench/harness/relay"
	"github.com/streambench/streambench/reports"
)

// Client is what the relay in front of one client saw.
type Client struct {
	// Name is the client's identity (its replica or declared id).
	Name    string
	Conns   []relay.ConnRecord
	Streams []relay.StreamRecord
	// End is when the evidence was taken (the run's end): quiet time
	// before it counts (a client that stopped trying), open streams are
	// judged open then.
	End time.Time
}

// FromRelay is a client's evidence as a relay holds it now.
func FromRelay(name string, r *relay.Relay) Client {
	return Client{Name: name, Conns: r.Conns(), Streams: r.Streams(), End: time.Now()}
}

// Profile is a backoff: the pause after failure k (from 0) is Base for
// k = 0 and min(Base×Multiplier^k, Max)×(1±Jitter) after, as gRPC's
// connection backoff spec says.
type Profile struct {
	Base       time.Duration
	Multiplier float64
	Jitter     float64
	Max        time.Duration
}

// GRPC is gRPC's connection backoff (doc/connection-backoff.md).
var GRPC = Profile{Base: time.Second, Multiplier: 1.6, Jitter: 0.2, Max: 120 * time.Second}

func (p Profile) withDefaults() Profile {
	if p.Base <= 0 {
		p.Base = GRPC.Base
	}
	if p.Multiplier < 1 {
		p.Multiplier = GRPC.Multiplier
	}
	if p.Max < p.Base {
		p.Max = max(p.Base, GRPC.Max)
	}
	if p.Jitter < 0 || p.Jitter > 1 {
		p.Jitter = GRPC.Jitter
	}
	return p
}

// delay is the pause after failure k before jitter.
func (p Profile) delay(k int) time.Duration {
	if k <= 0 {
		return p.Base
	}
	return time.Duration(min(float64(p.Base)*math.Pow(p.Multiplier, float64(k)), float64(p.Max)))
}

// bounds are the shortest and longest pauses after failure k.
func (p Profile) bounds(k int) (lo, hi time.Duration) {
	d := p.delay(k)
	if k == 0 {
		return d, d
	}
	return time.Duration(float64(d) * (1 - p.Jitter)), time.Duration(float64(d) * (1 + p.Jitter))
}

// String is the profile as a scenario declares it.
func (p Profile) String() string {
	return fmt.Sprintf("{base: %v, multiplier: %g, jitter: %g, max: %v}", p.Base, p.Multiplier, p.Jitter, p.Max)
}

// Tolerances of the timing checks: the relay stamps attempts from its own
// goroutines, which a busy machine schedules late; a late stamp can only
// shorten the gap after it by that much.
const (
	// slack is the part of a pause's lower bound a gap may fall short by.
	slack = 0.75
	// hotGap is a gap, as a fraction of Base, that only a client with no
	// backoff makes; hotRun such gaps in a row are a hot loop.
	hotGap = 0.1
	hotRun = 5
)

// failedConn says a connection attempt failed: the upstream's SETTINGS
// never reached the client (gRPC resets its backoff only when they do).
func failedConn(c relay.ConnRecord) bool { return c.Established.IsZero() && !c.Closed.IsZero() }

// failedStream says a stream failed on its own: ended with an error
// status or a reset other than the client's cancel. A stream cut by its
// connection's end is the connection's failure (judged as one).
func failedStream(s relay.StreamRecord) bool {
	switch s.EndedBy {
	case "", relay.EndedByClientReset, relay.EndedByConn:
		return false
	}
	return !(s.HasStatus && s.Code == codes.OK)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func byOpened[T any](v []T, at func(T) time.Time) []T {
	v = slices.Clone(v)
	slices.SortStableFunc(v, func(a, b T) int { return at(a).Compare(at(b)) })
	return v
}

func connOpened(c relay.ConnRecord) time.Time     { return c.Opened }
func streamOpened(s relay.StreamRecord) time.Time { return s.Opened }

// verdict assembles a verdict from the failures found.
func verdict(name, expected string, judged int, actual string, fails []string) reports.Verdict {
	v := reports.Verdict{Name: name, Expected: expected, Actual: actual, Pass: len(fails) == 0 && judged > 0}
	switch {
	case judged == 0:
		v.Detail = "no data: " + actual
	case len(fails) > 0:
		v.Detail = strings.Join(fails, "; ")
	}
	return v
}

// Backoff judges each client's pauses after failed attempts against p:
// between a failed connection attempt and the next (start to start, as
// gRPC's spec times them), and between a stream of method that failed on
// its own with nothing delivered and the client's next stream of method
// (end to start). As in gRPC's spec, the first attempt after one that
// worked (a connection established, a stream that delivered) may come at
// once, and the pauses grow with the failures in a row after it. A pause
// shorter than the profile's (less a scheduling slack) fails; hotRun
// pauses in a row under a tenth of the base are a hot loop; a client
// whose last attempt failed and that made none for twice the longest
// pause due before its evidence ended gave up, and fails; a pause longer
// than the profile's is reported in Actual, not failed. No failed attempt
// in the whole fleet is no data.
func Backoff(clients []Client, method string, p Profile) reports.Verdict {
	p = p.withDefaults()
	var fails, slow []string
	judged := 0
	for _, c := range clients {
		var gaps []gap
		conns := byOpened(c.Conns, connOpened)
		run := 0 // failures in a row
		for i := 0; i+1 < len(conns); i++ {
			if !failedConn(conns[i]) {
				run = 0
				continue
			}
			gaps = append(gaps, gap{what: "connection attempt", k: run, d: conns[i+1].Opened.Sub(conns[i].Opened), at: conns[i+1].Opened})
			run++
		}
		var streams []relay.StreamRecord
		for _, s := range byOpened(c.Streams, streamOpened) {
			if s.Method == method {
				streams = append(streams, s)
			}
		}
		run = 0
		for i := 0; i+1 < len(streams); i++ {
			s := streams[i]
			if !failedStream(s) || s.Messages[relay.ServerToClient] > 0 {
				run = 0 // the first attempt after one that worked may be at once
				continue
			}
			gaps = append(gaps, gap{what: "resubscribe", k: run, d: streams[i+1].Opened.Sub(s.Closed), at: streams[i+1].Opened})
			run++
		}
		judged += len(gaps)
		fails = append(fails, judgeGaps(c.Name, gaps, p, &slow)...)
		if msg := gaveUp(c, conns, streams, p); msg != "" {
			judged++
			fails = append(fails, msg)
		}
	}
	actual := fmt.Sprintf("%d pauses after failed attempts judged", judged)
	if len(slow) > 0 {
		actual += "; longer than the profile: " + strings.Join(slow, "; ")
	}
	return verdict("backoff", "pauses after failed attempts follow "+p.String(), judged, actual, fails)
}

// gap is one pause after a failed attempt: k failures in a row before it.
type gap struct {
	what string
	k    int
	d    time.Duration
	at   time.Time
}

func judgeGaps(name string, gaps []gap, p Profile, slow *[]string) []string {
	var fails []string
	hot, hotMax, short := 0, 0, 0
	var first, hotWhat string
	for _, g := range gaps {
		lo, hi := p.bounds(g.k)
		if g.d < time.Duration(float64(p.Base)*hotGap) {
			hot++
			if hot > hotMax {
				hotMax, hotWhat = hot, g.what
			}
		} else {
			hot = 0
		}
		switch {
		case g.d < time.Duration(float64(lo)*slack):
			short++
			if first == "" {
				first = fmt.Sprintf("a %s %s after failure %d in a row, want at least %s", g.what, ms(g.d), g.k+1, ms(lo))
			}
		case g.d > 2*hi+50*time.Millisecond:
			*slow = append(*slow, fmt.Sprintf("client %s: a %s %s after failure %d in a row (profile at most %s)", name, g.what, ms(g.d), g.k+1, ms(hi)))
		}
	}
	if hotMax >= hotRun {
		var sum time.Duration
		for _, g := range gaps {
			sum += g.d
		}
		fails = append(fails, fmt.Sprintf("client %s: a hot loop: %d attempts after failures, mean pause %s, %d in a row under %s (base %v), each a %s",
			name, len(gaps), ms(sum/time.Duration(len(gaps))), hotMax, ms(time.Duration(float64(p.Base)*hotGap)), p.Base, hotWhat))
	} else if short > 0 {
		fails = append(fails, fmt.Sprintf("client %s: %d of %d pauses too short: %s", name, short, len(gaps), first))
	}
	return fails
}

// gaveUp says a client whose last attempt failed stopped trying: no
// attempt for twice the longest pause due, and more, before c.End.
func gaveUp(c Client, conns []relay.ConnRecord, streams []relay.StreamRecord, p Profile) string {
	if c.End.IsZero() {
		return ""
	}
	var last, ended time.Time
	failed := false
	for _, x := range conns {
		if x.Opened.After(last) {
			last, ended, failed = x.Opened, x.Closed, failedConn(x)
		}
	}
	for _, s := range streams {
		if s.Opened.After(last) {
			last, ended, failed = s.Opened, s.Closed, failedStream(s)
		}
	}
	if !failed {
		return ""
	}
	run := max(tail(conns, failedConn), tail(streams, failedStream))
	_, hi := p.bounds(run)
	if quiet := c.End.Sub(ended); quiet > 2*hi+100*time.Millisecond {
		return fmt.Sprintf("client %s: gave up: no attempt for %s after %d failed in a row (the profile's pause is at most %s)",
			c.Name, ms(quiet), run, ms(hi))
	}
	return ""
}

// tail counts the failures at the end of v.
func tail[T any](v []T, failed func(T) bool) int {
	n := 0
	for i := len(v) - 1; i >= 0 && failed(v[i]); i-- {
		n++
	}
	return n
}
