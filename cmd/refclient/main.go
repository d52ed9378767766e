// Command refclient is the reference subscriber client of the Longlived
// feed (package targets/refclient): it subscribes, rides out failures
// with gRPC's backoff, resumes from the next seq it needs and moves off a
// connection that gets a GOAWAY. --faulty NAME plants a bug, so a judge
// of clients can be shown to catch it.
//
//	refclient --addr 127.0.0.1:7070 --replica 3 [--backoff-base 1s] [--faulty hot-loop]
//
// It runs until SIGINT or SIGTERM (or --duration), then prints what it
// saw; exit 1 when it gave up (--faulty give-up), 2 on bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/targets/refclient"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("refclient", flag.ContinueOnError)
	var (
		o        refclient.Options
		duration time.Duration
		quiet    bool
	)
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:7070", "the server's (or streambench proxy's) host:port")
	fs.IntVar(&o.Replica, "replica", 0, "this client's replica number")
	fs.StringVar(&o.ClientID, "client-id", "", "the client's id, sent in --header (default refclient-<replica>)")
	fs.StringVar(&o.Header, "header", refclient.DefaultHeader, "the metadata header carrying the client id")
	fs.DurationVar(&o.Backoff.Base, "backoff-base", driver.DefaultBackoff.Base, "the first backoff delay (gRPC: 1s)")
	fs.Float64Var(&o.Backoff.Multiplier, "backoff-multiplier", driver.DefaultBackoff.Multiplier, "backoff growth per failure")
	fs.Float64Var(&o.Backoff.Jitter, "backoff-jitter", driver.DefaultBackoff.Jitter, "backoff jitter, a fraction")
	fs.DurationVar(&o.Backoff.Max, "backoff-max", driver.DefaultBackoff.Max, "the longest backoff delay")
	fs.DurationVar(&o.MinConnectTimeout, "connect-timeout", 20*time.Second, "bound of each connection attempt")
	fs.DurationVar(&o.Idle, "idle", 0, "resubscribe when no update arrives for this long (0: never)")
	fs.DurationVar(&o.Keepalive, "keepalive", 0, "keepalive ping interval (0: none; grpc-go raises it to 10s)")
	fs.StringVar(&o.Faulty, "faulty", "", "plant a bug: "+strings.Join(refclient.Bugs, ", "))
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the jitter (with the replica)")
	fs.DurationVar(&duration, "duration", 0, "stop after this long (0: at SIGINT/SIGTERM)")
	fs.BoolVar(&quiet, "quiet", false, "do not log stream ends")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds)
	if !quiet {
		o.Logf = logger.Printf
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if duration > 0 {
		// A cancel, not a deadline: a deadline would travel to the
		// server with every call and end the stream there first.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer time.AfterFunc(duration, cancel).Stop()
		defer cancel()
	}
	st, err := refclient.Run(ctx, o)
	fmt.Printf("streams %d failures %d moves %d received %d duplicates %d lost %d next %d\n",
		st.Streams, st.Failures, st.Moves, st.Received, st.Duplicates, st.Lost, st.Next)
	switch {
	case errors.Is(err, refclient.ErrGaveUp):
		logger.Print(err)
		return 1
	case err != nil:
		logger.Print(err)
		return 2
	}
	return 0
}
