package faulty

// Tests of the planted Math bugs. TestMain (with goleak) is in
// longlived_test.go; helpers here carry a math prefix.

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/internal/bufnet"
	mathsrv "github.com/streambench/streambench/targets/math"
	pb "github.com/streambench/streambench/targets/proto"
)

// mathWait bounds every wait, so a bug fails instead of hanging.
const mathWait = 10 * time.Second

// mathServe runs srv over bufconn; handler ends (the error each handler
// returned) arrive on the returned channel. Closed at the test's end.
func mathServe(t *testing.T, srv pb.MathServer) (*grpc.ClientConn, <-chan error) {
	t.Helper()
	ends := make(chan error, 64)
	record := grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		err := h(srv, ss)
		select {
		case ends <- err:
		default:
		}
		return err
	})
	cc := bufnet.Serve(t, func(s *grpc.Server) { pb.RegisterMathServer(s, srv) }, []grpc.ServerOption{record})
	return cc, ends
}

// mathSink counts calls; safe for concurrent use (the Sqrt driver's sender
// calls Sent).
type mathSink struct {
	started, ended, sent, received atomic.Int64
	violations                     [8]atomic.Uint64
	detail                         atomic.Value
}

func (s *mathSink) Sent()                            { s.sent.Add(1) }
func (s *mathSink) Received(time.Duration)           { s.received.Add(1) }
func (s *mathSink) Violated(k record.Kind, n uint64) { s.violations[k].Add(n) }
func (s *mathSink) Started()                         { s.started.Add(1) }
func (s *mathSink) Ended(_ record.End, _ time.Duration, detail string) {
	s.ended.Add(1)
	s.detail.Store(detail)
}

func (s *mathSink) violated() map[record.Kind]uint64 {
	out := map[record.Kind]uint64{}
	for k := range s.violations {
		if n := s.violations[k].Load(); n > 0 {
			out[record.Kind(k)] = n
		}
	}
	return out
}

// mathStream runs one stream of d within mathWait.
func mathStream(t *testing.T, ctx context.Context, d driver.Driver, sink *mathSink) record.End {
	t.Helper()
	done := make(chan record.End, 1)
	go func() { done <- d.Stream(ctx, context.Background()) }()
	select {
	case end := <-done:
		if sink.started.Load() != 1 || sink.ended.Load() != 1 {
			t.Errorf("sink saw %d starts, %d ends; want 1, 1", sink.started.Load(), sink.ended.Load())
		}
		return end
	case <-time.After(mathWait):
		t.Fatalf("Stream did not return within %v", mathWait)
		return record.End{}
	}
}

func TestMathBugsRegistered(t *testing.T) {
	for _, name := range []string{PowEarlyEOF, SumDropsLast, SqrtStopsAnswering, PowNilOnCancel, PowSlow20Pct} {
		b, ok := Lookup(name)
		if !ok {
			t.Errorf("%s: not registered", name)
			continue
		}
		if b.Math == nil || b.Longlived != nil {
			t.Errorf("%s: must wrap Math only", name)
		}
		if d := b.Description; d == "" || !strings.HasSuffix(d, ".") || strings.Count(d, ". ") > 0 {
			t.Errorf("%s: description %q is not one sentence", name, d)
		}
		if b.WrapMath(mathsrv.New()) == nil {
			t.Errorf("%s: WrapMath returned nil", name)
		}
	}
	if n := len(mathBugs()); n != 5 {
		t.Errorf("%d Math bugs, want 5", n)
	}
}

var mathFactories = map[string]driver.Factory{
	"Pow":  mathsrv.NewPowDriver,
	"Sum":  mathsrv.NewSumDriver,
	"Sqrt": mathsrv.NewSqrtDriver,
}

// TestMathDriversCatchBugs proves each driver classifies its RPC's bug.
func TestMathDriversCatchBugs(t *testing.T) {
	tests := []struct {
		name     string
		bug      string
		rpc      string
		p        driver.Params
		class    record.Class
		viol     map[record.Kind]uint64
		received int64
	}{
		{"pow 10", PowEarlyEOF, "Pow", driver.Params{Base: 2, Messages: 10}, record.PrematureEOF, nil, 9},
		{"pow default count", PowEarlyEOF, "Pow", driver.Params{Base: 2}, record.PrematureEOF, nil, 9},
		{"pow 1", PowEarlyEOF, "Pow", driver.Params{Base: 2, Messages: 1}, record.PrematureEOF, nil, 0},
		{"pow paced", PowEarlyEOF, "Pow", driver.Params{Base: 3, Messages: 4, Interval: time.Millisecond, Payload: 32}, record.PrematureEOF, nil, 3},
		{"sum 10", SumDropsLast, "Sum", driver.Params{ID: 3, Messages: 10}, record.Violation, map[record.Kind]uint64{record.WrongResult: 1}, 1},
		{"sum 1", SumDropsLast, "Sum", driver.Params{ID: 3, Messages: 1, Payload: 16}, record.Violation, map[record.Kind]uint64{record.WrongResult: 1}, 1},
		{"sqrt 10", SqrtStopsAnswering, "Sqrt", driver.Params{Messages: 10}, record.PrematureEOF, nil, 5},
		{"sqrt 7", SqrtStopsAnswering, "Sqrt", driver.Params{Messages: 7, Payload: 16}, record.PrematureEOF, nil, 3},
		{"sqrt 1", SqrtStopsAnswering, "Sqrt", driver.Params{Messages: 1}, record.PrematureEOF, nil, 0},
		{"sqrt paced", SqrtStopsAnswering, "Sqrt", driver.Params{Messages: 6, Interval: 2 * time.Millisecond}, record.PrematureEOF, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.bug+"/"+tt.name, func(t *testing.T) {
			b, _ := Lookup(tt.bug)
			cc, _ := mathServe(t, b.WrapMath(mathsrv.New()))
			sink := &mathSink{}
			end := mathStream(t, context.Background(), mathFactories[tt.rpc](cc, tt.p, sink), sink)
			if end.Class != tt.class {
				t.Errorf("end %v (%v), want %v", end.Key(), sink.detail.Load(), tt.class)
			}
			if tt.viol == nil {
				tt.viol = map[record.Kind]uint64{}
			}
			if got := sink.violated(); !maps.Equal(got, tt.viol) {
				t.Errorf("violations %v, want %v", got, tt.viol)
			}
			if r := sink.received.Load(); r != tt.received {
				t.Errorf("received %d, want %d", r, tt.received)
			}
		})
	}
}

// TestMathBugsLeaveOtherRPCsAlone: every bug breaks one RPC; the other
// drivers (and its own, when the bug needs a cancel) still see Complete.
func TestMathBugsLeaveOtherRPCsAlone(t *testing.T) {
	broken := map[string]string{PowEarlyEOF: "Pow", SumDropsLast: "Sum", SqrtStopsAnswering: "Sqrt"}
	for _, b := range mathBugs() {
		cc, _ := mathServe(t, b.WrapMath(mathsrv.New()))
		for rpc, f := range mathFactories {
			if broken[b.Name] == rpc {
				continue
			}
			t.Run(b.Name+"/"+rpc, func(t *testing.T) {
				sink := &mathSink{}
				end := mathStream(t, context.Background(), f(cc, driver.Params{ID: 2, Base: 3, Messages: 20, Payload: 8}, sink), sink)
				if end.Class != record.Complete {
					t.Errorf("end %v (%v), want complete", end.Key(), sink.detail.Load())
				}
			})
		}
	}
}

// TestPowNilOnCancel: the client goes away mid-stream; the correct Pow
// returns Canceled, pow_nil_on_cancel returns nil (server-side success).
func TestPowNilOnCancel(t *testing.T) {
	bug, _ := Lookup(PowNilOnCancel)
	tests := []struct {
		name    string
		srv     pb.MathServer
		wantNil bool
	}{
		{"correct", mathsrv.New(), false},
		{PowNilOnCancel, bug.WrapMath(mathsrv.New()), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, ends := mathServe(t, tt.srv)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stream, err := pb.NewMathClient(cc).Pow(ctx, &pb.PowRequest{Base: 2, Count: 10, IntervalNanos: int64(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
			cancel()
			select {
			case err := <-ends:
				if tt.wantNil && err != nil {
					t.Errorf("handler returned %v, want nil", err)
				}
				if !tt.wantNil && status.Code(err) != codes.Canceled {
					t.Errorf("handler returned %v, want Canceled", err)
				}
			case <-time.After(mathWait):
				t.Fatalf("handler did not return within %v of the cancel", mathWait)
			}
		})
	}
}

// failingPow is a Pow stream whose transport fails every Send before
// the stream's context ends (a closing connection can do that).
type failingPow struct {
	grpc.ServerStreamingServer[pb.PowResponse]
}

func (failingPow) Context() context.Context { return context.Background() }
func (failingPow) Send(*pb.PowResponse) error {
	return status.Error(codes.Unavailable, "transport is closing")
}

// TestPowNilOnCancelFailedSend: the bug swallows a broken stream's error
// even when a failed Send shows the break before the context does; the
// correct Pow returns it.
func TestPowNilOnCancelFailedSend(t *testing.T) {
	bug, _ := Lookup(PowNilOnCancel)
	req := &pb.PowRequest{Base: 2, Count: 10}
	if err := mathsrv.New().Pow(req, failingPow{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("correct Pow returned %v, want Unavailable", err)
	}
	if err := bug.WrapMath(mathsrv.New()).Pow(req, failingPow{}); err != nil {
		t.Fatalf("%s returned %v, want nil", PowNilOnCancel, err)
	}
}

// TestPowNilOnCancelKeepsErrors: the bug swallows only errors of a
// cancelled stream; InvalidArgument still gets through.
func TestPowNilOnCancelKeepsErrors(t *testing.T) {
	bug, _ := Lookup(PowNilOnCancel)
	cc, _ := mathServe(t, bug.WrapMath(mathsrv.New()))
	ctx, cancel := context.WithTimeout(context.Background(), mathWait)
	defer cancel()
	stream, err := pb.NewMathClient(cc).Pow(ctx, &pb.PowRequest{Base: 2, Count: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
}

// powGaps runs one paced Pow of n messages interval apart against srv and
// returns the gaps between the server's send stamps, and the values.
func powGaps(t *testing.T, srv pb.MathServer, n int32, interval time.Duration) ([]time.Duration, []int64) {
	t.Helper()
	cc, _ := mathServe(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), mathWait)
	defer cancel()
	st, err := pb.NewMathClient(cc).Pow(ctx, &pb.PowRequest{Base: 2, Count: n, IntervalNanos: int64(interval)})
	if err != nil {
		t.Fatal(err)
	}
	var gaps []time.Duration
	var values []int64
	prev := int64(0)
	for {
		m, err := st.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Pow ended with %v, want a clean end", err)
			}
			break
		}
		if prev != 0 {
			gaps = append(gaps, time.Duration(m.GetSentUnixNano()-prev))
		}
		prev = m.GetSentUnixNano()
		values = append(values, m.GetValue())
	}
	return gaps, values
}

// TestSlowPowPacesLater: pow_slow_20pct sends every message at least
// SlowPowFactor × interval after the previous one (timers never fire early,
// so the bound is exact) with correct values; the correct server does not
// (its shortest gap is under the slowed interval), so the check fails on a
// server without the slowdown.
func TestSlowPowPacesLater(t *testing.T) {
	const n, interval = 8, 40 * time.Millisecond
	slowed := time.Duration(float64(interval) * SlowPowFactor)
	bug, _ := Lookup(PowSlow20Pct)
	for _, tc := range []struct {
		name string
		srv  pb.MathServer
		slow bool
	}{
		{"planted", bug.WrapMath(mathsrv.New()), true},
		{"correct", mathsrv.New(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gaps, values := powGaps(t, tc.srv, n, interval)
			if len(values) != n {
				t.Fatalf("%d messages, want %d", len(values), n)
			}
			for i, v := range values {
				if v != int64(1)<<i {
					t.Fatalf("message %d = %d, want %d", i, v, int64(1)<<i)
				}
			}
			shortest := slices.Min(gaps)
			if got := shortest >= slowed; got != tc.slow {
				t.Fatalf("shortest gap %v (gaps %v); slowed to >= %v: %v, want %v", shortest, gaps, slowed, got, tc.slow)
			}
		})
	}
}
