package relay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"sync"
)

// errHalfClosed is a write to a side whose end the relay closed after
// the other side closed its own: the frame is dropped.
var errHalfClosed = errors.New("side closed")

// errDropped is a frame of a stream the relay aborted: not written.
var errDropped = errors.New("stream aborted by the relay")

// padZeros is the padding written for padded frames.
var padZeros [256]byte

// qframe is a frame to forward: read from one side, written to the other
// at once or, held, later (then it owns its bytes).
type qframe struct {
	typ    http2.FrameType
	stream uint32
	end    bool   // END_STREAM (DATA, HEADERS)
	data   []byte // DATA's payload, a header block's first fragment
	padded bool   // DATA: the padded flag (its length may be 0)
	pad    uint8  // padding length
	prio   http2.PriorityParam
	conts  [][]byte      // a header block's CONTINUATION fragments
	incr   uint32        // WINDOW_UPDATE
	code   http2.ErrCode // RST_STREAM
	flow   uint32        // DATA: bytes counted by flow control
	seq    uint64        // a header block's place in its direction
}

// own copies the frame's bytes that still point into the Framer's read
// buffer (header blocks are copied as they are read).
func (q *qframe) own() {
	if q.typ == http2.FrameData {
		q.data = bytes.Clone(q.data)
	}
}

// size is what holding q costs in bytes.
func (q *qframe) size() int64 {
	n := int64(len(q.data)) + 32
	for _, c := range q.conts {
		n += int64(len(c))
	}
	return n
}

// writer writes frames to one side of a connection: the frames the
// other side sent, credits for dropped data, the relay's own trailers.
// Framer's writes are not safe for concurrent use: mu serialises them.
type writer struct {
	mu   sync.Mutex
	nc   net.Conn
	bw   *bufio.Writer
	fr   *http2.Framer
	err  error // sticky: the side failed or was closed
	enc  *hpack.Encoder
	ebuf bytes.Buffer
}

// deadlineWriter keeps a write deadline ahead of every write to the
// socket. Setting one per write cost a clock read and a runtime timer
// change per write (~14% of the relay's CPU on a saturated stream), so it
// re-arms the deadline only when the relay's coarse clock says a
// sixteenth of the timeout has passed since the last time: every write
// then has at least 7/8 of the timeout before it fails.
type deadlineWriter struct {
	nc      net.Conn
	timeout time.Duration
	clock   *coarseClock
	armed   int64 // the coarse clock when the deadline was last set; 0: never
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if now := d.clock.now(); d.armed == 0 || now-d.armed >= int64(d.timeout/rearmParts) {
		if err := d.nc.SetWriteDeadline(time.Now().Add(d.timeout)); err != nil {
			return 0, err
		}
		d.armed = now
	}
	return d.nc.Write(p)
}

func newWriter(nc net.Conn, timeout time.Duration, clock *coarseClock) *writer {
	w := &writer{nc: nc, bw: bufio.NewWriterSize(&deadlineWriter{nc: nc, timeout: timeout, clock: clock}, 32<<10)}
	w.fr = http2.NewFramer(w.bw, nil)
	// The frames were checked as they were read; the writer must not
	// refuse one the peers accept.
	w.fr.AllowIllegalWrites = true
	w.enc = hpack.NewEncoder(&w.ebuf)
	return w
}

// do runs fn, which writes with w.fr, under w's lock, and flushes if
// asked. A failure sticks: every later write fails the same way.
func (w *writer) do(flush bool, fn func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	err := fn()
	if err == nil && flush {
		err = w.bw.Flush()
	}
	if err != nil {
		w.err = err
	}
	return err
}

// flush writes what is buffered.
func (w *writer) flush() error { return w.do(true, func() error { return nil }) }

// raw writes bytes as they are (the connection preface).
func (w *writer) raw(p []byte) error {
	return w.do(true, func() error {
		_, err := w.bw.Write(p)
		return err
	})
}

// closeWrite flushes and closes w's side for writing (a FIN after the
// data); later writes are dropped.
func (w *writer) closeWrite() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	_ = w.bw.Flush()
	w.err = errHalfClosed
	if cw, ok := w.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// frame writes q; s (nil for a stream the relay does not track) learns
// that its response headers reached the client.
func (w *writer) frame(q *qframe, s *stream, toClient bool, flush bool) error {
	return w.do(flush, func() error {
		// An abort marks its stream gone before it writes the trailers
		// under this lock: nothing but header blocks follows them.
		if s != nil && q.typ != http2.FrameHeaders && s.gone.Load() {
			return errDropped
		}
		switch q.typ {
		case http2.FrameData:
			if q.padded {
				return w.fr.WriteDataPadded(q.stream, q.end, q.data, padZeros[:q.pad])
			}
			return w.fr.WriteData(q.stream, q.end, q.data)
		case http2.FrameHeaders:
			if s != nil && toClient {
				s.respHeaders = true
			}
			if err := w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: q.stream, BlockFragment: q.data,
				EndStream: q.end, EndHeaders: len(q.conts) == 0, PadLength: q.pad, Priority: q.prio}); err != nil {
				return err
			}
			for i, c := range q.conts {
				if err := w.fr.WriteContinuation(q.stream, i == len(q.conts)-1, c); err != nil {
					return err
				}
			}
			return nil
		case http2.FrameWindowUpdate:
			return w.fr.WriteWindowUpdate(q.stream, q.incr)
		case http2.FrameRSTStream:
			return w.fr.WriteRSTStream(q.stream, q.code)
		}
		return fmt.Errorf("relay: cannot forward a %v frame", q.typ)
	})
}

// credit gives a side back n bytes of connection window for data the
// relay dropped instead of forwarding.
func (w *writer) credit(n uint32) error {
	if n == 0 {
		return nil
	}
	return w.do(true, func() error { return w.fr.WriteWindowUpdate(0, n) })
}

// trailers ends s for the client with a status: the response headers'
// fields too if the client has had none (a trailers-only response).
// Every field is a never-indexed literal (at most a static table index
// for its name), so the client's HPACK table does not change.
func (w *writer) trailers(s *stream, a *Abort) error {
	return w.do(true, func() error {
		w.ebuf.Reset()
		var fields []hpack.HeaderField
		if !s.respHeaders {
			fields = append(fields, hpack.HeaderField{Name: ":status", Value: "200"},
				hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
		}
		fields = append(fields, hpack.HeaderField{Name: "grpc-status", Value: fmt.Sprint(uint32(a.Code))},
			hpack.HeaderField{Name: "grpc-message", Value: percentEncode(a.Message)})
		for _, f := range fields {
			f.Sensitive = true
			if err := w.enc.WriteField(f); err != nil {
				return err
			}
		}
		s.respHeaders = true
		return w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: s.id, BlockFragment: w.ebuf.Bytes(), EndStream: true, EndHeaders: true})
	})
}

// percentEncode encodes a grpc-message as gRPC's spec says: bytes
// outside printable ASCII and '%' as %XX. It keeps the first 1 KiB, so
// the block fits a frame of the smallest size a peer may allow.
func percentEncode(msg string) string {
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
