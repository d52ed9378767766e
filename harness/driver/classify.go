package driver

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/record"
)

// Classify turns the error that ended a stream into its End. err must not be
// nil or io.EOF: a clean end is the driver's call (complete or premature).
// An error caused by the client's own context is Canceled or Deadline, not a
// server status; everything else is classified by its gRPC status code.
func Classify(ctx context.Context, err error) record.End {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return record.End{Class: record.Deadline}
		}
		return record.End{Class: record.Canceled}
	}
	code := status.Code(err)
	if code == codes.DeadlineExceeded {
		// The server enforces the grpc-timeout header itself, so its
		// DeadlineExceeded can arrive before the client's own timer fires:
		// when the stream's deadline has passed, it is still the client's.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return record.End{Class: record.Deadline}
		}
	}
	if errors.Is(err, io.EOF) {
		// A bare io.EOF outside Recv's clean end (e.g. from Send): the
		// stream was torn down under the client.
		return record.End{Class: record.Status, Code: codes.Unavailable}
	}
	return record.End{Class: record.Status, Code: code}
}
