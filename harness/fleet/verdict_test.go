package fleet

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"

	"github.com/streambench/streambench/harness/relay"
)

// These tests judge evidence written out by hand: each rule's edge, with
// no timing of a real run in the way.

var t0 = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)

func at(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }

// failedAt are failed connection attempts opened at these offsets (ms),
// each over 1 ms after it opened.
func failedAt(offsets ...float64) []relay.ConnRecord {
	var out []relay.ConnRecord
	for i, o := range offsets {
		out = append(out, relay.ConnRecord{ID: uint64(i + 1), Opened: at(o), Closed: at(o + 1), End: relay.EndUpstreamDown})
	}
	return out
}

func TestBackoffRules(t *testing.T) {
	p := Profile{Base: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, Max: 2 * time.Second}
	established := func(ms float64) relay.ConnRecord {
		return relay.ConnRecord{ID: 9, Opened: at(ms), Established: at(ms + 1)}
	}
	tests := []struct {
		name   string
		client Client
		pass   bool
		detail string // a failure's detail names this
		actual string // Actual names this
		noData bool
	}{
		{name: "the profile", pass: true, client: Client{Conns: append(failedAt(0, 100, 260, 516), established(926)), End: at(1000)}},
		{name: "jitter's low edge", pass: true, client: Client{Conns: append(failedAt(0, 100, 228, 433), established(761)), End: at(800)}},
		{name: "no growth", client: Client{Conns: append(failedAt(0, 100, 200, 300), established(700)), End: at(800)}, detail: "a connection attempt 100.0ms after failure 3 in a row, want at least 204.8ms"},
		{name: "hot loop", client: Client{Conns: append(failedAt(0, 1, 2, 3, 4, 5, 6), established(7)), End: at(800)}, detail: "a hot loop: 7 attempts after failures, mean pause 1.0ms, 7 in a row"},
		{name: "too slow is reported", pass: true, client: Client{Conns: append(failedAt(0, 100, 1500), established(1800)), End: at(1900)}, actual: "longer than the profile"},
		{name: "gave up", client: Client{Conns: failedAt(0, 100, 260), End: at(5000)}, detail: "gave up: no attempt for 4739.0ms after 3 failed"},
		{name: "still trying at the end", pass: true, client: Client{Conns: failedAt(0, 100, 260), End: at(300)}},
		{name: "resubscribes backed off", pass: true, client: Client{Conns: []relay.ConnRecord{established(0)}, Streams: []relay.StreamRecord{
			{Method: subscribe, ID: 1, Opened: at(0), Closed: at(10), EndedBy: relay.EndedByServer, HasStatus: true, Code: codes.Unavailable},
			{Method: subscribe, ID: 3, Opened: at(110), Closed: at(120), EndedBy: relay.EndedByRelay, HasStatus: true, Code: codes.Unavailable},
			{Method: subscribe, ID: 5, Opened: at(290)},
		}, End: at(400)}},
		{name: "resubscribe at once", client: Client{Conns: []relay.ConnRecord{established(0)}, Streams: []relay.StreamRecord{
			{Method: subscribe, ID: 1, Opened: at(0), Closed: at(10), EndedBy: relay.EndedByServer, HasStatus: true, Code: codes.Unavailable},
			{Method: subscribe, ID: 3, Opened: at(15)},
		}, End: at(400)}, detail: "a resubscribe 5.0ms after failure 1"},
		{name: "at once after a stream that delivered", pass: true, client: Client{Conns: []relay.ConnRecord{established(0)}, Streams: []relay.StreamRecord{
			{Method: subscribe, ID: 1, Opened: at(0), Closed: at(10), EndedBy: relay.EndedByServer, HasStatus: true, Code: codes.Unavailable, Messages: [2]int{1, 5}},
			{Method: subscribe, ID: 3, Opened: at(11), Closed: at(12), EndedBy: relay.EndedByRelay, HasStatus: true, Code: codes.Unavailable},
			{Method: subscribe, ID: 5, Opened: at(112)},
		}, End: at(400)}},
		{name: "a cut connection's stream is the connection's failure", noData: true, client: Client{Conns: []relay.ConnRecord{established(0)}, Streams: []relay.StreamRecord{
			{Method: subscribe, ID: 1, Opened: at(0), Closed: at(10), EndedBy: relay.EndedByConn},
			{Method: subscribe, ID: 3, Opened: at(11)},
		}, End: at(400)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.client.Name = "c9"
			v := Backoff([]Client{tt.client}, subscribe, p)
			if tt.noData {
				if v.Pass || !strings.HasPrefix(v.Detail, "no data") {
					t.Fatalf("want no data: %+v", v)
				}
				return
			}
			if v.Pass != tt.pass || !strings.Contains(v.Detail, tt.detail) || !strings.Contains(v.Actual, tt.actual) {
				t.Fatalf("pass %v (want %v), detail %q (want %q), actual %q (want %q)", v.Pass, tt.pass, v.Detail, tt.detail, v.Actual, tt.actual)
			}
			if !tt.pass && !strings.Contains(v.Detail, "client c9") {
				t.Errorf("detail %q does not name the client", v.Detail)
			}
		})
	}
}

func TestHerdRules(t *testing.T) {
	p := Profile{Base: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, Max: 2 * time.Second}
	// Attempts at 0, base, then pauses 160 and 256 ms jittered by these
	// fractions of their ±20 %.
	fleet := func(jitters ...[2]float64) []Client {
		var out []Client
		for i, j := range jitters {
			t3 := 100 + 160*(1+0.2*j[0])
			t4 := t3 + 256*(1+0.2*j[1])
			out = append(out, Client{Name: string(rune('a' + i)), Conns: failedAt(1, 101, t3, t4)})
		}
		return out
	}
	tests := []struct {
		name    string
		clients []Client
		pass    bool
	}{
		{name: "dispersed", pass: true, clients: fleet([2]float64{-0.9, 0.4}, [2]float64{0.8, -0.7}, [2]float64{0.1, 0.9}, [2]float64{-0.3, -0.2})},
		{name: "lockstep", clients: fleet([2]float64{0, 0}, [2]float64{0.01, 0}, [2]float64{0, -0.01}, [2]float64{0, 0})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Herd(tt.clients, t0, p, 0)
			if v.Pass != tt.pass || !strings.Contains(v.Actual, "4 clients") || !strings.Contains(v.Actual, "per 100ms") {
				t.Fatalf("%+v", v)
			}
		})
	}
	if v := Herd(fleet([2]float64{0, 0}, [2]float64{0, 0}), t0, p, 0); v.Pass || !strings.HasPrefix(v.Detail, "no data") {
		t.Errorf("two clients: %+v", v)
	}
}

func TestResumeRules(t *testing.T) {
	stream := func(id uint32, opened float64, ended relay.EndedBy, resume, first, last uint64) relay.StreamRecord {
		return relay.StreamRecord{Method: subscribe, ID: id, Conn: 1, Opened: at(opened), Closed: at(opened + 50), EndedBy: ended,
			Seq: relay.SeqRecord{Resume: resume, HasResume: true, First: first, Last: last, Count: int(last - first + 1)}}
	}
	tests := []struct {
		name   string
		second relay.StreamRecord
		first  relay.EndedBy
		pass   bool
		detail string
	}{
		{name: "exact", second: stream(3, 100, "", 11, 11, 20), first: relay.EndedByConn, pass: true},
		{name: "overlap", second: stream(3, 100, "", 8, 8, 20), first: relay.EndedByConn, detail: "client c9: resubscribe (connection 1, stream 3) overlap 3 (last delivered before 10, first after 8, asked from 8)"},
		{name: "gap", second: stream(3, 100, "", 15, 15, 20), first: relay.EndedByConn, detail: "gap 4"},
		{name: "restart", second: stream(3, 100, "", 0, 30, 40), first: relay.EndedByConn, detail: "restart 19"},
		{name: "overlap after the client's cancel", second: stream(3, 100, "", 10, 10, 20), first: relay.EndedByClientReset, pass: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Client{Name: "c9", Streams: []relay.StreamRecord{tt.second, stream(1, 0, tt.first, 0, 1, 10)}}
			v := Resume([]Client{c}, subscribe)
			if v.Pass != tt.pass || !strings.Contains(v.Detail, tt.detail) {
				t.Fatalf("pass %v detail %q, want %v %q", v.Pass, v.Detail, tt.pass, tt.detail)
			}
		})
	}
}

func TestZombiesRules(t *testing.T) {
	s := func(id uint32, opened, closed float64) relay.StreamRecord {
		r := relay.StreamRecord{Method: subscribe, ID: id, Conn: 1, Opened: at(opened), EndedBy: relay.EndedByClientReset}
		if closed < 0 {
			r.EndedBy = ""
		} else {
			r.Closed = at(closed)
		}
		return r
	}
	tests := []struct {
		name    string
		streams []relay.StreamRecord
		max     int
		pass    bool
		detail  string
	}{
		{name: "one at a time", streams: []relay.StreamRecord{s(1, 0, 100), s(3, 100, 200)}, pass: true},
		{name: "make before break within the overlap", streams: []relay.StreamRecord{s(1, 0, 150), s(3, 100, 200)}, pass: true},
		{name: "zombie", streams: []relay.StreamRecord{s(1, 0, 2000), s(3, 100, 200)}, detail: "stayed open 1900.0ms after the client opened stream 3"},
		{name: "two allowed", max: 2, streams: []relay.StreamRecord{s(1, 0, 2000), s(3, 100, 2000)}, pass: true},
		{name: "left open", streams: []relay.StreamRecord{s(1, 0, -1)}, detail: "1 streams of /streambench.v1.Longlived/Subscribe left open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Zombies([]Client{{Name: "c9", Streams: tt.streams, End: at(3000)}}, subscribe, tt.max, 500*time.Millisecond)
			if v.Pass != tt.pass || !strings.Contains(v.Detail, tt.detail) || (!tt.pass && !strings.Contains(v.Detail, "client c9")) {
				t.Fatalf("pass %v detail %q, want %v %q", v.Pass, v.Detail, tt.pass, tt.detail)
			}
		})
	}
}

func TestKeepaliveRules(t *testing.T) {
	ping := func(ms float64, server uint64) relay.ControlFrame {
		return relay.ControlFrame{At: at(ms), Dir: relay.ClientToServer, Type: http2.FramePing, ServerFrames: server}
	}
	calm := relay.ControlFrame{At: at(1), Dir: relay.ServerToClient, Type: http2.FrameGoAway, Code: http2.ErrCodeEnhanceYourCalm, Debug: "too_many_pings"}
	tests := []struct {
		name    string
		control []relay.ControlFrame
		pass    bool
		detail  string
	}{
		{name: "spaced", control: []relay.ControlFrame{ping(0, 0), ping(10000, 0), ping(20000, 0)}, pass: true},
		{name: "data between", control: []relay.ControlFrame{ping(0, 0), ping(1, 1), ping(2, 2), ping(3, 3)}, pass: true},
		{name: "strikes", control: []relay.ControlFrame{ping(0, 0), ping(1, 0), ping(2, 0), ping(3, 0)}, detail: "client c9: 3 pings on connection 1"},
		{name: "two strikes tolerated", control: []relay.ControlFrame{ping(0, 0), ping(1, 0), ping(2, 0)}, pass: true},
		{name: "the server's too_many_pings", control: []relay.ControlFrame{calm}, detail: "too_many_pings 1 times"},
		{name: "the relay's own too_many_pings is a fault, not evidence", control: []relay.ControlFrame{func() relay.ControlFrame { c := calm; c.ByRelay = true; return c }()}, pass: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Client{Name: "c9", Conns: []relay.ConnRecord{{ID: 1, Opened: at(0), Control: tt.control}}}
			v := Keepalive([]Client{c}, 5*time.Second, 2)
			if v.Pass != tt.pass || !strings.Contains(v.Detail, tt.detail) {
				t.Fatalf("pass %v detail %q, want %v %q", v.Pass, v.Detail, tt.pass, tt.detail)
			}
		})
	}
}

func TestGoAwayRules(t *testing.T) {
	goaway := relay.ControlFrame{At: at(100), Dir: relay.ServerToClient, Type: http2.FrameGoAway, Code: http2.ErrCodeNo, LastStreamID: 1}
	old := relay.ConnRecord{ID: 1, Opened: at(0), Closed: at(700), Control: []relay.ControlFrame{goaway}}
	s := func(conn uint64, id uint32, opened, closed float64) relay.StreamRecord {
		return relay.StreamRecord{Method: subscribe, Conn: conn, ID: id, Opened: at(opened), Closed: at(closed), EndedBy: relay.EndedByClientReset}
	}
	tests := []struct {
		name    string
		streams []relay.StreamRecord
		pass    bool
		detail  string
	}{
		{name: "moved", streams: []relay.StreamRecord{s(1, 1, 0, 130), s(2, 1, 131, 900)}, pass: true},
		{name: "moved late", streams: []relay.StreamRecord{s(1, 1, 0, 600), s(2, 1, 650, 900)}, detail: "moved 550.0ms after the GOAWAY, after the grace (500.0ms)"},
		{name: "never moved", streams: []relay.StreamRecord{s(1, 1, 0, 600)}, detail: "never moved"},
		{name: "opened on the old connection", streams: []relay.StreamRecord{s(1, 1, 0, 130), s(1, 3, 140, 150), s(2, 1, 160, 900)}, detail: "opened stream 3 on connection 1 40.0ms after its GOAWAY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Client{Name: "c9", Conns: []relay.ConnRecord{old, {ID: 2, Opened: at(131)}}, Streams: tt.streams}
			v := GoAway([]Client{c}, subscribe, 500*time.Millisecond)
			if v.Pass != tt.pass || !strings.Contains(v.Detail, tt.detail) || (!tt.pass && !strings.Contains(v.Detail, "client c9")) {
				t.Fatalf("pass %v detail %q, want %v %q", v.Pass, v.Detail, tt.pass, tt.detail)
			}
		})
	}
}
