package math

import (
	"context"
	"errors"
	"io"
	stdmath "math"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/streambench/streambench/targets/proto"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

func TestPow(t *testing.T) {
	tests := []struct {
		name  string
		req   *pb.PowRequest
		wants []int64
	}{
		{"powers of 2", &pb.PowRequest{Base: 2, Count: 5}, []int64{1, 2, 4, 8, 16}},
		{"default count", &pb.PowRequest{Base: 3}, []int64{1, 3, 9, 27, 81, 243, 729, 2187, 6561, 19683}},
		{"base 0", &pb.PowRequest{Base: 0, Count: 3}, []int64{1, 0, 0}},
		{"base -1", &pb.PowRequest{Base: -1, Count: 4}, []int64{1, -1, 1, -1}},
		{"negative base", &pb.PowRequest{Base: -3, Count: 4}, []int64{1, -3, 9, -27}},
		{"count 1", &pb.PowRequest{Base: 7, Count: 1}, []int64{1}},
		{"payload", &pb.PowRequest{Base: 2, Count: 3, PayloadBytes: 1000}, []int64{1, 2, 4}},
		{"(-2)^63 is MinInt64", &pb.PowRequest{Base: -2, Count: 64}, nil},
		{"2^62 fits", &pb.PowRequest{Base: 2, Count: 63}, nil},
		{"3^39 fits", &pb.PowRequest{Base: 3, Count: 40}, nil},
	}
	cc, _ := serve(t, New())
	client := pb.NewMathClient(cc)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wants := tt.wants
			if wants == nil {
				v := int64(1)
				for range tt.req.Count {
					wants = append(wants, v)
					v *= tt.req.Base
				}
			}
			stream, err := client.Pow(testCtx(t), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now().UnixNano()
			for i, want := range wants {
				m, err := stream.Recv()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if m.Seq != uint64(i) || m.Value != want || len(m.Payload) != int(tt.req.PayloadBytes) {
					t.Fatalf("message %d: {seq %d, value %d, payload %d B}, want {%d, %d, %d B}",
						i, m.Seq, m.Value, len(m.Payload), i, want, tt.req.PayloadBytes)
				}
				if m.SentUnixNano < before-int64(time.Second) || m.SentUnixNano > time.Now().UnixNano() {
					t.Fatalf("message %d: sent_unix_nano %d is not a send time", i, m.SentUnixNano)
				}
			}
			if _, err := stream.Recv(); err != io.EOF {
				t.Fatalf("after %d messages: %v, want io.EOF", len(wants), err)
			}
		})
	}
}

func TestPowInvalidArgument(t *testing.T) {
	tests := []struct {
		name string
		req  *pb.PowRequest
	}{
		{"negative count", &pb.PowRequest{Base: 2, Count: -1}},
		{"count too large", &pb.PowRequest{Base: 1, Count: MaxPowCount + 1}},
		{"negative payload", &pb.PowRequest{Base: 2, Count: 3, PayloadBytes: -1}},
		{"payload too large", &pb.PowRequest{Base: 2, Count: 3, PayloadBytes: MaxPayload + 1}},
		{"negative interval", &pb.PowRequest{Base: 2, Count: 3, IntervalNanos: -1}},
		{"2^63 overflows", &pb.PowRequest{Base: 2, Count: 64}},
		{"(-2)^64 overflows", &pb.PowRequest{Base: -2, Count: 65}},
		{"3^40 overflows", &pb.PowRequest{Base: 3, Count: 41}},
		{"-3^40 overflows", &pb.PowRequest{Base: -3, Count: 41}},
		{"10^19 overflows", &pb.PowRequest{Base: 10, Count: 20}},
		{"large base, huge count", &pb.PowRequest{Base: stdmath.MaxInt64, Count: MaxPowCount}},
		{"MinInt64^2 overflows", &pb.PowRequest{Base: stdmath.MinInt64, Count: 3}},
	}
	cc, ends := serve(t, New())
	client := pb.NewMathClient(cc)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := client.Pow(testCtx(t), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			m, err := stream.Recv()
			if m != nil {
				t.Fatalf("got a message %v before the error", m)
			}
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			if err := ends.next(t); status.Code(err) != codes.InvalidArgument {
				t.Fatalf("handler returned %v", err)
			}
		})
	}
}

func TestPowInterval(t *testing.T) {
	const (
		count    = 5
		interval = 30 * time.Millisecond
	)
	cc, _ := serve(t, New())
	start := time.Now()
	stream, err := pb.NewMathClient(cc).Pow(testCtx(t), &pb.PowRequest{Base: 2, Count: count, IntervalNanos: int64(interval)})
	if err != nil {
		t.Fatal(err)
	}
	var prev int64
	for i := range count {
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && time.Duration(m.SentUnixNano-prev) < interval {
			t.Errorf("message %d sent %v after the previous, want >= %v", i, time.Duration(m.SentUnixNano-prev), interval)
		}
		prev = m.SentUnixNano
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
	if el := time.Since(start); el < (count-1)*interval {
		t.Errorf("stream took %v, want >= %v", el, (count-1)*interval)
	}
}

// TestHandlersEndOnCancel proves every handler returns at once when its
// client goes away mid-stream, with the context's status.
func TestHandlersEndOnCancel(t *testing.T) {
	tests := []struct {
		name string
		// open opens a stream and gets it into its middle.
		open func(ctx context.Context, c pb.MathClient) error
	}{
		{"Pow waiting between messages", func(ctx context.Context, c pb.MathClient) error {
			s, err := c.Pow(ctx, &pb.PowRequest{Base: 2, Count: 10, IntervalNanos: int64(time.Hour)})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}},
		{"Pow blocked by flow control", func(ctx context.Context, c pb.MathClient) error {
			s, err := c.Pow(ctx, &pb.PowRequest{Base: 1, Count: MaxPowCount, PayloadBytes: 1024})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			time.Sleep(50 * time.Millisecond) // let the server fill the window
			return err
		}},
		{"Sum reading", func(ctx context.Context, c pb.MathClient) error {
			s, err := c.Sum(ctx)
			if err != nil {
				return err
			}
			return s.Send(&pb.SumRequest{Value: 1})
		}},
		{"Sqrt reading", func(ctx context.Context, c pb.MathClient) error {
			s, err := c.Sqrt(ctx)
			if err != nil {
				return err
			}
			if err := s.Send(&pb.SqrtRequest{Value: 4}); err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}},
	}
	cc, ends := serve(t, New())
	client := pb.NewMathClient(cc)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testCtx(t))
			if err := tt.open(ctx, client); err != nil {
				cancel()
				t.Fatal(err)
			}
			cancel()
			start := time.Now()
			err := ends.next(t)
			if el := time.Since(start); el > 3*time.Second { // slack for -race under load
				t.Errorf("handler took %v to return", el)
			}
			if status.Code(err) != codes.Canceled {
				t.Errorf("handler returned %v, want Canceled", err)
			}
		})
	}
}

func TestSum(t *testing.T) {
	tests := []struct {
		name    string
		values  []int64
		payload int
		want    int64
	}{
		{"empty", nil, 0, 0},
		{"one", []int64{42}, 0, 42},
		{"several", []int64{1, 2, 3, 4, 5}, 16, 15},
		{"negatives", []int64{-5, 3, -7}, 0, -9},
		{"to MaxInt64", []int64{stdmath.MaxInt64 - 1, 1}, 0, stdmath.MaxInt64},
		{"to MinInt64", []int64{stdmath.MinInt64 + 1, -1}, 0, stdmath.MinInt64},
		{"out and back", []int64{stdmath.MaxInt64, stdmath.MinInt64}, 0, -1},
	}
	cc, _ := serve(t, New())
	client := pb.NewMathClient(cc)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := client.Sum(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range tt.values {
				if err := stream.Send(&pb.SumRequest{Seq: uint64(i), Value: v, Payload: make([]byte, tt.payload)}); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := stream.CloseAndRecv()
			if err != nil {
				t.Fatal(err)
			}
			if resp.Sum != tt.want || resp.Count != uint64(len(tt.values)) {
				t.Fatalf("got {sum %d, count %d}, want {%d, %d}", resp.Sum, resp.Count, tt.want, len(tt.values))
			}
		})
	}
}

func TestSumOverflow(t *testing.T) {
	tests := []struct {
		name   string
		values []int64
	}{
		{"above MaxInt64", []int64{stdmath.MaxInt64, 1}},
		{"below MinInt64", []int64{stdmath.MinInt64, -1}},
		{"two large", []int64{stdmath.MaxInt64 / 2, stdmath.MaxInt64/2 + 2}},
	}
	cc, _ := serve(t, New())
	client := pb.NewMathClient(cc)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := client.Sum(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.values {
				if err := stream.Send(&pb.SumRequest{Value: v}); err != nil && err != io.EOF {
					t.Fatal(err)
				}
			}
			_, err = stream.CloseAndRecv()
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
		})
	}
}

func TestSqrt(t *testing.T) {
	values := []float64{0, 1, 2, 4, 0.25, 1e10, stdmath.MaxFloat64, stdmath.Inf(1), stdmath.Copysign(0, -1)}
	for _, payload := range []int{0, 300} {
		cc, _ := serve(t, New())
		stream, err := pb.NewMathClient(cc).Sqrt(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		// Pipelined: send everything, then read every answer.
		for i, v := range values {
			req := &pb.SqrtRequest{Seq: uint64(100 + i), Value: v, SentUnixNano: int64(1000 + i), Payload: make([]byte, payload)}
			for j := range req.Payload {
				req.Payload[j] = byte(i + j)
			}
			if err := stream.Send(req); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			m, err := stream.Recv()
			if err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
			if m.Seq != uint64(100+i) || m.Root != stdmath.Sqrt(v) || m.RequestSentUnixNano != int64(1000+i) || m.SentUnixNano == 0 {
				t.Fatalf("answer %d: %v, want seq %d root %v", i, m, 100+i, stdmath.Sqrt(v))
			}
			if len(m.Payload) != payload {
				t.Fatalf("answer %d: payload %d bytes, want %d", i, len(m.Payload), payload)
			}
			for j, b := range m.Payload {
				if b != byte(i+j) {
					t.Fatalf("answer %d: payload byte %d is %d, want %d", i, j, b, byte(i+j))
				}
			}
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("got %v, want io.EOF", err)
		}
	}
}

func TestSqrtInvalidArgument(t *testing.T) {
	for _, v := range []float64{-1, -1e-300, stdmath.Inf(-1), stdmath.NaN()} {
		cc, ends := serve(t, New())
		stream, err := pb.NewMathClient(cc).Sqrt(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&pb.SqrtRequest{Seq: 0, Value: 9}); err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&pb.SqrtRequest{Seq: 1, Value: v}); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if m, err := stream.Recv(); err != nil || m.Root != 3 {
			t.Fatalf("%v: first answer %v, %v", v, m, err)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("%v: got %v, want InvalidArgument", v, err)
		}
		if err := ends.next(t); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("%v: handler returned %v", v, err)
		}
	}
}

func TestPowOverflowFunc(t *testing.T) {
	tests := []struct {
		base      int64
		count     int
		wantE     int
		overflows bool
	}{
		{2, 63, 0, false}, {2, 64, 63, true}, {-2, 64, 0, false}, {-2, 65, 64, true},
		{0, MaxPowCount, 0, false}, {1, MaxPowCount, 0, false}, {-1, MaxPowCount, 0, false},
		{stdmath.MaxInt64, 2, 0, false}, {stdmath.MaxInt64, 3, 2, true},
		{stdmath.MinInt64, 2, 0, false}, {stdmath.MinInt64, 3, 2, true},
		{3, 40, 0, false}, {3, 41, 40, true}, {5, 0, 0, false},
	}
	for _, tt := range tests {
		e, over := powOverflow(tt.base, tt.count)
		if e != tt.wantE || over != tt.overflows {
			t.Errorf("powOverflow(%d, %d) = %d, %v; want %d, %v", tt.base, tt.count, e, over, tt.wantE, tt.overflows)
		}
		if !over && tt.count > 0 && tt.count < 100 {
			v := int64(1)
			for range tt.count - 1 {
				v *= tt.base
			}
			if got := powWrap(tt.base, uint64(tt.count-1)); got != v {
				t.Errorf("powWrap(%d, %d) = %d, want %d", tt.base, tt.count-1, got, v)
			}
		}
	}
}
