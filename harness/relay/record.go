package relay

import (
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// EndedBy says what ended a stream.
type EndedBy string

const (
	// EndedByServer: the server's trailers (END_STREAM), with a status.
	EndedByServer EndedBy = "server"
	// EndedByClientReset: the client's RST_STREAM (a cancel).
	EndedByClientReset EndedBy = "client_reset"
	// EndedByServerReset: the server's RST_STREAM.
	EndedByServerReset EndedBy = "server_reset"
	// EndedByRelay: a Faults abort.
	EndedByRelay EndedBy = "relay"
	// EndedByConn: its connection closed while it was open.
	EndedByConn EndedBy = "connection"
)

// StreamRecord is what the relay saw of one stream.
type StreamRecord struct {
	Conn   uint64
	ID     uint32
	Method string
	// Messages counts the whole messages that crossed, by Dir; a
	// message cut short by an abort or a reset is not counted.
	Messages [2]int
	// Compressed counts those of them flagged compressed.
	Compressed [2]int
	// HasStatus says the stream ended with a gRPC status (the server's
	// trailers or the relay's abort): Code and Message.
	HasStatus bool
	Code      codes.Code
	Message   string
	// EndedBy is empty while the stream is open.
	EndedBy EndedBy
	// ResetCode is the RST_STREAM's code when a side reset the stream.
	ResetCode http2.ErrCode
	// Held counts the frames the relay held (delayed or stalled).
	Held           int
	Opened, Closed time.Time
	// Seq is what the relay read of the stream's numbers when its
	// method is declared in Config.Seqs.
	Seq SeqRecord
	// AfterGoAway: the client opened the stream on this connection
	// after the relay's GOAWAY (the relay refused it).
	AfterGoAway bool
}

// ControlFrame is a connection-level or stream-ending frame the relay
// forwarded: PING, SETTINGS, GOAWAY or RST_STREAM.
type ControlFrame struct {
	At   time.Time
	Dir  Dir
	Type http2.FrameType
	// StreamID is RST_STREAM's stream.
	StreamID uint32
	// Ack is a PING or SETTINGS acknowledgement.
	Ack bool
	// Code is GOAWAY's or RST_STREAM's error code.
	Code http2.ErrCode
	// LastStreamID is GOAWAY's last stream.
	LastStreamID uint32
	// Settings are a SETTINGS frame's values.
	Settings []http2.Setting
	// Ping is a PING's opaque data.
	Ping [8]byte
	// Answered: a client's PING the relay acknowledged itself instead of
	// forwarding it (one sent after held frames reached the client).
	Answered bool
	// Debug is GOAWAY's debug data (e.g. "too_many_pings").
	Debug string
	// ByRelay: a GOAWAY the relay sent the client itself (a
	// connection-stage fault), not one it forwarded.
	ByRelay bool
	// ServerFrames counts the DATA and HEADERS frames the server had
	// sent on the connection when a PING was read: a server enforcing
	// gRFC A8 counts a client's PING as a strike only when it wrote none
	// since the previous one.
	ServerFrames uint64
}

// ConnRecord is what the relay saw of one client connection.
type ConnRecord struct {
	ID uint64
	// Client and Upstream are the remote addresses of its two sides.
	Client, Upstream string
	Opened, Closed   time.Time
	// Err is why it closed, if not cleanly (a side's EOF, the relay's
	// Close): a dial failure, a malformed frame, a write timeout.
	Err string
	// Control are the control frames forwarded, in order, up to
	// maxControl; ControlDropped counts those beyond.
	Control        []ControlFrame
	ControlDropped int
	// Streams counts the streams the client opened.
	Streams int
	// Stage is the furthest stage the connection attempt reached;
	// Reached[s] when it reached stage s (zero: never).
	Stage   Stage
	Reached [numStages]time.Time
	// Established is when the upstream's first SETTINGS crossed to the
	// client: from then on a gRPC client counts the attempt a success
	// (its backoff resets). Zero: the attempt failed.
	Established time.Time
	// End is how the attempt ended (empty while open); Fault names the
	// connection-stage fault that acted on it.
	End   ConnEnd
	Fault string
}

// maxControl bounds the control frames a connection's record keeps.
const maxControl = 1024
