package relay

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// Stage is how far a connection attempt got.
type Stage uint8

const (
	// StageAccepted: the TCP (or TLS) connection was accepted.
	StageAccepted Stage = iota + 1
	// StagePreface: the client's HTTP/2 connection preface was read.
	StagePreface
	// StageSettings: the client's first SETTINGS frame was read.
	StageSettings
	// StageStream: the client opened its first stream.
	StageStream
)

// numStages sizes ConnRecord.Reached (index 0 unused).
const numStages = int(StageStream) + 1

// String names the stage as reports do.
func (s Stage) String() string {
	switch s {
	case StageAccepted:
		return "accepted"
	case StagePreface:
		return "preface"
	case StageSettings:
		return "settings"
	case StageStream:
		return "stream"
	}
	return "none"
}

// ConnEnd says how a connection attempt ended.
//
// Every accepted connection is a connection attempt, and its ConnRecord
// is the attempt's evidence: the stages it reached, when, and how it
// ended (ConnEnd), whether or not the upstream is up.
//
// What a client sees when the upstream is down (measured with grpc-go
// v1.85 over loopback, TestUpstreamDownSeenByClient): the relay accepts
// the TCP connection, fails to dial the upstream (a refused connection
// takes well under a millisecond on loopback) and closes the client's
// connection before sending it anything — no SETTINGS, no GOAWAY, no
// stream reaches it. The client has sent its preface and SETTINGS
// already; the relay has not read them, so the kernel answers the close
// with an RST (with a ConnFaults set the relay has read them before it
// dials, and the close is a FIN). grpc-go reports "error reading server
// preface: EOF", "connection reset by peer" or "write: broken pipe" (the
// RST reached it as it wrote), counts it as a failed connection attempt
// (the server's SETTINGS never came, so its backoff is not reset) and
// its RPCs fail with Unavailable: a refused connection, as far as the
// client can tell, never Unavailable streams on a live connection. The
// attempt's record says EndUpstreamDown, at StageAccepted or
// StagePreface (StageSettings with a ConnFaults). A live
// connection whose upstream goes away (a server restart) is different:
// its client gets the upstream's own GOAWAY if the server sent one, then
// the end of the TCP connection, and its open streams end with
// Unavailable; the record ends EndUpstreamClosed or EndError.
type ConnEnd string

const (
	// EndClientClosed: the client closed its side first.
	EndClientClosed ConnEnd = "client_closed"
	// EndUpstreamClosed: the upstream closed its side first.
	EndUpstreamClosed ConnEnd = "upstream_closed"
	// EndUpstreamDown: the upstream could not be dialled (refused,
	// unreachable, timed out); the client got nothing but the close.
	EndUpstreamDown ConnEnd = "upstream_down"
	// EndFault: a connection-stage fault ended it (ConnRecord.Fault).
	EndFault ConnEnd = "fault"
	// EndRelayClosed: the relay's Close ended it.
	EndRelayClosed ConnEnd = "relay_closed"
	// EndError: a malformed frame, a failed write, a preface timeout
	// (ConnRecord.Err).
	EndError ConnEnd = "error"
)

// ConnFaultKind is what a connection-stage fault does.
type ConnFaultKind uint8

const (
	// ConnPass lets the connection go on.
	ConnPass ConnFaultKind = iota
	// ConnRefuse resets the connection: SO_LINGER 0 and close, so the
	// client gets an RST (at StageAccepted, a refused connection as far
	// as the client can tell after its connect returned).
	ConnRefuse
	// ConnClose closes the connection gracefully (a FIN, what the client
	// sent is drained for up to Config.Linger).
	ConnClose
	// ConnHold accepts and never answers: nothing is read or written
	// until ConnAction.Release is closed, ConnAction.Hold has passed
	// (MaxHold at most) or the relay closes; then the connection is
	// closed as ConnClose does.
	ConnHold
	// ConnGoAway sends the client GOAWAY NO_ERROR with the last stream
	// it opened, as a server's max connection age does, and closes the
	// connection ConnAction.Grace later: streams the client opened
	// before it go on meanwhile; streams opened after it are refused
	// (trailers with Unavailable to the client, CANCEL upstream).
	ConnGoAway
	// ConnTooManyPings sends GOAWAY ENHANCE_YOUR_CALM with the debug
	// data "too_many_pings", as a grpc-go server does to a client that
	// pings more often than its policy permits, and closes the
	// connection at once.
	ConnTooManyPings
)

// String names the kind as reports do.
func (k ConnFaultKind) String() string {
	switch k {
	case ConnRefuse:
		return "refuse"
	case ConnClose:
		return "close"
	case ConnHold:
		return "hold"
	case ConnGoAway:
		return "goaway"
	case ConnTooManyPings:
		return "too_many_pings"
	}
	return "pass"
}

// MaxHold bounds how long ConnHold holds a connection.
const MaxHold = 5 * time.Minute

// ConnAction is what a ConnFaults asks of a connection at a stage. The
// zero ConnAction lets it go on.
type ConnAction struct {
	Kind ConnFaultKind
	// Name is recorded in ConnRecord.Fault (default: Kind's name).
	Name string
	// Hold bounds ConnHold (0 or above MaxHold: MaxHold).
	Hold time.Duration
	// Release, if not nil, ends a ConnHold when it is closed: the fault
	// window's end.
	Release <-chan struct{}
	// Grace is how long ConnGoAway lets the connection live after its
	// GOAWAY (0: Config.Linger).
	Grace time.Duration
}

func (a ConnAction) name() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Kind.String()
}

// Attempt names a connection attempt for ConnFaults.
type Attempt struct {
	// Conn is the relay's number of the connection, from 1.
	Conn uint64
	// Client is the client's address.
	Client string
	// Accepted is when the relay accepted it.
	Accepted time.Time
}

// ConnFaults decides what happens to connections at each stage. The
// relay asks it at StageAccepted, StagePreface and StageSettings before
// it dials the upstream, and at StageStream as the client's first stream
// opens (only ConnGoAway, ConnTooManyPings, ConnClose and ConnRefuse act
// there). It is asked from each connection's goroutine: it must be safe
// for concurrent use and quick. While the relay has a ConnFaults, it
// reads the client's preface and SETTINGS before it dials the upstream.
type ConnFaults interface {
	Stage(a Attempt, s Stage) ConnAction
}

// ConnFaultsFunc adapts a function to ConnFaults.
type ConnFaultsFunc func(Attempt, Stage) ConnAction

// Stage calls f.
func (f ConnFaultsFunc) Stage(a Attempt, s Stage) ConnAction { return f(a, s) }

// StageFault is a ConnFaults that acts on every connection at one stage.
type StageFault struct {
	// At is the stage it acts at.
	At Stage
	// Action is what it does there.
	Action ConnAction
}

// Stage returns f.Action at f.At.
func (f StageFault) Stage(_ Attempt, s Stage) ConnAction {
	if s == f.At {
		return f.Action
	}
	return ConnAction{}
}

// connFaultsBox lets an interface value sit in an atomic.Pointer.
type connFaultsBox struct{ f ConnFaults }

// SetConnFaults switches the connection-stage faults new connections
// (and the first streams of live ones) are asked about; nil switches
// them off. Safe while the relay runs.
func (r *Relay) SetConnFaults(f ConnFaults) {
	if f == nil {
		r.connFaults.Store(nil)
		return
	}
	r.connFaults.Store(&connFaultsBox{f})
}

func (r *Relay) loadConnFaults() ConnFaults {
	if b := r.connFaults.Load(); b != nil {
		return b.f
	}
	return nil
}

// GoAway sends GOAWAY (code, debug) to every live client connection
// that has relayed its SETTINGS, with the last stream each client opened,
// and closes each grace later (0: at once, once the frame is written):
// what a server's max connection age (NO_ERROR) or keepalive enforcement
// (ENHANCE_YOUR_CALM, "too_many_pings") does to the connections it has.
// It returns how many connections it sent it to.
func (r *Relay) GoAway(code http2.ErrCode, debug string, grace time.Duration) int {
	r.mu.Lock()
	live := r.liveConns()
	r.mu.Unlock()
	n := 0
	for _, c := range live {
		name := "goaway"
		if code == http2.ErrCodeEnhanceYourCalm {
			name = "too_many_pings"
		}
		if c.goAway(code, debug, grace, name) {
			n++
		}
	}
	return n
}

// faultEnd is the error of a connection a connection-stage fault ended.
type faultEnd struct{ name string }

func (e *faultEnd) Error() string { return "connection fault " + e.name }

// errDial marks a failed upstream dial.
var errDial = errors.New("dial upstream")

// reachLocked notes that the connection reached s now; c.mu is held.
func (c *conn) reachLocked(s Stage) {
	if c.rec.Reached[s].IsZero() {
		c.rec.Reached[s] = time.Now()
	}
	if s > c.rec.Stage {
		c.rec.Stage = s
	}
}

func (c *conn) reach(s Stage) {
	c.mu.Lock()
	c.reachLocked(s)
	c.mu.Unlock()
}

// attempt is the connection as ConnFaults sees it.
func (c *conn) attempt() Attempt {
	return Attempt{Conn: c.id, Client: c.rec.Client, Accepted: c.rec.Opened}
}

// admit asks the connection-stage faults about the connection before
// the upstream is dialled: at accept, then (peeking, so the relay still
// forwards them) at the client's preface and at its SETTINGS. A nil
// error lets the connection go on.
func (c *conn) admit() error {
	f := c.r.loadConnFaults()
	if f == nil {
		return nil
	}
	c.cbr = bufio.NewReaderSize(c.client, 32<<10)
	if err := c.act(f.Stage(c.attempt(), StageAccepted), StageAccepted); err != nil {
		return err
	}
	if err := c.client.SetReadDeadline(time.Now().Add(c.r.cfg.PrefaceTimeout)); err != nil {
		return fmt.Errorf("client preface: %w", err)
	}
	p, err := c.cbr.Peek(len(http2.ClientPreface))
	if err != nil {
		return fmt.Errorf("client preface: %w", err)
	}
	if string(p) != http2.ClientPreface {
		return fmt.Errorf("client preface: %q is not HTTP/2 with prior knowledge (h2c)", p)
	}
	c.reach(StagePreface)
	if err := c.act(f.Stage(c.attempt(), StagePreface), StagePreface); err != nil {
		return err
	}
	n := len(http2.ClientPreface)
	h, err := c.cbr.Peek(n + frameHeaderLen)
	if err != nil {
		return fmt.Errorf("client settings: %w", err)
	}
	h = h[n:]
	if http2.FrameType(h[3]) != http2.FrameSettings {
		return fmt.Errorf("client settings: the first frame is %v", http2.FrameType(h[3]))
	}
	length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	if length > c.cbr.Size()-n-frameHeaderLen {
		return fmt.Errorf("client settings: a %d-byte SETTINGS frame", length)
	}
	if _, err := c.cbr.Peek(n + frameHeaderLen + length); err != nil {
		return fmt.Errorf("client settings: %w", err)
	}
	c.reach(StageSettings)
	if err := c.act(f.Stage(c.attempt(), StageSettings), StageSettings); err != nil {
		return err
	}
	if err := c.client.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("client preface: %w", err)
	}
	return nil
}

// act carries out a before the upstream is dialled; a non-nil error
// ends the connection.
func (c *conn) act(a ConnAction, at Stage) error {
	if a.Kind == ConnPass {
		return nil
	}
	c.mu.Lock()
	c.rec.Fault = a.name()
	c.mu.Unlock()
	end := &faultEnd{name: a.name() + " at " + at.String()}
	switch a.Kind {
	case ConnRefuse:
		c.reset()
		return end
	case ConnHold:
		hold := a.Hold
		if hold <= 0 || hold > MaxHold {
			hold = MaxHold
		}
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-t.C:
		case <-a.Release:
		case <-c.done:
			return errRelayClosed
		}
	case ConnGoAway, ConnTooManyPings:
		// No upstream yet: the relay is the server the client sees.
		code, debug := http2.ErrCodeNo, ""
		if a.Kind == ConnTooManyPings {
			code, debug = http2.ErrCodeEnhanceYourCalm, "too_many_pings"
		}
		fr := http2.NewFramer(c.client, nil)
		_ = c.client.SetWriteDeadline(time.Now().Add(c.r.cfg.WriteTimeout))
		if err := fr.WriteSettings(); err == nil {
			_ = fr.WriteGoAway(0, code, []byte(debug))
		}
		c.mu.Lock()
		c.control(ControlFrame{At: time.Now(), Dir: ServerToClient, Type: http2.FrameGoAway, Code: code, Debug: debug, ByRelay: true})
		c.mu.Unlock()
	}
	c.closeGently()
	return end
}

// reset makes the client's connection end with an RST.
func (c *conn) reset() {
	nc := c.client
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok { // TLS
		nc = t.NetConn()
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// closeGently sends the client a FIN and reads what it still sends for
// up to Config.Linger, so the close is not an RST for unread bytes.
func (c *conn) closeGently() {
	if cw, ok := c.client.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.client.SetReadDeadline(time.Now().Add(c.r.cfg.Linger))
	var src io.Reader = c.client
	if c.cbr != nil {
		src = c.cbr
	}
	_, _ = io.Copy(io.Discard, src)
}

// opened is told that the client opened stream s (its headers
// forwarded): the first stream is StageStream, asked of ConnFaults; a
// stream opened after the relay's GOAWAY is refused.
func (c *conn) opened(s *stream) error {
	c.mu.Lock()
	first := c.rec.Reached[StageStream].IsZero()
	c.reachLocked(StageStream)
	refuse := c.goneAway && s.id > c.goAwayLast
	if refuse {
		s.rec.AfterGoAway = true
	}
	c.mu.Unlock()
	if refuse {
		return c.abort(s, &Abort{Code: codes.Unavailable, Message: "relay: stream opened after GOAWAY"})
	}
	if !first {
		return nil
	}
	f := c.r.loadConnFaults()
	if f == nil {
		return nil
	}
	a := f.Stage(c.attempt(), StageStream)
	switch a.Kind {
	case ConnGoAway:
		c.goAway(http2.ErrCodeNo, "", a.Grace, a.name())
	case ConnTooManyPings:
		c.goAway(http2.ErrCodeEnhanceYourCalm, "too_many_pings", 0, a.name())
	case ConnRefuse, ConnClose:
		c.mu.Lock()
		c.rec.Fault = a.name()
		c.mu.Unlock()
		if a.Kind == ConnRefuse {
			c.reset()
		}
		return &faultEnd{name: a.name() + " at " + StageStream.String()}
	}
	return nil
}

// goAway sends the client GOAWAY with the last stream it opened and
// closes the connection grace later (0 for ENHANCE_YOUR_CALM: once
// written); false when the connection is not relaying yet or has had a
// GOAWAY from the relay already.
func (c *conn) goAway(code http2.ErrCode, debug string, grace time.Duration, name string) bool {
	c.mu.Lock()
	if c.goneAway || c.closed || c.rec.Established.IsZero() { // Established: toClient is set
		c.mu.Unlock()
		return false
	}
	c.goneAway, c.goAwayLast = true, c.lastStream
	c.rec.Fault = name
	last := c.lastStream
	c.control(ControlFrame{At: time.Now(), Dir: ServerToClient, Type: http2.FrameGoAway, Code: code,
		LastStreamID: last, Debug: debug, ByRelay: true})
	c.wg.Add(1)
	c.mu.Unlock()
	err := c.toClient.do(true, func() error { return c.toClient.fr.WriteGoAway(last, code, []byte(debug)) })
	switch {
	case code != http2.ErrCodeNo:
		grace = 0
	case grace <= 0:
		grace = c.r.cfg.Linger
	}
	end := &faultEnd{name: name}
	go func() {
		defer c.wg.Done()
		if err == nil && grace > 0 {
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-t.C:
			case <-c.done:
				return
			}
		}
		// The client reads the GOAWAY before the FIN; the upstream sees
		// its connection end as at a server's close.
		c.toClient.closeWrite()
		t := time.NewTimer(c.r.cfg.Linger)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.done:
		}
		c.close(end)
	}()
	return true
}

// finish sets how the attempt ended from err, the connection's error.
func (c *conn) finish(rec *ConnRecord, err error) {
	var fe *faultEnd
	switch {
	case errors.As(err, &fe) || c.rec.Fault != "":
		rec.End = EndFault
	case errors.Is(err, errRelayClosed):
		rec.End = EndRelayClosed
	case errors.Is(err, errDial):
		rec.End = EndUpstreamDown
	case err == nil && c.eof == ServerToClient+1:
		rec.End = EndUpstreamClosed
	case err == nil:
		rec.End = EndClientClosed
	default:
		rec.End = EndError
	}
}

// sawEOF notes which side closed first.
func (c *conn) sawEOF(d Dir) {
	c.mu.Lock()
	if c.eof == 0 {
		c.eof = d + 1
	}
	c.mu.Unlock()
}

// attemptState is a conn's connection-attempt state; conn.mu guards it
// but for serverFrames and cbr (set before the readers start).
type attemptState struct {
	cbr          *bufio.Reader // the client's reader, when admit peeked
	goneAway     bool          // the relay sent its GOAWAY
	goAwayLast   uint32
	eof          Dir // 1 + the direction whose sender closed first
	serverFrames atomic.Uint64
}

// settingsLocked notes a SETTINGS frame read in dir; c.mu is held.
func (c *conn) settingsLocked(dir Dir, ack bool) {
	if ack {
		return
	}
	if dir == ClientToServer {
		c.reachLocked(StageSettings)
	} else if c.rec.Established.IsZero() {
		c.rec.Established = time.Now()
	}
}
