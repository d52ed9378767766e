package relay

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/net/http2"
)

// message is one gRPC message of a reference list.
type message struct {
	compressed bool
	body       []byte
}

// wire is the messages as they cross the wire, one after the other, and
// the boundaries a parser fed all of it must report, at offsets into it.
func wire(msgs []message) ([]byte, []Boundary) {
	var b []byte
	var want []Boundary
	for _, m := range msgs {
		flag := byte(0)
		if m.compressed {
			flag = 1
		}
		want = append(want, Boundary{Kind: MessageStart, Offset: len(b), Compressed: m.compressed})
		b = append(b, flag)
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.body)))
		b = append(b, m.body...)
		want = append(want, Boundary{Kind: MessageEnd, Offset: len(b), Compressed: m.compressed, Length: uint32(len(m.body))})
	}
	return b, want
}

// randomMessages draws a message list: mostly small messages (many in a
// frame), some empty, some larger than a frame.
func randomMessages(r *rand.Rand, n int) []message {
	msgs := make([]message, n)
	for i := range msgs {
		size := r.IntN(40)
		switch r.IntN(8) {
		case 0:
			size = 0
		case 1:
			size = 16<<10 + r.IntN(40<<10) // spans DATA frames
		}
		body := make([]byte, size)
		for j := range body {
			body[j] = byte(r.UintN(256))
		}
		msgs[i] = message{compressed: r.IntN(3) == 0, body: body}
	}
	return msgs
}

// chunks splits b into pieces whose sizes the cuts say: each cut byte is
// a piece's size (0: an empty piece; a cut larger than what is left
// takes the rest), pieces after the cuts are 16 KiB frames.
func chunks(b, cuts []byte) [][]byte {
	var out [][]byte
	for _, c := range cuts {
		n := min(int(c), len(b))
		if c == 255 { // coalesce: a large piece
			n = min(3000, len(b))
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	for len(b) > 0 {
		n := min(16<<10, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// feedAll feeds the pieces and returns the boundaries at offsets into
// their concatenation.
func feedAll(p *Parser, pieces [][]byte) []Boundary {
	var got []Boundary
	base := 0
	for _, piece := range pieces {
		p.Feed(piece, func(b Boundary) {
			b.Offset += base
			got = append(got, b)
		})
		base += len(piece)
	}
	return got
}

// throughFrames writes the pieces as DATA frames (some padded) with
// http2's Framer and reads them back, as the relay sees them.
func throughFrames(t testing.TB, pieces [][]byte, pad []byte) [][]byte {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, &buf)
	for i, piece := range pieces {
		var err error
		if i < len(pad) && pad[i]%3 == 0 {
			err = fr.WriteDataPadded(1, false, piece, make([]byte, pad[i]))
		} else {
			err = fr.WriteData(1, false, piece)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var out [][]byte
	for range pieces {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(f.(*http2.DataFrame).Data()))
	}
	return out
}

func TestParser(t *testing.T) {
	big := make([]byte, 70000)
	tests := []struct {
		name string
		msgs []message
		cuts []byte
	}{
		{name: "one message a piece", msgs: []message{{body: []byte("ab")}, {body: []byte("cde")}}, cuts: []byte{7, 8}},
		{name: "coalesced", msgs: []message{{body: []byte("ab")}, {compressed: true, body: []byte("c")}, {}}, cuts: []byte{255}},
		{name: "split prefix", msgs: []message{{body: []byte("abcdef")}, {compressed: true, body: []byte("gh")}}, cuts: []byte{1, 1, 1, 1, 1, 3, 0, 2, 5}},
		{name: "empty messages", msgs: []message{{}, {}, {compressed: true}}, cuts: []byte{5, 4, 6}},
		{name: "spans frames", msgs: []message{{body: big}, {body: []byte("x")}}, cuts: []byte{3, 100}},
		{name: "nothing", msgs: nil, cuts: []byte{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, want := wire(tt.msgs)
			var p Parser
			got := feedAll(&p, chunks(b, tt.cuts))
			if !slices.Equal(got, want) {
				t.Fatalf("boundaries\n got %v\nwant %v", got, want)
			}
			if p.Partial() {
				t.Error("Partial after whole messages")
			}
			if p.Messages != len(tt.msgs) {
				t.Errorf("Messages = %d, want %d", p.Messages, len(tt.msgs))
			}
			n := 0
			for _, m := range tt.msgs {
				if m.compressed {
					n++
				}
			}
			if p.Compressed != n {
				t.Errorf("Compressed = %d, want %d", p.Compressed, n)
			}
		})
	}
}

func TestParserPartial(t *testing.T) {
	b, _ := wire([]message{{body: []byte("abc")}})
	for cut := 1; cut < len(b); cut++ {
		var p Parser
		p.Feed(b[:cut], func(Boundary) {})
		if !p.Partial() || p.Messages != 0 {
			t.Errorf("after %d of %d bytes: Partial %v, Messages %d; want true, 0", cut, len(b), p.Partial(), p.Messages)
		}
	}
}

// FuzzParser compares the parser, fed a random message list split and
// coalesced at random into DATA frames (read back with http2's Framer),
// against the boundaries of the list's concatenation.
func FuzzParser(f *testing.F) {
	f.Add(uint64(1), uint8(3), []byte{1, 2, 3}, []byte{0})
	f.Add(uint64(2), uint8(10), []byte{255, 0, 7}, []byte{3, 3})
	f.Add(uint64(3), uint8(1), []byte{}, []byte{})
	f.Add(uint64(4), uint8(30), []byte{4, 1, 0, 0, 9, 255, 255, 2}, []byte{0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, seed uint64, n uint8, cuts, pad []byte) {
		msgs := randomMessages(rand.New(rand.NewPCG(seed, 7)), int(n%40))
		b, want := wire(msgs)
		pieces := throughFrames(t, chunks(b, cuts), pad)
		var p Parser
		got := feedAll(&p, pieces)
		if !slices.Equal(got, want) {
			t.Fatalf("%d messages, cuts %v: boundaries\n got %v\nwant %v", len(msgs), cuts, got, want)
		}
		if p.Messages != len(msgs) || p.Partial() {
			t.Fatalf("Messages %d Partial %v, want %d false", p.Messages, p.Partial(), len(msgs))
		}
	})
}
