package faulty

import (
	"context"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Client-side planted bugs.
const (
	// ClientResetAsEOF names the client-stack bug that maps a reset to io.EOF.
	ClientResetAsEOF = "client_reset_as_eof"
	// ClientSkipsClose names the client that never closes its ClientConns.
	ClientSkipsClose = "client_skips_close"
)

func clientBugs() []Bug {
	return []Bug{{
		Name: ClientResetAsEOF,
		Description: "a client stack that turns a broken stream (Unavailable, e.g. a reset connection) into io.EOF — " +
			"the errors.Is(err, io.EOF) trap: the stream looks complete; caught by eof: clean under sever faults",
		Client: ResetAsEOF,
	}, {
		Name: ClientSkipsClose,
		Description: "the harness's clients never close their ClientConns (self-test switch): " +
			"caught by leaks: none as grpc-go's per-connection goroutines (grpcsync.(*CallbackSerializer).run) outliving the run",
		SkipClose: true,
	}}
}

// ResetAsEOF is a client stream interceptor whose streams report
// codes.Unavailable from RecvMsg as a clean io.EOF.
func ResetAsEOF(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return eofStream{cs}, nil
}

type eofStream struct{ grpc.ClientStream }

func (s eofStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if status.Code(err) == codes.Unavailable {
		return io.EOF
	}
	return err
}
