package relay

import (
	"time"

	"google.golang.org/grpc/codes"
)

// Dir is a direction across the relay.
type Dir uint8

const (
	// ClientToServer is from a client connection to its upstream.
	ClientToServer Dir = iota
	// ServerToClient is from the upstream to the client.
	ServerToClient
)

// String is "client->server" or "server->client".
func (d Dir) String() string {
	if d == ClientToServer {
		return "client->server"
	}
	return "server->client"
}

// StreamInfo names a stream for Faults.
type StreamInfo struct {
	// Conn is the relay's number of the client connection, from 1.
	Conn uint64
	// ID is the HTTP/2 stream identifier.
	ID uint32
	// Method is the request's :path, e.g. "/streambench.v1.Math/Pow".
	Method string
	// Headers are the request's headers named in Config.KeepHeaders
	// (the first value of each), e.g. the metadata a fault's scope
	// picks clients by; nil when none was kept. Read only.
	Headers map[string]string
	// State is what Config.Opened returned for the stream (nil without
	// it): what a Faults keeps of a stream between its messages.
	State any
}

// MessageInfo is a gRPC message beginning to cross the relay.
type MessageInfo struct {
	// Dir is the way the message goes.
	Dir Dir
	// Index counts the stream's messages in both directions, from 1, in
	// the order their first bytes reached the relay: a fault's `after`
	// acts on Index after+1.
	Index int
	// DirIndex counts the stream's messages in Dir, from 1.
	DirIndex int
	// Compressed is the message's flag.
	Compressed bool
}

// Action is what Faults asks of a stream at one of its messages. The
// zero Action forwards the message as it is.
type Action struct {
	// Abort, if not nil, ends the stream before the message is
	// forwarded: the client gets trailers with the status (and nothing
	// of the stream after them), the upstream an RST_STREAM CANCEL (so
	// the server sees a client cancel).
	Abort *Abort
	// Delay holds the message's frames (from the DATA frame it begins
	// in to the one the next message begins in) for Delay after they
	// reach the relay, in order; other streams keep flowing.
	Delay time.Duration
	// Stall holds the stream's DATA and HEADERS frames, both ways, from
	// this message on until Stall has passed, then releases them in
	// order. What it holds is bounded by the flow-control windows the
	// receivers granted: the senders stop when the windows are used.
	Stall time.Duration
}

// Abort is the status an aborted stream ends with.
type Abort struct {
	// Code is the grpc-status the client gets (any code; OK would end
	// the stream as if it had succeeded).
	Code codes.Code
	// Message is the grpc-message, percent-encoded on the wire; the
	// relay sends its first 1 KiB.
	Message string
}

// Faults decides what happens to the streams' messages. The relay asks
// it as each message begins to cross, from the goroutine reading that
// direction of the connection, so it must be safe for concurrent use and
// quick (the connection's direction waits for it).
type Faults interface {
	Message(s StreamInfo, m MessageInfo) Action
}

// FaultsFunc adapts a function to Faults.
type FaultsFunc func(StreamInfo, MessageInfo) Action

// Message calls f.
func (f FaultsFunc) Message(s StreamInfo, m MessageInfo) Action { return f(s, m) }
