package generic

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/bufnet"
	pb "github.com/streambench/streambench/targets/proto"
)

// laggingSqrt answers each Sqrt request only once the next one (or the
// half-close) has arrived: a pipelining client completes, a client in
// lockstep waits for an answer that never comes first.
type laggingSqrt struct {
	pb.UnimplementedMathServer
}

func (laggingSqrt) Sqrt(st grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
	prev, err := st.Recv()
	for err == nil {
		next, nerr := st.Recv()
		if serr := st.Send(&pb.SqrtResponse{Seq: prev.Seq}); serr != nil {
			return serr
		}
		prev, err = next, nerr
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// endSink keeps a stream's end.
type endSink struct {
	mu     sync.Mutex
	end    record.End
	detail string
}

func (*endSink) Sent()                        {}
func (*endSink) Received(time.Duration)       {}
func (*endSink) Violated(record.Kind, uint64) {}
func (*endSink) Started()                     {}
func (s *endSink) Ended(e record.End, _ time.Duration, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end, s.detail = e, detail
}

// TestLockstep: a bidi call pipelines by default and completes against a
// server that answers a request once the next has arrived; with lockstep
// it waits for each answer, so the same server stalls it to its stream
// timeout. lockstep on a method that is not bidi is refused at its line.
func TestLockstep(t *testing.T) {
	proto, err := filepath.Abs("../proto/streambench.proto")
	if err != nil {
		t.Fatal(err)
	}
	cc := bufnet.Serve(t, func(s *grpc.Server) { pb.RegisterMathServer(s, laggingSqrt{}) }, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errAt := func(field, msg string) error { return errors.New(field + ": " + msg) }
	group := func(method string, lockstep bool) scenario.Group {
		return scenario.Group{Name: "g", Messages: 3, Call: &scenario.Call{
			Method: method, Proto: []string{proto}, Lockstep: lockstep,
			Data:   &scenario.Data{JSON: `{"seq": "{{index}}", "value": 1}`},
			Expect: scenario.Expect{Count: 3},
		}}
	}
	for _, tc := range []struct {
		lockstep bool
		want     record.Class
	}{{false, record.Complete}, {true, record.Deadline}} {
		call, err := setup(ctx, group("streambench.v1.Math/Sqrt", tc.lockstep), "", errAt, cc)
		if err != nil {
			t.Fatal(err)
		}
		sink := &endSink{}
		d := NewDriver(cc, driver.Params{Setup: call, StreamTimeout: 300 * time.Millisecond}, sink)
		d.Stream(ctx, context.Background())
		if sink.end.Class != tc.want {
			t.Errorf("lockstep %v: ended %v (%s), want %v", tc.lockstep, sink.end.Class, sink.detail, tc.want)
		}
	}
	if _, err := setup(ctx, group("streambench.v1.Math/Pow", true), "", errAt, cc); err == nil || !strings.HasPrefix(err.Error(), "call.lockstep: ") {
		t.Errorf("lockstep on a server stream: %v", err)
	}
}
