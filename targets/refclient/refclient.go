// Package refclient is the reference subscriber client: a program that
// follows the Longlived feed the way a streaming client should, written
// to be read as the correct example, and the same client with planted
// bugs (Options.Faulty) so that every check of the user's own clients can
// be shown to fail.
//
// What the correct client does:
//   - one ClientConn for its whole life, with gRPC's connection backoff
//     (doc/connection-backoff.md: 1 s, ×1.6, ±20 % jitter, at most 120 s;
//     Options.Backoff scales it for tests);
//   - one Subscribe stream at a time, opened with wait-for-ready (a call
//     waits for a connection instead of failing while the channel
//     reconnects);
//   - after a stream that delivered updates ends, it resubscribes at once
//     (as gRPC reconnects at once after losing a connection that worked);
//     after a stream that failed with nothing delivered, it pauses by the
//     same backoff, the failures in a row counting the attempt;
//   - every resubscribe resumes from the next seq it needs (last seen + 1),
//     so nothing is lost and nothing is seen twice;
//   - each stream has a context of its own, cancelled when the stream is
//     done with, so no stream is left open on the server;
//   - when its connection gets a GOAWAY (the channel leaves READY while the
//     stream is live), it cancels the stream and resubscribes at once, on
//     the new connection the channel makes, before the old one's grace
//     ends (gRFC A9). A broken connection takes the channel out of READY
//     too, but ends its streams at once, after the updates already
//     received: the client waits MoveAfter before it cancels, so it reads
//     those instead of discarding them;
//   - keepalive, if asked for, no more often than grpc-go allows (10 s at
//     least, gRFC A8).
//
// Every Subscribe carries the client's identity in a metadata header
// (Options.Header: Options.ClientID).
package refclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	"github.com/streambench/streambench/harness/driver"
	pb "github.com/streambench/streambench/targets/proto"
)

// The planted bugs Options.Faulty names.
const (
	// HotLoop retries at once after a failure, with no backoff at all:
	// it drops its ClientConn and dials a new one each time (a common
	// way to "reset" a client), so its connection attempts hammer the
	// server too.
	HotLoop = "hot-loop"
	// NoJitter backs off without jitter (its channel too): a fleet cut at
	// once retries in lockstep.
	NoJitter = "no-jitter"
	// ResumeFromZero resubscribes with from_seq 0 (from now): it loses
	// what was published while it was away.
	ResumeFromZero = "resume-from-zero"
	// ResumeFromLast resubscribes from the last seq seen instead of the
	// next: it gets that update twice.
	ResumeFromLast = "resume-from-last"
	// GiveUp stops after three failed attempts in a row and never comes
	// back.
	GiveUp = "give-up"
	// Abandon, when a stream goes idle (Options.Idle), opens a new one
	// without cancelling the old: the old stays open on the server.
	Abandon = "abandon"
	// PingFlood also keeps an HTTP/2 connection of its own that sends a
	// PING every Options.PingEvery, far more often than servers permit
	// (grpc-go clamps its own keepalive to 10 s, so this bug speaks
	// HTTP/2 itself).
	PingFlood = "ping-flood"
	// IgnoreGoAway does not watch its connection: on a GOAWAY its stream
	// stays on the old connection until the server closes it.
	IgnoreGoAway = "ignore-goaway"
)

// Bugs are the planted bugs, in the order `--faulty` documents them.
var Bugs = []string{HotLoop, NoJitter, ResumeFromZero, ResumeFromLast, GiveUp, Abandon, PingFlood, IgnoreGoAway}

// ErrGaveUp is Run's error under GiveUp.
var ErrGaveUp = errors.New("refclient: gave up after 3 failed attempts")

// DefaultHeader is the metadata header that carries the client's id.
const DefaultHeader = "x-client-id"

// Options configure a client.
type Options struct {
	// Addr is the host:port of the server (or of streambench's proxy).
	Addr string
	// Replica is this client's number among its replicas; it picks the
	// default ClientID, the subscription ids and the jitter's seed.
	Replica int
	// ClientID is sent in Header on every call (default "refclient-<Replica>").
	ClientID string
	// Header is the metadata key of ClientID (default DefaultHeader).
	Header string
	// Backoff is the pause between failed attempts, for the channel's
	// connection attempts and the client's resubscribes alike (zero:
	// gRPC's, driver.DefaultBackoff).
	Backoff driver.Backoff
	// MinConnectTimeout bounds each connection attempt (default 20 s, as
	// gRPC's spec says).
	MinConnectTimeout time.Duration
	// Idle, if > 0, resubscribes when no update arrives for that long.
	Idle time.Duration
	// Keepalive, if > 0, pings an idle connection that often (grpc-go
	// raises it to 10 s).
	Keepalive time.Duration
	// PingEvery is PingFlood's ping interval (default 10 ms).
	PingEvery time.Duration
	// Faulty names a planted bug (Bugs); empty: the correct client.
	Faulty string
	// Seed seeds the jitter (with Replica).
	Seed uint64
	// Logf, if not nil, is told what the client does.
	Logf func(format string, args ...any)
}

// Stats is what a client saw.
type Stats struct {
	// Streams counts the Subscribe streams opened; Failures those that
	// failed; Moves those moved off a connection going away.
	Streams, Failures, Moves int
	// Received counts updates; Duplicates and Lost what the client's own
	// seq check saw across its streams.
	Received, Duplicates, Lost uint64
	// Next is the seq the client would ask for next.
	Next uint64
}

func (o Options) validate() error {
	if o.Addr == "" {
		return errors.New("refclient: no address")
	}
	if o.Faulty != "" && !slices.Contains(Bugs, o.Faulty) {
		return fmt.Errorf("refclient: unknown faulty %q (one of %s)", o.Faulty, strings.Join(Bugs, ", "))
	}
	if err := o.Backoff.Validate(); err != nil {
		return fmt.Errorf("refclient: backoff: %w", err)
	}
	return nil
}

// client is one running client.
type client struct {
	o     Options
	bo    driver.Backoff
	rnd   *rand.Rand
	stats Stats
	last  uint64 // the highest seq seen
	// abandoned are the contexts of streams left open (Abandon): the
	// client cancels them only as it exits, then waits for their readers
	// (bg).
	abandoned []context.CancelFunc
	bg        sync.WaitGroup
}

// errMoved is the cause of a stream cancelled because its connection is
// going away.
var errMoved = errors.New("connection going away")

// errIdle is the cause of a stream cancelled by the idle watchdog.
var errIdle = errors.New("no update within the idle time")

// Run runs the client until ctx ends (nil error) or it cannot go on.
func Run(ctx context.Context, o Options) (Stats, error) {
	if err := o.validate(); err != nil {
		return Stats{}, err
	}
	if o.ClientID == "" {
		o.ClientID = fmt.Sprintf("refclient-%d", o.Replica)
	}
	if o.Header == "" {
		o.Header = DefaultHeader
	}
	if o.MinConnectTimeout <= 0 {
		o.MinConnectTimeout = 20 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	c := &client{o: o, bo: o.Backoff.WithDefaults(), rnd: rand.New(rand.NewPCG(o.Seed, uint64(o.Replica)))}
	if o.Faulty == NoJitter {
		c.bo.Jitter = 0
	}
	ctx = metadata.AppendToOutgoingContext(ctx, o.Header, o.ClientID)

	var wg sync.WaitGroup
	if o.Faulty == PingFlood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.pingFlood(ctx)
		}()
	}
	err := c.loop(ctx)
	for _, cancel := range c.abandoned {
		cancel()
	}
	c.bg.Wait()
	wg.Wait()
	return c.stats, err
}

// dial makes the client's channel.
func (c *client) dial() (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: c.bo.Base, Multiplier: c.bo.Multiplier, Jitter: c.bo.Jitter, MaxDelay: c.bo.Max},
			MinConnectTimeout: c.o.MinConnectTimeout,
		}),
	}
	if c.o.Keepalive > 0 {
		opts = append(opts, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: c.o.Keepalive, Timeout: c.o.Keepalive}))
	}
	cc, err := grpc.NewClient("passthrough:///"+c.o.Addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("refclient: dial %s: %w", c.o.Addr, err)
	}
	return cc, nil
}

// loop subscribes, and resubscribes after every end, until ctx ends.
func (c *client) loop(ctx context.Context) error {
	cc, err := c.dial()
	if err != nil {
		return err
	}
	defer func() { _ = cc.Close() }()
	failures := 0
	for ctx.Err() == nil {
		got, cause := c.subscribe(ctx, cc)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(cause, errMoved) {
			c.stats.Moves++
			failures = 0
			continue // not a failure: resubscribe on the new connection now
		}
		c.stats.Failures++
		c.o.Logf("refclient %s: stream ended after %d updates: %v", c.o.ClientID, got, cause)
		if got > 0 && c.o.Faulty != HotLoop {
			failures = 0
			continue // it worked: the first attempt again is at once
		}
		if c.o.Faulty == GiveUp && failures >= 2 {
			return ErrGaveUp
		}
		var pause time.Duration
		switch c.o.Faulty {
		case HotLoop:
			_ = cc.Close() // and a new channel at once
			if cc, err = c.dial(); err != nil {
				return err
			}
		case NoJitter:
			pause = c.bo.Delay(failures, nil)
		default:
			pause = c.bo.Delay(failures, c.rnd)
		}
		failures++
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil
			}
		}
	}
	return nil
}

// subscribe runs one Subscribe stream to its end: the updates it got and
// why it ended.
func (c *client) subscribe(ctx context.Context, cc *grpc.ClientConn) (int, error) {
	sctx, cancel := context.WithCancelCause(ctx)
	if c.o.Faulty == Abandon {
		// The bug: the stream's context is cancelled only as the client
		// exits, not when the client is done with the stream.
		c.abandoned = append(c.abandoned, func() { cancel(nil) })
	} else {
		defer cancel(nil)
	}
	c.stats.Streams++
	id := int32(c.o.Replica*1_000_000 + c.stats.Streams) // a subscription of its own
	var opts []grpc.CallOption
	if c.o.Faulty != HotLoop {
		opts = append(opts, grpc.WaitForReady(true))
	}
	stream, err := pb.NewLonglivedClient(cc).Subscribe(sctx, &pb.SubscribeRequest{Id: id, FromSeq: c.stats.Next}, opts...)
	if err != nil {
		return 0, fmt.Errorf("subscribe: %w", err)
	}
	var wg sync.WaitGroup
	wctx, wcancel := context.WithCancel(sctx)
	defer wg.Wait()
	defer wcancel()
	if c.o.Faulty != IgnoreGoAway && c.o.Faulty != HotLoop {
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchGoAway(wctx, cc, cancel)
		}()
	}
	if c.o.Faulty == Abandon && c.o.Idle > 0 {
		return c.recvAbandoning(stream)
	}
	var idle *time.Timer
	if c.o.Idle > 0 {
		idle = time.AfterFunc(c.o.Idle, func() { cancel(errIdle) })
		defer idle.Stop()
	}
	got := 0
	for {
		u, err := stream.Recv()
		if err != nil {
			if cause := context.Cause(sctx); cause != nil && sctx.Err() != nil && ctx.Err() == nil {
				err = cause
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("the server ended the stream")
			}
			return got, err
		}
		if idle != nil {
			idle.Reset(c.o.Idle)
		}
		got++
		c.received(u.GetSeq())
	}
}

// received checks an update's seq against the one after the last seen
// and moves the resume point (as the client's bug says).
func (c *client) received(seq uint64) {
	c.stats.Received++
	switch {
	case c.last == 0 || seq == c.last+1:
	case seq > c.last:
		c.stats.Lost += seq - c.last - 1
	default:
		c.stats.Duplicates++
	}
	c.last = max(c.last, seq)
	switch c.o.Faulty {
	case ResumeFromZero:
		c.stats.Next = 0
	case ResumeFromLast:
		c.stats.Next = c.last
	default:
		c.stats.Next = c.last + 1
	}
}

// MoveAfter is how long the client lets a stream run once its channel
// left READY before it moves the stream (see the package doc).
const MoveAfter = 25 * time.Millisecond

// watchGoAway cancels a live stream MoveAfter after its channel leaves
// READY: the connection got a GOAWAY (or broke). A grpc-go channel moves
// to IDLE as its connection receives GOAWAY, while that connection's
// streams go on.
func watchGoAway(ctx context.Context, cc *grpc.ClientConn, cancel context.CancelCauseFunc) {
	state := cc.GetState()
	for state != connectivity.Ready {
		if !cc.WaitForStateChange(ctx, state) {
			return
		}
		state = cc.GetState()
	}
	if !cc.WaitForStateChange(ctx, connectivity.Ready) {
		return
	}
	t := time.NewTimer(MoveAfter)
	defer t.Stop()
	select {
	case <-t.C:
		cancel(errMoved)
	case <-ctx.Done():
	}
}

// recvAbandoning is Abandon's reading: when no update arrives for
// Options.Idle it stops reading and returns, leaving the stream open (a
// reader goroutine discards what still comes until the client exits).
func (c *client) recvAbandoning(stream grpc.ServerStreamingClient[pb.Update]) (int, error) {
	msgs := make(chan uint64)
	errc := make(chan error, 1)
	gone := make(chan struct{})
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		for {
			u, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- u.GetSeq():
			case <-gone:
			}
		}
	}()
	t := time.NewTimer(c.o.Idle)
	defer t.Stop()
	got := 0
	for {
		select {
		case seq := <-msgs:
			got++
			c.received(seq)
			t.Reset(c.o.Idle)
		case err := <-errc:
			return got, err
		case <-t.C:
			close(gone) // the bug: no cancel
			return got, errIdle
		}
	}
}
