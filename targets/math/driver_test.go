package math

import (
	"context"
	"io"
	stdmath "math"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	pb "github.com/streambench/streambench/targets/proto"
)

var factories = []struct {
	rpc string
	new driver.Factory
}{
	{"Pow", NewPowDriver},
	{"Sum", NewSumDriver},
	{"Sqrt", NewSqrtDriver},
}

// TestDriversComplete runs each driver against the correct server: every
// stream is Complete, with the right counts and no violation.
func TestDriversComplete(t *testing.T) {
	params := []struct {
		name string
		p    driver.Params
	}{
		{"no messages", driver.Params{ID: 1, Base: 2}},
		{"one message", driver.Params{ID: 2, Messages: 1, Base: 3}},
		{"many", driver.Params{ID: 3, Messages: 200, Base: 1, Payload: 64}},
		{"negative base", driver.Params{ID: 4, Messages: 40, Base: -3}},
		{"paced", driver.Params{ID: 5, Messages: 5, Base: 2, Interval: 5 * time.Millisecond}},
		{"big payload", driver.Params{ID: 6, Messages: 20, Base: 0, Payload: 100_000}},
		{"with timeout", driver.Params{ID: 7, Messages: 10, Base: 7, StreamTimeout: waitLimit}},
	}
	cc, _ := serve(t, New())
	for _, f := range factories {
		for _, pp := range params {
			t.Run(f.rpc+"/"+pp.name, func(t *testing.T) {
				sink := &fakeSink{}
				d := f.new(cc, pp.p, sink)
				for stream := range 2 { // a driver runs streams one after another
					*sink = fakeSink{}
					end := runStream(t, context.Background(), d, sink)
					if end.Class != record.Complete {
						t.Fatalf("stream %d: end %v (%s), want complete", stream, end.Key(), sink.lastDetail())
					}
					if v := sink.violated(); len(v) > 0 {
						t.Fatalf("stream %d: violations %v", stream, v)
					}
					wantSent, wantRecv := int64(0), int64(pp.p.Messages)
					switch f.rpc {
					case "Pow":
						if pp.p.Messages == 0 {
							wantRecv = DefaultPowCount
						}
					case "Sum":
						wantSent, wantRecv = int64(pp.p.Messages), 1
					case "Sqrt":
						wantSent = int64(pp.p.Messages)
					}
					if s, r := sink.sent.Load(), sink.received.Load(); s != wantSent || r != wantRecv {
						t.Fatalf("stream %d: sent %d, received %d; want %d, %d", stream, s, r, wantSent, wantRecv)
					}
				}
			})
		}
	}
}

// TestDriversCanceled cancels ctx mid-stream: each driver ends Canceled at
// once, whether it waits between messages or for a server that is slow.
func TestDriversCanceled(t *testing.T) {
	paced := driver.Params{ID: 1, Messages: 10, Base: 2, Interval: time.Hour}
	cc, _ := serve(t, New())
	silentCC, _ := serve(t, silentServer{})
	for _, f := range factories {
		for _, c := range []struct {
			name string
			cc   grpc.ClientConnInterface
			p    driver.Params
		}{
			{"paced", cc, paced},
			{"silent server", silentCC, driver.Params{ID: 1, Messages: 10, Base: 2}},
			{"silent server with timeout", silentCC, driver.Params{ID: 1, Messages: 10, Base: 2, StreamTimeout: time.Hour}},
		} {
			t.Run(f.rpc+"/"+c.name, func(t *testing.T) {
				sink := &fakeSink{}
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				start := time.Now()
				end := runStream(t, ctx, f.new(c.cc, c.p, sink), sink)
				if end.Class != record.Canceled {
					t.Fatalf("end %v (%s), want canceled", end.Key(), sink.lastDetail())
				}
				// Prompt means far below the 1h interval; the slack is for
				// -race on a loaded 2-core machine.
				if el := time.Since(start); el > 3*time.Second {
					t.Errorf("Stream took %v after a 50ms cancel", el)
				}
			})
		}
	}
}

// silentServer opens every stream and never answers; its handlers return
// when the client goes away.
type silentServer struct{ pb.UnimplementedMathServer }

func (silentServer) Pow(_ *pb.PowRequest, s grpc.ServerStreamingServer[pb.PowResponse]) error {
	<-s.Context().Done()
	return s.Context().Err()
}

func (silentServer) Sum(s grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error {
	for {
		if _, err := s.Recv(); err != nil && err != io.EOF {
			return err
		} else if err == io.EOF {
			<-s.Context().Done() // never answers
			return s.Context().Err()
		}
	}
}

func (silentServer) Sqrt(s grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
	for {
		if _, err := s.Recv(); err != nil && err != io.EOF {
			return err
		} else if err == io.EOF {
			<-s.Context().Done()
			return s.Context().Err()
		}
	}
}

// TestDriversDeadline: a server that keeps the stream open and never
// answers is only caught by the stream timeout: class Deadline.
func TestDriversDeadline(t *testing.T) {
	cc, _ := serve(t, silentServer{})
	for _, f := range factories {
		t.Run(f.rpc, func(t *testing.T) {
			sink := &fakeSink{}
			p := driver.Params{ID: 1, Messages: 10, Base: 2, StreamTimeout: 100 * time.Millisecond}
			start := time.Now()
			end := runStream(t, context.Background(), f.new(cc, p, sink), sink)
			if end.Class != record.Deadline {
				t.Fatalf("end %v (%s), want deadline", end.Key(), sink.lastDetail())
			}
			if el := time.Since(start); el < p.StreamTimeout || el > p.StreamTimeout+3*time.Second { // slack for -race under load
				t.Errorf("Stream took %v with a %v timeout", el, p.StreamTimeout)
			}
		})
	}
}

// TestDriversStatus: the server's InvalidArgument reaches the driver as a
// status end.
func TestDriversStatus(t *testing.T) {
	cc, _ := serve(t, New())
	tests := []struct {
		name string
		new  driver.Factory
		p    driver.Params
	}{
		{"Pow overflow", NewPowDriver, driver.Params{Messages: 64, Base: 2}},
		{"Pow negative count", NewPowDriver, driver.Params{Messages: -1, Base: 2}},
		{"Pow payload too large", NewPowDriver, driver.Params{Messages: 1, Payload: MaxPayload + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			end := runStream(t, context.Background(), tt.new(cc, tt.p, sink), sink)
			if end != (record.End{Class: record.Status, Code: codes.InvalidArgument}) {
				t.Fatalf("end %v (%s), want status:InvalidArgument", end.Key(), sink.lastDetail())
			}
		})
	}
}

// liarServer breaks the protocol in ways the drivers must see.
type liarServer struct {
	pb.UnimplementedMathServer
	pow  func(req *pb.PowRequest, s grpc.ServerStreamingServer[pb.PowResponse]) error
	sum  func(s grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error
	sqrt func(s grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error
}

func (l liarServer) Pow(req *pb.PowRequest, s grpc.ServerStreamingServer[pb.PowResponse]) error {
	return l.pow(req, s)
}

func (l liarServer) Sum(s grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error {
	return l.sum(s)
}

func (l liarServer) Sqrt(s grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
	return l.sqrt(s)
}

// powSeqs returns a Pow that sends the given seqs with their right values
// (value base^seq), then ends with OK.
func powSeqs(seqs ...uint64) func(*pb.PowRequest, grpc.ServerStreamingServer[pb.PowResponse]) error {
	return func(req *pb.PowRequest, s grpc.ServerStreamingServer[pb.PowResponse]) error {
		for _, seq := range seqs {
			if err := s.Send(&pb.PowResponse{Seq: seq, Value: powWrap(req.Base, seq), Payload: make([]byte, req.PayloadBytes)}); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestPowDriverViolations(t *testing.T) {
	tests := []struct {
		name string
		pow  func(*pb.PowRequest, grpc.ServerStreamingServer[pb.PowResponse]) error
		want map[string]uint64
		end  record.Class
	}{
		{"in order", powSeqs(0, 1, 2, 3, 4), map[string]uint64{}, record.Complete},
		{"premature", powSeqs(0, 1, 2, 3), map[string]uint64{}, record.PrematureEOF},
		{"none at all", powSeqs(), map[string]uint64{}, record.PrematureEOF},
		{"gap", powSeqs(0, 1, 3, 4), map[string]uint64{"gap": 1}, record.Violation},
		{"gap of 2", powSeqs(0, 3, 4), map[string]uint64{"gap": 2}, record.Violation},
		{"duplicate", powSeqs(0, 1, 1, 2, 3), map[string]uint64{"duplicate": 1}, record.Violation},
		{"reorder", powSeqs(0, 2, 1, 3, 4), map[string]uint64{"gap": 1, "reorder": 1}, record.Violation},
		{"extra", powSeqs(0, 1, 2, 3, 4, 5), map[string]uint64{"extra": 1}, record.Violation},
		{"repeat after end", powSeqs(0, 1, 2, 3, 4, 4), map[string]uint64{"extra": 1}, record.Violation},
		{"wrong value", func(req *pb.PowRequest, s grpc.ServerStreamingServer[pb.PowResponse]) error {
			for i := range uint64(5) {
				v := powWrap(req.Base, i)
				if i == 2 {
					v++
				}
				if err := s.Send(&pb.PowResponse{Seq: i, Value: v}); err != nil {
					return err
				}
			}
			return nil
		}, map[string]uint64{"wrong_value": 1}, record.Violation},
		{"violation then status", func(req *pb.PowRequest, s grpc.ServerStreamingServer[pb.PowResponse]) error {
			if err := powSeqs(0, 2)(req, s); err != nil {
				return err
			}
			return context.Canceled // status Unknown... or Canceled for the client
		}, map[string]uint64{"gap": 1}, record.Violation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, _ := serve(t, liarServer{pow: tt.pow})
			sink := &fakeSink{}
			end := runStream(t, context.Background(), NewPowDriver(cc, driver.Params{Base: 3, Messages: 5}, sink), sink)
			if end.Class != tt.end {
				t.Errorf("end %v (%s), want %v", end.Key(), sink.lastDetail(), tt.end)
			}
			if got := sink.violated(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("violations %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSumDriverWrongResult(t *testing.T) {
	tests := []struct {
		name string
		sum  func(s grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error
		end  record.Class
		want map[string]uint64
	}{
		{"sum off by one", func(s grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error {
			var sum int64
			var n uint64
			for {
				m, err := s.Recv()
				if err == io.EOF {
					return s.SendAndClose(&pb.SumResponse{Sum: sum + 1, Count: n})
				}
				if err != nil {
					return err
				}
				sum += m.Value
				n++
			}
		}, record.Violation, map[string]uint64{"wrong_result": 1}},
		{"answers before the half-close", func(s grpc.ClientStreamingServer[pb.SumRequest, pb.SumResponse]) error {
			if _, err := s.Recv(); err != nil {
				return err
			}
			return s.SendAndClose(&pb.SumResponse{})
		}, record.PrematureEOF, map[string]uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, _ := serve(t, liarServer{sum: tt.sum})
			sink := &fakeSink{}
			p := driver.Params{ID: 9, Messages: 1000, Payload: 1000} // enough to see the early end in Send
			end := runStream(t, context.Background(), NewSumDriver(cc, p, sink), sink)
			if end.Class != tt.end {
				t.Errorf("end %v (%s), want %v", end.Key(), sink.lastDetail(), tt.end)
			}
			if got := sink.violated(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("violations %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSqrtDriverViolations(t *testing.T) {
	// answer answers request r with (seq, root) = f(r).
	answer := func(f func(r *pb.SqrtRequest) (seq uint64, root float64, ok bool)) func(grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
		return func(s grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error {
			for {
				r, err := s.Recv()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				seq, root, ok := f(r)
				if !ok {
					continue
				}
				if err := s.Send(&pb.SqrtResponse{Seq: seq, Root: root, Payload: r.Payload}); err != nil {
					return err
				}
			}
		}
	}
	tests := []struct {
		name string
		sqrt func(grpc.BidiStreamingServer[pb.SqrtRequest, pb.SqrtResponse]) error
		end  record.Class
		want map[string]uint64
	}{
		{"correct", answer(func(r *pb.SqrtRequest) (uint64, float64, bool) {
			return r.Seq, stdmath.Sqrt(r.Value), true
		}), record.Complete, map[string]uint64{}},
		{"root of seq instead", answer(func(r *pb.SqrtRequest) (uint64, float64, bool) {
			return r.Seq, stdmath.Sqrt(float64(r.Seq)), true
		}), record.Violation, map[string]uint64{"wrong_value": 10}},
		{"skips seq 3", answer(func(r *pb.SqrtRequest) (uint64, float64, bool) {
			return r.Seq, stdmath.Sqrt(r.Value), r.Seq != 3
		}), record.Violation, map[string]uint64{"gap": 1}},
		{"drops the last", answer(func(r *pb.SqrtRequest) (uint64, float64, bool) {
			return r.Seq, stdmath.Sqrt(r.Value), r.Seq != 9
		}), record.PrematureEOF, map[string]uint64{}},
		{"wrong seq", answer(func(r *pb.SqrtRequest) (uint64, float64, bool) {
			return r.Seq + 100, stdmath.Sqrt(r.Value), true
		}), record.Violation, map[string]uint64{"extra": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, _ := serve(t, liarServer{sqrt: tt.sqrt})
			sink := &fakeSink{}
			end := runStream(t, context.Background(), NewSqrtDriver(cc, driver.Params{Messages: 10, Payload: 8}, sink), sink)
			if end.Class != tt.end {
				t.Errorf("end %v (%s), want %v", end.Key(), sink.lastDetail(), tt.end)
			}
			if got := sink.violated(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("violations %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSeqCheck(t *testing.T) {
	tests := []struct {
		name     string
		count    uint64
		seqs     []uint64
		want     map[record.Kind]uint64
		complete bool
	}{
		{"in order", 4, []uint64{0, 1, 2, 3}, nil, true},
		{"short", 4, []uint64{0, 1, 2}, nil, false},
		{"gap", 4, []uint64{0, 2, 3}, map[record.Kind]uint64{record.Gap: 1}, false},
		{"late fills gap", 4, []uint64{0, 2, 1, 3}, map[record.Kind]uint64{record.Gap: 1, record.Reorder: 1}, true},
		{"duplicate", 4, []uint64{0, 1, 1, 2}, map[record.Kind]uint64{record.Duplicate: 1}, false},
		{"duplicate after gap", 200, []uint64{0, 100, 100, 50, 50}, map[record.Kind]uint64{record.Gap: 99, record.Duplicate: 2, record.Reorder: 1}, false},
		{"word boundary", 130, []uint64{0, 1, 64, 63, 64, 129}, map[record.Kind]uint64{record.Gap: 62 + 64, record.Reorder: 1, record.Duplicate: 1}, false},
		{"duplicate of in-order seq after gap", 130, append(seqRange(70), 100, 69, 5), map[record.Kind]uint64{record.Gap: 30, record.Duplicate: 2}, false},
		{"seq beyond count", 4, []uint64{0, 7}, map[record.Kind]uint64{record.Extra: 1}, false},
		{"too many", 2, []uint64{0, 1, 1}, map[record.Kind]uint64{record.Extra: 1}, true},
		{"count 0", 0, []uint64{0}, map[record.Kind]uint64{record.Extra: 1}, true},
	}
	var c seqCheck // reused across cases, as a driver does across streams
	for _, tt := range tests {
		c.reset(tt.count)
		got := map[record.Kind]uint64{}
		for _, seq := range tt.seqs {
			if r, k, n := c.observe(seq); r != seqInOrder {
				got[k] += n
			}
		}
		if tt.want == nil {
			tt.want = map[record.Kind]uint64{}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: violations %v, want %v", tt.name, got, tt.want)
		}
		if c.complete() != tt.complete {
			t.Errorf("%s: complete %v, want %v", tt.name, c.complete(), tt.complete)
		}
	}
}

func seqRange(n uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)
	}
	return out
}
