// Command plain is the baseline of bench/compare: a plain generated-stub
// grpc-go client with no measurement beyond two counters. N goroutines share
// one ClientConn (as ghz and a streambench group with connections: 1 do)
// and loop: open a stream, run it to its end, open the next, until the
// duration is over. It then prints one JSON line:
//
//	{"calls":N,"messages":M,"seconds":S}
//
// calls counts streams that ended as the protocol says they end; messages
// counts the messages of those streams (received for Subscribe, Pow and
// Sqrt, sent for Sum); seconds is from the first stream opened to the last
// stream finished.
//
// What one call is, per -rpc (the same thing ghz does):
//
//	Subscribe  subscribe with a fresh id, read -messages updates, cancel
//	Pow        {base: -base, count: -messages}, read to the end (OK)
//	Sum        send -messages numbers, CloseAndRecv
//	Sqrt       send -messages numbers from one goroutine while the caller
//	           receives the answers (pipelined, as ghz does), to the end (OK)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/streambench/streambench/targets/proto"
)

type result struct {
	Calls    uint64  `json:"calls"`
	Messages uint64  `json:"messages"`
	Errors   uint64  `json:"errors"`
	Seconds  float64 `json:"seconds"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7070", "server address (loopback)")
	rpc := flag.String("rpc", "Pow", "Subscribe | Pow | Sum | Sqrt")
	conc := flag.Int("concurrency", 50, "concurrent streams")
	msgs := flag.Int("messages", 10, "messages per stream")
	dur := flag.Duration("duration", 5*time.Second, "how long to keep opening streams")
	base := flag.Int64("base", 2, "Pow's base (2 overflows int64 past 63 messages; use 1 for long streams)")
	flag.Parse()
	if *conc < 1 || *msgs < 1 || *dur <= 0 {
		fmt.Fprintln(os.Stderr, "plain: -concurrency and -messages must be >= 1, -duration > 0")
		os.Exit(2)
	}
	var call func(ctx context.Context, cc *grpc.ClientConn, id int32) (uint64, error)
	n := *msgs
	switch *rpc {
	case "Subscribe":
		call = func(ctx context.Context, cc *grpc.ClientConn, id int32) (uint64, error) {
			return subscribe(ctx, pb.NewLonglivedClient(cc), id, n)
		}
	case "Pow":
		call = func(ctx context.Context, cc *grpc.ClientConn, _ int32) (uint64, error) {
			return pow(ctx, pb.NewMathClient(cc), *base, n)
		}
	case "Sum":
		call = func(ctx context.Context, cc *grpc.ClientConn, _ int32) (uint64, error) {
			return sum(ctx, pb.NewMathClient(cc), n)
		}
	case "Sqrt":
		call = func(ctx context.Context, cc *grpc.ClientConn, _ int32) (uint64, error) {
			return sqrt(ctx, pb.NewMathClient(cc), n)
		}
	default:
		fmt.Fprintf(os.Stderr, "plain: -rpc %q: want Subscribe, Pow, Sum or Sqrt\n", *rpc)
		os.Exit(2)
	}

	cc, err := grpc.NewClient("passthrough:///"+*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "plain:", err)
		os.Exit(1)
	}
	defer cc.Close()

	// Streams in flight when the duration ends finish; a hard bound
	// cancels anything still running 30 s later.
	ctx, cancel := context.WithTimeout(context.Background(), *dur+30*time.Second)
	defer cancel()
	var (
		calls, messages, errs atomic.Uint64
		ids                   atomic.Int32
		wg                    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(*dur)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				m, err := call(ctx, cc, ids.Add(1))
				if err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "plain: first error:", err)
					}
					continue
				}
				calls.Add(1)
				messages.Add(m)
			}
		}()
	}
	wg.Wait()
	res := result{Calls: calls.Load(), Messages: messages.Load(), Errors: errs.Load(), Seconds: time.Since(start).Seconds()}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		os.Exit(1)
	}
}

func subscribe(ctx context.Context, c pb.LonglivedClient, id int32, n int) (uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Id: id})
	if err != nil {
		return 0, err
	}
	for i := range n {
		if _, err := st.Recv(); err != nil {
			return uint64(i), err
		}
	}
	return uint64(n), nil
}

func pow(ctx context.Context, c pb.MathClient, base int64, n int) (uint64, error) {
	st, err := c.Pow(ctx, &pb.PowRequest{Base: base, Count: int32(n)})
	if err != nil {
		return 0, err
	}
	var got uint64
	for {
		_, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got++
	}
}

func sum(ctx context.Context, c pb.MathClient, n int) (uint64, error) {
	st, err := c.Sum(ctx)
	if err != nil {
		return 0, err
	}
	for i := range n {
		if err := st.Send(&pb.SumRequest{Seq: uint64(i), Value: int64(i)}); err != nil {
			break // the status comes from CloseAndRecv
		}
	}
	if _, err := st.CloseAndRecv(); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

func sqrt(ctx context.Context, c pb.MathClient, n int) (uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.Sqrt(ctx)
	if err != nil {
		return 0, err
	}
	go func() {
		for i := range n {
			if err := st.Send(&pb.SqrtRequest{Seq: uint64(i), Value: float64(i)}); err != nil {
				return
			}
		}
		st.CloseSend()
	}()
	var got uint64
	for {
		_, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got++
	}
}
