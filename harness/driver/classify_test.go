package driver

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/record"
)

func TestClassify(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel2()
	future, cancel3 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel3()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want record.End
	}{
		{"server status", live, status.Error(codes.Unavailable, "reset"), record.End{Class: record.Status, Code: codes.Unavailable}},
		{"resource exhausted", live, status.Error(codes.ResourceExhausted, "slow"), record.End{Class: record.Status, Code: codes.ResourceExhausted}},
		{"own cancel", canceled, status.Error(codes.Canceled, "context canceled"), record.End{Class: record.Canceled}},
		{"own deadline", expired, status.Error(codes.DeadlineExceeded, "x"), record.End{Class: record.Deadline}},
		{"server deadline before ours", future, status.Error(codes.DeadlineExceeded, "x"), record.End{Class: record.Status, Code: codes.DeadlineExceeded}},
		{"bare EOF from Send", live, io.EOF, record.End{Class: record.Status, Code: codes.Unavailable}},
		{"plain error", live, errors.New("boom"), record.End{Class: record.Status, Code: codes.Unknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.ctx, tc.err); got != tc.want {
				t.Errorf("Classify = %+v, want %+v", got, tc.want)
			}
		})
	}
}
