package relay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
)

const (
	// frameHeaderLen is the size of an HTTP/2 frame's header.
	frameHeaderLen = 9
	// maxFrame is the largest frame HTTP/2 allows: the relay reads what
	// the peers agreed to, whatever they agreed.
	maxFrame = 1<<24 - 1
	// maxBlock bounds a header block the relay accumulates (gRPC's
	// default header list limit is 16 MiB).
	maxBlock = 16 << 20
	// maxTable bounds the HPACK table size the relay's decoders accept
	// (a peer's SETTINGS_HEADER_TABLE_SIZE, 4096 by default).
	maxTable = 16 << 20
	// tombAge is how long an aborted stream is remembered, so that its
	// late frames are dropped rather than forwarded.
	tombAge = 10 * time.Second
)

// conn relays one client connection to its upstream connection.
//
// Its goroutines: serve (the relay's), which reads the client's frames
// and waits for the rest; the reader of the upstream's frames; a drainer
// per stream and direction while that stream holds frames. Close ends
// them all: the sockets close (readers and writers fail), done closes
// and cond broadcasts (drainers return).
type conn struct {
	r              *Relay
	id             uint64
	client, up     net.Conn
	toUp, toClient *writer
	dirs           [2]*direction
	done           chan struct{}
	closeOnce      sync.Once
	wg             sync.WaitGroup // drainers

	mu         sync.Mutex
	cond       *sync.Cond // header block turns, held bytes, closing
	closed     bool
	err        error
	streams    map[uint32]*stream
	lastStream uint32 // the highest stream the client opened
	rec        ConnRecord
	// heldReached: a held (delayed or stalled) frame of the server's
	// reached the client since the client's last PING.
	heldReached bool
	attemptState
}

// stream is one HTTP/2 stream's state; mu of its conn guards what the
// comments do not give to a reader goroutine or a writer.
type stream struct {
	id     uint32
	info   StreamInfo
	index  atomic.Int64 // messages begun, both ways
	wake   [2]chan struct{}
	rec    StreamRecord
	ended  [2]bool // END_STREAM seen by Dir
	reset  bool
	abortd bool
	gone   atomic.Bool // abortd, for the writers
	abortT time.Time

	// Each direction's reader owns its own entries.
	parser   [2]Parser
	dirIndex [2]int
	delay    [2]time.Duration // the delay of the message crossing now

	holdUntil time.Time // a stall: frames wait until then
	q         [2][]held // held frames by Dir, oldest first
	lastDue   [2]time.Time
	draining  [2]bool

	// respHeaders: a header block of the server's reached the client;
	// the client's writer's lock guards it.
	respHeaders bool
	// seqs reads sequence numbers from the messages of a stream whose
	// method Config.Seqs declares (nil otherwise).
	seqs *seqReader
}

// held is a frame waiting in a stream's queue until due.
type held struct {
	q   *qframe
	due time.Time
}

// direction is one way across a connection: a reader of its sending
// side, the writers of both sides, the HPACK decoder mirroring the
// receiver's.
type direction struct {
	c    *conn
	dir  Dir
	br   *bufio.Reader
	fr   *http2.Framer
	out  *writer // the receiving side
	back *writer // the sending side (credits)
	dec  *hpack.Decoder

	block     *qframe // a header block being read
	blockSize int
	path      string // fields of the block being decoded
	status    string
	message   string
	keep      map[string]bool   // request headers to keep (client to server)
	kept      map[string]string // those of the block being decoded

	// hbNext numbers the header blocks read, hbDone counts those
	// written: a block is written only in its turn (seq == hbDone), so
	// the receiver decodes them in the order they were encoded. held is
	// the bytes queued. conn.mu guards them.
	hbNext, hbDone uint64
	held           int64
}

func newConn(r *Relay, nc net.Conn) *conn {
	c := &conn{r: r, id: r.nextID.Add(1), client: nc, done: make(chan struct{}), streams: map[uint32]*stream{}}
	c.cond = sync.NewCond(&c.mu)
	c.rec = ConnRecord{ID: c.id, Client: nc.RemoteAddr().String(), Opened: time.Now(), Stage: StageAccepted}
	c.rec.Reached[StageAccepted] = c.rec.Opened
	return c
}

// serve dials the upstream, relays the preface, then both directions
// until a side closes or fails, and records the connection.
func (c *conn) serve() {
	err := c.run()
	c.close(err)
	c.wg.Wait()
	c.mu.Lock()
	for _, d := range c.dirs { // what the closed connection held is gone
		if d != nil {
			c.r.addHeld(-d.held)
			d.held = 0
		}
	}
	rec := c.recordLocked()
	rec.Closed = time.Now()
	c.finish(&rec, err)
	var open []StreamRecord
	for _, s := range c.streams {
		if s.rec.EndedBy == "" {
			s.rec.EndedBy = EndedByConn
			s.rec.Closed = rec.Closed
		}
		open = append(open, s.rec)
	}
	c.streams = nil
	c.mu.Unlock()
	c.r.finishConn(c, rec, open)
}

// run relays the connection; its error is why it ended (nil: a side
// closed cleanly).
func (c *conn) run() error {
	if err := c.admit(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.r.cfg.DialTimeout)
	go func() { // the relay's Close cuts a dial short
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	up, err := c.r.cfg.Dial(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("%w %s: %w", errDial, c.r.cfg.Upstream, err)
	}
	c.mu.Lock()
	c.up = up
	c.rec.Upstream = up.RemoteAddr().String()
	closed := c.closed
	c.mu.Unlock()
	if closed { // the relay closed while dialling
		_ = up.Close()
		return errRelayClosed
	}
	wt := c.r.cfg.WriteTimeout
	c.toUp, c.toClient = newWriter(up, wt, &c.r.clock), newWriter(c.client, wt, &c.r.clock)
	c.dirs[ClientToServer] = c.newDirection(ClientToServer, c.client, c.toUp, c.toClient)
	c.dirs[ServerToClient] = c.newDirection(ServerToClient, up, c.toClient, c.toUp)

	if err := c.preface(); err != nil {
		return err
	}
	ends := make(chan error, 2)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ends <- c.dirs[ServerToClient].run()
	}()
	go func() { ends <- c.dirs[ClientToServer].run() }() // serve waits for it below
	first := <-ends
	if first != nil {
		c.close(first)
		<-ends
		return first
	}
	// A side closed cleanly: its peer got a FIN after the last frame;
	// let the other side close in turn, for a while.
	t := time.NewTimer(c.r.cfg.Linger)
	defer t.Stop()
	select {
	case second := <-ends:
		return second
	case <-t.C:
		c.close(nil)
		<-ends
		return nil
	}
}

func (c *conn) newDirection(dir Dir, src net.Conn, out, back *writer) *direction {
	d := &direction{c: c, dir: dir, br: bufio.NewReaderSize(src, 32<<10), out: out, back: back}
	if dir == ClientToServer && c.cbr != nil { // admit peeked at it
		d.br = c.cbr
	}
	d.fr = http2.NewFramer(nil, d.br)
	// A DATA frame is done with before the next is read (held frames
	// own a copy): the Framer may reuse it instead of allocating one per
	// frame.
	d.fr.SetReuseFrames()
	d.fr.SetMaxReadFrameSize(maxFrame)
	d.dec = hpack.NewDecoder(4096, d.field)
	d.dec.SetAllowedMaxDynamicTableSize(maxTable)
	d.dec.SetMaxStringLength(maxBlock)
	if dir == ClientToServer && len(c.r.cfg.KeepHeaders) > 0 {
		d.keep = map[string]bool{}
		for _, h := range c.r.cfg.KeepHeaders {
			d.keep[h] = true
		}
	}
	return d
}

// preface relays the client's connection preface, which is not a frame.
func (c *conn) preface() error {
	if err := c.client.SetReadDeadline(time.Now().Add(c.r.cfg.PrefaceTimeout)); err != nil {
		return fmt.Errorf("client preface: %w", err)
	}
	p := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c.dirs[ClientToServer].br, p); err != nil {
		return fmt.Errorf("client preface: %w", err)
	}
	if string(p) != http2.ClientPreface {
		return fmt.Errorf("client preface: %q is not HTTP/2 with prior knowledge (h2c)", p)
	}
	if err := c.client.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("client preface: %w", err)
	}
	c.reach(StagePreface)
	if err := c.toUp.raw(p); err != nil {
		return fmt.Errorf("write preface upstream: %w", err)
	}
	return nil
}

// close ends the connection (once): err is why (nil: cleanly).
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.err = err
		up := c.up
		c.cond.Broadcast()
		c.mu.Unlock()
		close(c.done)
		_ = c.client.Close()
		if up != nil {
			_ = up.Close()
		}
	})
}

// record is the connection's record so far.
func (c *conn) record() ConnRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recordLocked()
}

func (c *conn) recordLocked() ConnRecord {
	rec := c.rec
	rec.Control = append([]ControlFrame(nil), c.rec.Control...)
	if c.err != nil && !errors.Is(c.err, errRelayClosed) {
		rec.Err = c.err.Error()
	}
	return rec
}

// openStreams are the records of the streams still tracked.
func (c *conn) openStreams() []StreamRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]StreamRecord, 0, len(c.streams))
	for _, s := range c.streams {
		out = append(out, s.rec)
	}
	return out
}

// control records a control frame; c.mu is held.
func (c *conn) control(f ControlFrame) {
	if len(c.rec.Control) >= maxControl {
		c.rec.ControlDropped++
		return
	}
	c.rec.Control = append(c.rec.Control, f)
}

// run forwards frames until the sending side closes (nil) or a frame
// cannot be read or written.
func (d *direction) run() error {
	for {
		f, err := d.fr.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) && d.block == nil {
				d.c.sawEOF(d.dir)
				if ferr := d.out.flush(); ferr != nil && !errors.Is(ferr, errHalfClosed) {
					return fmt.Errorf("%s: flush: %w", d.dir, ferr)
				}
				d.out.closeWrite()
				return nil
			}
			if detail := d.fr.ErrorDetail(); detail != nil {
				return fmt.Errorf("%s: read frame: %w (%v)", d.dir, err, detail)
			}
			return fmt.Errorf("%s: read frame: %w", d.dir, err)
		}
		if err := d.handle(f); err != nil {
			return fmt.Errorf("%s: %v frame on stream %d: %w", d.dir, f.Header().Type, f.Header().StreamID, err)
		}
		if !d.frameBuffered() {
			if err := d.out.flush(); err != nil {
				return fmt.Errorf("%s: flush: %w", d.dir, err)
			}
		}
	}
}

// frameBuffered says a whole frame is buffered already: the next read
// will not wait for the socket, so what was written need not be flushed
// yet (many frames go out in one write).
func (d *direction) frameBuffered() bool {
	n := d.br.Buffered()
	if n < frameHeaderLen {
		return false
	}
	h, err := d.br.Peek(frameHeaderLen)
	if err != nil {
		return false
	}
	length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	return n >= frameHeaderLen+length
}

// handle forwards one frame.
func (d *direction) handle(f http2.Frame) error {
	c := d.c
	if t := f.Header().Type; d.dir == ServerToClient && (t == http2.FrameData || t == http2.FrameHeaders) {
		c.serverFrames.Add(1) // a server's write: a client's next PING is no strike
	}
	switch f := f.(type) {
	case *http2.DataFrame:
		return d.data(f)
	case *http2.HeadersFrame:
		frag := f.HeaderBlockFragment()
		q := &qframe{typ: http2.FrameHeaders, stream: f.StreamID, end: f.StreamEnded(), data: bytes.Clone(frag)}
		if f.HasPriority() {
			q.prio = f.Priority
		}
		if f.Flags.Has(http2.FlagHeadersPadded) {
			pad := int(f.Length) - len(frag) - 1
			if f.HasPriority() {
				pad -= 5
			}
			q.pad = uint8(pad)
		}
		d.block, d.blockSize = q, len(frag)
		d.path, d.status, d.message, d.kept = "", "", "", nil
		if _, err := d.dec.Write(frag); err != nil {
			return fmt.Errorf("decode header block: %w", err)
		}
		if f.HeadersEnded() {
			return d.endBlock()
		}
		return nil
	case *http2.ContinuationFrame:
		frag := f.HeaderBlockFragment()
		d.blockSize += len(frag)
		if d.block == nil || d.blockSize > maxBlock {
			return fmt.Errorf("header block over %d bytes", maxBlock)
		}
		d.block.conts = append(d.block.conts, bytes.Clone(frag))
		if _, err := d.dec.Write(frag); err != nil {
			return fmt.Errorf("decode header block: %w", err)
		}
		if f.HeadersEnded() {
			return d.endBlock()
		}
		return nil
	case *http2.SettingsFrame:
		var set []http2.Setting
		_ = f.ForeachSetting(func(s http2.Setting) error {
			set = append(set, s)
			return nil
		})
		c.mu.Lock()
		c.control(ControlFrame{At: time.Now(), Dir: d.dir, Type: http2.FrameSettings, Ack: f.IsAck(), Settings: set})
		c.settingsLocked(d.dir, f.IsAck())
		c.mu.Unlock()
		return d.out.do(false, func() error {
			if f.IsAck() {
				return d.out.fr.WriteSettingsAck()
			}
			return d.out.fr.WriteSettings(set...)
		})
	case *http2.PingFrame:
		c.mu.Lock()
		// A client's PING sent as held frames reached it is the relay's
		// to answer (see the package doc).
		answer := d.dir == ClientToServer && !f.IsAck() && c.heldReached
		if d.dir == ClientToServer && !f.IsAck() {
			c.heldReached = false
		}
		c.control(ControlFrame{At: time.Now(), Dir: d.dir, Type: http2.FramePing, Ack: f.IsAck(), Ping: f.Data, Answered: answer,
			ServerFrames: c.serverFrames.Load()})
		c.mu.Unlock()
		if answer {
			return c.toClient.do(true, func() error { return c.toClient.fr.WritePing(true, f.Data) })
		}
		return d.out.do(false, func() error { return d.out.fr.WritePing(f.IsAck(), f.Data) })
	case *http2.GoAwayFrame:
		c.mu.Lock()
		c.control(ControlFrame{At: time.Now(), Dir: d.dir, Type: http2.FrameGoAway, Code: f.ErrCode, LastStreamID: f.LastStreamID,
			Debug: string(f.DebugData())})
		c.mu.Unlock()
		return d.out.do(false, func() error { return d.out.fr.WriteGoAway(f.LastStreamID, f.ErrCode, f.DebugData()) })
	case *http2.WindowUpdateFrame:
		q := &qframe{typ: http2.FrameWindowUpdate, stream: f.StreamID, incr: f.Increment}
		if f.StreamID == 0 {
			return d.out.frame(q, nil, false, false)
		}
		return d.streamFrame(q)
	case *http2.RSTStreamFrame:
		c.mu.Lock()
		c.control(ControlFrame{At: time.Now(), Dir: d.dir, Type: http2.FrameRSTStream, StreamID: f.StreamID, Code: f.ErrCode})
		if s := c.streams[f.StreamID]; s != nil && !s.abortd {
			s.reset = true
			if s.rec.EndedBy == "" {
				s.rec.EndedBy, s.rec.ResetCode, s.rec.Closed = EndedByClientReset, f.ErrCode, time.Now()
				if d.dir == ServerToClient {
					s.rec.EndedBy = EndedByServerReset
				}
			}
		}
		c.mu.Unlock()
		err := d.streamFrame(&qframe{typ: http2.FrameRSTStream, stream: f.StreamID, code: f.ErrCode})
		c.mu.Lock()
		if s := c.streams[f.StreamID]; s != nil {
			c.settle(s)
		}
		c.mu.Unlock()
		return err
	case *http2.PriorityFrame:
		return d.out.do(false, func() error { return d.out.fr.WritePriority(f.StreamID, f.PriorityParam) })
	case *http2.PriorityUpdateFrame:
		return d.out.do(false, func() error { return d.out.fr.WritePriorityUpdate(f.PrioritizedStreamID, f.Priority) })
	case *http2.UnknownFrame:
		return d.out.do(false, func() error { return d.out.fr.WriteRawFrame(f.Type, f.Flags, f.StreamID, f.Payload()) })
	}
	// PUSH_PROMISE: gRPC clients disable push; a server that pushes
	// anyway breaks the protocol.
	return errors.New("frame type not relayed")
}

// field keeps the fields of a header block the relay reads.
func (d *direction) field(f hpack.HeaderField) {
	switch f.Name {
	case ":path":
		d.path = f.Value
	case "grpc-status":
		d.status = f.Value
	case "grpc-message":
		d.message = f.Value
	default:
		if d.keep[f.Name] {
			if d.kept == nil {
				d.kept = map[string]string{}
			}
			if _, ok := d.kept[f.Name]; !ok {
				d.kept[f.Name] = f.Value
			}
		}
	}
}

// endBlock decodes the end of a header block and forwards the block.
func (d *direction) endBlock() error {
	if err := d.dec.Close(); err != nil {
		return fmt.Errorf("decode header block: %w", err)
	}
	q := d.block
	d.block = nil
	c := d.c
	now := time.Now()
	c.mu.Lock()
	q.seq = d.hbNext
	d.hbNext++
	s := c.streams[q.stream]
	isNew := false
	if s == nil && d.dir == ClientToServer && q.stream%2 == 1 && q.stream > c.lastStream {
		isNew = true
		c.lastStream = q.stream
		c.prune(now)
		s = &stream{id: q.stream, info: StreamInfo{Conn: c.id, ID: q.stream, Method: d.path, Headers: d.kept}}
		if c.r.cfg.Opened != nil {
			s.info.State = c.r.cfg.Opened(s.info)
		}
		s.rec = StreamRecord{Conn: c.id, ID: q.stream, Method: d.path, Opened: now}
		c.watchSeqs(s)
		s.wake = [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)}
		c.streams[q.stream] = s
		c.rec.Streams++
	}
	if s != nil && !s.abortd {
		if d.dir == ServerToClient && d.status != "" {
			code, _ := strconv.ParseUint(d.status, 10, 32)
			s.rec.HasStatus, s.rec.Code, s.rec.Message = true, codes.Code(code), decodeMessage(d.message)
		}
		if q.end {
			s.ended[d.dir] = true
			if d.dir == ServerToClient && s.rec.EndedBy == "" {
				s.rec.EndedBy, s.rec.Closed = EndedByServer, now
			}
		}
	}
	c.mu.Unlock()
	err := d.forward(s, q, 0)
	if isNew && err == nil {
		err = c.opened(s)
	}
	if s != nil && q.end {
		c.mu.Lock()
		c.settle(s)
		c.mu.Unlock()
	}
	return err
}

// prune forgets aborted streams older than tombAge; c.mu is held.
func (c *conn) prune(now time.Time) {
	for id, s := range c.streams {
		if s.abortd && now.Sub(s.abortT) > tombAge && !s.draining[0] && !s.draining[1] {
			delete(c.streams, id)
			c.r.finishStream(s.rec)
		}
	}
}

// data counts a DATA frame's messages, asks Faults about each one
// beginning, and forwards, holds or drops the frame.
func (d *direction) data(f *http2.DataFrame) error {
	c := d.c
	payload := f.Data()
	// q stays on the stack: a frame that is held is copied (enqueue).
	qv := qframe{typ: http2.FrameData, stream: f.StreamID, end: f.StreamEnded(), data: payload, flow: f.Length}
	q := &qv
	if f.Flags.Has(http2.FlagDataPadded) {
		q.padded, q.pad = true, uint8(int(f.Length)-len(payload)-1)
	}
	c.mu.Lock()
	s := c.streams[f.StreamID]
	aborted := s != nil && s.abortd
	c.mu.Unlock()
	if s == nil {
		return d.forward(nil, q, 0)
	}
	if aborted {
		return d.back.credit(q.flow)
	}
	var (
		ends, compressed int
		abortAt          = -1
		abort            *Abort
		delay            = d.delayNow(s)
		stall            time.Duration
	)
	faults := c.r.cfg.Faults
	s.parser[d.dir].Feed(payload, func(b Boundary) {
		if abortAt >= 0 {
			return
		}
		if b.Kind == MessageEnd {
			ends++
			if b.Compressed {
				compressed++
			}
			return
		}
		s.dirIndex[d.dir]++
		s.delay[d.dir] = 0
		if faults == nil {
			return
		}
		a := faults.Message(s.info, MessageInfo{Dir: d.dir, Index: int(s.index.Add(1)), DirIndex: s.dirIndex[d.dir], Compressed: b.Compressed})
		if a.Abort != nil {
			abortAt, abort = b.Offset, a.Abort
			return
		}
		s.delay[d.dir] = a.Delay
		delay = max(delay, a.Delay)
		stall = max(stall, a.Stall)
	})
	if s.seqs != nil {
		s.seqs.feed(d.dir, payload, abortAt)
	}
	c.mu.Lock()
	s.rec.Messages[d.dir] += ends
	if s.seqs != nil {
		s.seqs.record(d.dir, &s.rec)
	}
	s.rec.Compressed[d.dir] += compressed
	if stall > 0 {
		if until := time.Now().Add(stall); until.After(s.holdUntil) {
			s.holdUntil = until
		}
	}
	if q.end && abortAt < 0 {
		s.ended[d.dir] = true
	}
	c.mu.Unlock()
	if abortAt < 0 {
		err := d.forward(s, q, delay)
		if q.end {
			c.mu.Lock()
			c.settle(s)
			c.mu.Unlock()
		}
		return err
	}
	// Forward what precedes the aborted message (the end of the one
	// before), credit the sender with the rest.
	if abortAt > 0 {
		pre := qframe{typ: http2.FrameData, stream: q.stream, data: payload[:abortAt], flow: uint32(abortAt)}
		if err := d.forward(s, &pre, delay); err != nil {
			return err
		}
	}
	if err := d.back.credit(q.flow - uint32(abortAt)); err != nil {
		return fmt.Errorf("credit: %w", err)
	}
	return c.abort(s, abort)
}

// delayNow is the delay of the message crossing in d when a frame
// continues it (the reader's own state).
func (d *direction) delayNow(s *stream) time.Duration { return s.delay[d.dir] }

// streamFrame forwards a stream's WINDOW_UPDATE or RST_STREAM: behind the
// stream's held frames if it has any, dropped if the relay aborted it.
func (d *direction) streamFrame(q *qframe) error {
	c := d.c
	c.mu.Lock()
	s := c.streams[q.stream]
	aborted := s != nil && s.abortd
	c.mu.Unlock()
	if aborted {
		return nil
	}
	return d.forward(s, q, 0)
}

// forward writes q now, or queues it on its stream: when the stream
// holds frames already (order), when q is delayed or stalled, or when it
// is a header block whose turn has not come.
func (d *direction) forward(s *stream, q *qframe, delay time.Duration) error {
	c := d.c
	isBlock := q.typ == http2.FrameHeaders
	c.mu.Lock()
	if s == nil {
		// A stream the relay does not track: its block waits for its
		// turn here.
		for isBlock && q.seq != d.hbDone && !c.closed {
			c.cond.Wait()
		}
	} else {
		// The clock is read only for a stream that was ever delayed or
		// stalled: zero times otherwise (due is not after now).
		var now, due time.Time
		if delay > 0 || !s.holdUntil.IsZero() {
			now = time.Now()
			due = now.Add(delay)
			if (q.typ == http2.FrameData || isBlock) && s.holdUntil.After(due) {
				due = s.holdUntil
			}
		}
		if len(s.q[d.dir]) > 0 || due.After(now) || (isBlock && q.seq != d.hbDone) {
			d.enqueue(s, q, due)
			c.mu.Unlock()
			return nil
		}
	}
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return errRelayClosed
	}
	err := d.out.frame(q, s, d.dir == ServerToClient, false)
	if isBlock {
		c.mu.Lock()
		d.hbDone++
		c.cond.Broadcast()
		c.mu.Unlock()
	}
	switch {
	case errors.Is(err, errDropped):
		return d.back.credit(q.flow)
	case errors.Is(err, errHalfClosed):
		return nil
	}
	return err
}

// enqueue holds q on s until due (never before what is ahead of it),
// starting the stream's drainer, and waits while the direction holds
// more than MaxHeld. c.mu is held.
func (d *direction) enqueue(s *stream, q *qframe, due time.Time) {
	c := d.c
	if due.Before(s.lastDue[d.dir]) {
		due = s.lastDue[d.dir]
	}
	// The queue keeps its own copy: the caller's q may live on its
	// stack, its data in the Framer's read buffer.
	cp := new(qframe)
	*cp = *q
	cp.own()
	s.q[d.dir] = append(s.q[d.dir], held{q: cp, due: due})
	s.lastDue[d.dir] = due
	s.rec.Held++
	n := q.size()
	d.held += n
	c.r.addHeld(n)
	if !s.draining[d.dir] {
		s.draining[d.dir] = true
		c.wg.Add(1)
		go c.drain(s, d)
	}
	for d.held > c.r.cfg.MaxHeld && !c.closed {
		c.cond.Wait()
	}
}

// drain writes s's held frames in d, each when due and, for a header
// block, in its turn; an aborted stream's data is dropped and credited.
// It returns when the queue is empty or the connection closes.
func (c *conn) drain(s *stream, d *direction) {
	defer c.wg.Done()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if c.closed || len(s.q[d.dir]) == 0 {
			s.draining[d.dir] = false
			if !c.closed {
				c.settle(s)
			}
			c.mu.Unlock()
			return
		}
		h := s.q[d.dir][0]
		isBlock := h.q.typ == http2.FrameHeaders
		drop := s.abortd && !isBlock
		if !drop {
			if wait := time.Until(h.due); wait > 0 && !s.abortd {
				c.mu.Unlock()
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case <-s.wake[d.dir]:
					if !timer.Stop() {
						<-timer.C
					}
				case <-c.done:
				}
				continue
			}
			if isBlock && h.q.seq != d.hbDone {
				c.cond.Wait()
				c.mu.Unlock()
				continue
			}
			// Before the write: the client may answer the frame with a
			// PING before this goroutine could lock again.
			if d.dir == ServerToClient && h.q.typ == http2.FrameData {
				c.heldReached = true
			}
		}
		c.mu.Unlock()
		var err error
		switch {
		case drop && h.q.typ == http2.FrameData:
			err = d.back.credit(h.q.flow)
		case !drop:
			err = d.out.frame(h.q, s, d.dir == ServerToClient, true)
			if errors.Is(err, errDropped) {
				err = d.back.credit(h.q.flow)
			}
		}
		c.mu.Lock()
		s.q[d.dir][0] = held{}
		s.q[d.dir] = s.q[d.dir][1:]
		n := h.q.size()
		d.held -= n
		c.r.addHeld(-n)
		if isBlock {
			d.hbDone++
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		if err != nil && !errors.Is(err, errHalfClosed) {
			c.close(fmt.Errorf("%s: write held frame of stream %d: %w", d.dir, s.id, err))
		}
	}
}

// settle forgets a stream that ended both ways (or was reset) and holds
// nothing, keeping its record; c.mu is held.
func (c *conn) settle(s *stream) {
	if s.abortd || s.draining[0] || s.draining[1] || len(s.q[0]) > 0 || len(s.q[1]) > 0 {
		return
	}
	if s.reset || (s.ended[0] && s.ended[1]) {
		if c.streams[s.id] == s {
			delete(c.streams, s.id)
			c.r.finishStream(s.rec)
		}
	}
}

// abort ends s for the client with a status and upstream with CANCEL;
// its held frames are dropped (data credited) but for header blocks,
// which the receiver must still decode.
func (c *conn) abort(s *stream, a *Abort) error {
	c.mu.Lock()
	if s.abortd {
		c.mu.Unlock()
		return nil
	}
	now := time.Now()
	s.abortd, s.abortT = true, now
	s.gone.Store(true)
	s.rec.EndedBy, s.rec.Closed = EndedByRelay, now
	s.rec.HasStatus, s.rec.Code, s.rec.Message = true, a.Code, a.Message
	for _, w := range s.wake {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	if err := c.toClient.trailers(s, a); err != nil && !errors.Is(err, errHalfClosed) {
		return fmt.Errorf("abort stream %d: trailers to the client: %w", s.id, err)
	}
	err := c.toUp.do(true, func() error { return c.toUp.fr.WriteRSTStream(s.id, http2.ErrCodeCancel) })
	if err != nil && !errors.Is(err, errHalfClosed) {
		return fmt.Errorf("abort stream %d: reset upstream: %w", s.id, err)
	}
	return nil
}

// decodeMessage undoes grpc-message's percent-encoding; a malformed
// escape stays as it is.
func decodeMessage(m string) string {
	if !bytes.ContainsRune([]byte(m), '%') {
		return m
	}
	var b []byte
	for i := 0; i < len(m); i++ {
		if m[i] == '%' && i+2 < len(m) {
			if v, err := strconv.ParseUint(m[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 2
				continue
			}
		}
		b = append(b, m[i])
	}
	return string(b)
}
