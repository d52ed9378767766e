package relay

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// Seqs declares a stream protocol whose messages are numbered, so the
// relay records which numbers it delivered on each stream (for judging
// resumes): the response field that numbers the stream's messages and
// the request field that says where the client resumes. Streams of other
// methods are not read; without Config.Seqs nothing is.
type Seqs struct {
	// Method is the full method, e.g. "/streambench.v1.Longlived/Subscribe".
	Method string
	// Response is the number of the response's varint field that numbers
	// the stream (Update.seq: 1).
	Response protowire.Number
	// Request, if not 0, is the number of the first request's varint
	// field that says where to resume (SubscribeRequest.from_seq: 2).
	Request protowire.Number
	// MaxMessage bounds the bytes of one message the relay reads
	// (default 1 MiB); a longer or compressed message is not decoded.
	MaxMessage int
}

// SeqRecord is what the relay read of a declared stream's numbers: what
// it delivered to the client, and where the client asked to resume.
type SeqRecord struct {
	// Resume is the request's resume field; HasResume says the first
	// request was read.
	Resume    uint64
	HasResume bool
	// First and Last are the numbers of the first and the last response
	// the relay forwarded to the client; Count how many it read.
	First, Last uint64
	Count       int
	// Undecoded counts responses whose number could not be read
	// (compressed, over MaxMessage, or malformed). An absent field is
	// proto3's 0.
	Undecoded int
}

// seqReader accumulates one declared stream's messages whole, per
// direction, and reads their numbers. Each direction's reader goroutine
// owns its half.
type seqReader struct {
	spec *Seqs
	dir  [2]seqDir
	rec  SeqRecord // the reader goroutines' values, copied by record
}

type seqDir struct {
	p      Parser
	buf    []byte
	in     bool
	skip   bool
	values int // messages read so far in this direction
}

// watchSeqs gives s a seqReader when its method is declared; c.mu is
// held.
func (c *conn) watchSeqs(s *stream) {
	if sp := c.r.cfg.Seqs; sp != nil && sp.Method == s.info.Method {
		s.seqs = &seqReader{spec: sp}
	}
}

// feed reads the messages in a DATA payload; a non-negative cut is where
// an abort dropped the rest.
func (r *seqReader) feed(dir Dir, payload []byte, cut int) {
	if cut >= 0 {
		payload = payload[:cut]
	}
	if dir == ClientToServer && (r.spec.Request == 0 || r.rec.HasResume) {
		return
	}
	d := &r.dir[dir]
	limit := r.spec.MaxMessage
	if limit <= 0 {
		limit = 1 << 20
	}
	from := 0
	d.p.Feed(payload, func(b Boundary) {
		switch b.Kind {
		case MessageStart:
			d.in, d.skip, d.buf, from = true, b.Compressed, d.buf[:0], b.Offset
		case MessageEnd:
			if !d.skip && len(d.buf)+b.Offset-from <= limit+prefixLen {
				d.buf = append(d.buf, payload[from:b.Offset]...)
				r.message(dir, d.buf[prefixLen:])
			} else {
				r.message(dir, nil)
			}
			d.in = false
		}
	})
	if d.in && !d.skip {
		if len(d.buf)+len(payload)-from > limit+prefixLen {
			d.skip = true
			return
		}
		d.buf = append(d.buf, payload[from:]...)
	}
}

// message reads one whole message's number (nil: undecodable).
func (r *seqReader) message(dir Dir, body []byte) {
	field := r.spec.Response
	if dir == ClientToServer {
		field = r.spec.Request
	}
	v, ok := varintField(body, field)
	if dir == ClientToServer {
		r.rec.Resume, r.rec.HasResume = v, true // absent: proto3's zero
		return
	}
	if !ok {
		r.rec.Undecoded++
		return
	}
	if r.rec.Count == 0 {
		r.rec.First = v
	}
	r.rec.Last = v
	r.rec.Count++
}

// record copies what dir's reader read into rec; c.mu is held.
func (r *seqReader) record(dir Dir, rec *StreamRecord) {
	if dir == ClientToServer {
		rec.Seq.Resume, rec.Seq.HasResume = r.rec.Resume, r.rec.HasResume
		return
	}
	rec.Seq.First, rec.Seq.Last, rec.Seq.Count, rec.Seq.Undecoded = r.rec.First, r.rec.Last, r.rec.Count, r.rec.Undecoded
}

// varintField is the last value of a varint field in a message, 0 when
// absent (proto3's default); false: the message is malformed.
func varintField(b []byte, field protowire.Number) (uint64, bool) {
	if b == nil {
		return 0, false
	}
	var v uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == field && typ == protowire.VarintType {
			x, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return 0, false
			}
			v, b = x, b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, false
		}
		b = b[m:]
	}
	return v, true
}
