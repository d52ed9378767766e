package relay

import "encoding/binary"

// prefixLen is the size of a gRPC message's prefix: one flag byte
// (compressed or not) and a four-byte big-endian length.
const prefixLen = 5

// BoundaryKind says whether a Boundary is a message's start or its end.
type BoundaryKind uint8

const (
	// MessageStart is the first byte of a message's prefix.
	MessageStart BoundaryKind = iota + 1
	// MessageEnd is one past a message's last byte.
	MessageEnd
)

// Boundary is where a gRPC message starts or ends in a slice fed to a
// Parser.
type Boundary struct {
	Kind BoundaryKind
	// Offset is the boundary's index in the slice fed: a start's first
	// prefix byte, one past an end's last byte.
	Offset int
	// Compressed is the message's flag byte, non-zero (the flag is its
	// first byte, so a start knows it too).
	Compressed bool
	// Length is the message's length as its prefix says (ends only).
	Length uint32
}

// Parser finds the gRPC messages in one direction of one stream: it is
// fed the DATA frames' payloads in order, in slices of any size (a
// message may span slices, a slice may hold several messages), and
// reports each message's start and end. It holds five bytes at most and
// never copies the messages. The zero value is ready to use.
type Parser struct {
	hdr  [prefixLen]byte
	hn   int    // prefix bytes seen of the current message
	left uint32 // body bytes still to come once the prefix is whole

	// Messages and Compressed count the messages that ended, and those
	// of them whose flag said compressed.
	Messages, Compressed int
}

// Feed parses b, calling emit for every boundary in it, in order.
func (p *Parser) Feed(b []byte, emit func(Boundary)) {
	i := 0
	for i < len(b) {
		if p.hn < prefixLen {
			if p.hn == 0 {
				emit(Boundary{Kind: MessageStart, Offset: i, Compressed: b[i] != 0})
			}
			n := copy(p.hdr[p.hn:], b[i:])
			p.hn += n
			i += n
			if p.hn < prefixLen {
				return
			}
			p.left = binary.BigEndian.Uint32(p.hdr[1:])
		}
		take := uint32(len(b) - i)
		if take > p.left {
			take = p.left
		}
		p.left -= take
		i += int(take)
		if p.left > 0 {
			return
		}
		compressed := p.hdr[0] != 0
		emit(Boundary{Kind: MessageEnd, Offset: i, Compressed: compressed, Length: binary.BigEndian.Uint32(p.hdr[1:])})
		p.Messages++
		if compressed {
			p.Compressed++
		}
		p.hn = 0
	}
}

// Partial says a message has started and not ended: a stream that ends
// now ends mid-message.
func (p *Parser) Partial() bool { return p.hn > 0 }
