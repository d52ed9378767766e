package fault

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"

	pb "github.com/streambench/streambench/targets/proto"
)

// brokenStream is a server stream whose Sends fail: with canceled, its
// context has ended too; without, the transport failed the Send first.
type brokenStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (b brokenStream) Context() context.Context { return b.ctx }
func (brokenStream) SendMsg(any) error          { return errors.New("transport is closing") }
func (brokenStream) RecvMsg(m any) error {
	m.(*pb.PowRequest).Count = 5
	return nil
}

// TestOKAfterCancel: a handler that returns OK after its stream broke,
// with its protocol unfinished, is counted whether the broken stream
// showed as a cancelled context or only as a failed Send; a handler that
// returns the error is not.
func TestOKAfterCancel(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	swallow := func(_ any, ss grpc.ServerStream) error {
		req := &pb.PowRequest{}
		if err := ss.RecvMsg(req); err != nil {
			return err
		}
		_ = ss.SendMsg(&pb.PowResponse{})
		return nil
	}
	pass := func(_ any, ss grpc.ServerStream) error {
		req := &pb.PowRequest{}
		if err := ss.RecvMsg(req); err != nil {
			return err
		}
		return ss.SendMsg(&pb.PowResponse{})
	}
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		handler grpc.StreamHandler
		want    uint64
	}{
		{"swallowed, context canceled", canceled, swallow, 1},
		{"swallowed, only the Send failed", context.Background(), swallow, 1},
		{"returned, context canceled", canceled, pass, 0},
		{"returned, only the Send failed", context.Background(), pass, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStreams(1)
			info := &grpc.StreamServerInfo{FullMethod: "/streambench.Math/Pow", IsServerStream: true}
			_ = s.Interceptor()(nil, brokenStream{ctx: tc.ctx}, info, tc.handler)
			if got := s.Stats().OKAfterCancel; got != tc.want {
				t.Fatalf("OKAfterCancel = %d, want %d", got, tc.want)
			}
		})
	}
}
