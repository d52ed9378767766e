package longlived

import (
	"github.com/streambench/streambench/harness/rpc"
)

// RPC is Longlived/Subscribe's catalog entry: one long-lived stream per
// client that resumes from the next seq it needs.
var RPC = rpc.Entry{
	Name:    "Longlived/Subscribe",
	Short:   "subscribe",
	Doc:     "a long-lived feed: the server streams every update from the seq the client asks for until it unsubscribes",
	Caps:    rpc.Caps{Read: true, Idle: true, Resume: true},
	Factory: NewDriver,
}
