package clock

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// closed returns a channel that is already closed.
func closed() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

func TestSleep(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		d    time.Duration
		// cancelAfter cancels the context that long after the sleep starts
		// (0: never).
		cancelAfter time.Duration
		want        bool
		// atMost bounds how long the call may take.
		atMost time.Duration
	}{
		{name: "sleeps d", ctx: context.Background(), d: 5 * time.Millisecond, want: true, atMost: 5 * time.Second},
		{name: "zero", ctx: context.Background(), d: 0, want: true, atMost: time.Second},
		{name: "negative", ctx: context.Background(), d: -time.Second, want: true, atMost: time.Second},
		{name: "zero on an ended ctx", ctx: done, d: 0, want: true, atMost: time.Second},
		{name: "ended before", ctx: done, d: time.Hour, want: false, atMost: time.Second},
		{name: "cancelled while sleeping", ctx: context.Background(), d: time.Hour, cancelAfter: 5 * time.Millisecond, want: false, atMost: 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if tc.cancelAfter > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				stop := time.AfterFunc(tc.cancelAfter, cancel)
				defer stop.Stop()
				defer cancel()
			}
			start := time.Now()
			got := Sleep(ctx, tc.d)
			took := time.Since(start)
			if got != tc.want {
				t.Fatalf("Sleep(%v) = %v, want %v", tc.d, got, tc.want)
			}
			if took > tc.atMost {
				t.Fatalf("Sleep(%v) took %v, want at most %v", tc.d, took, tc.atMost)
			}
			if got && took < tc.d {
				t.Fatalf("Sleep(%v) returned true after %v", tc.d, took)
			}
		})
	}
}

func TestSleepOr(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stop, also <-chan struct{}
		d          time.Duration
		want       bool
	}{
		{name: "neither closes", stop: make(chan struct{}), also: make(chan struct{}), d: 5 * time.Millisecond, want: true},
		{name: "nil channels", d: 5 * time.Millisecond, want: true},
		{name: "stop closed", stop: closed(), d: time.Hour, want: false},
		{name: "also closed", stop: make(chan struct{}), also: closed(), d: time.Hour, want: false},
		{name: "zero with a closed channel", stop: closed(), d: 0, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got := SleepOr(tc.stop, tc.also, tc.d)
			if got != tc.want {
				t.Fatalf("SleepOr = %v, want %v", got, tc.want)
			}
			if took := time.Since(start); took > 5*time.Second || got && took < tc.d {
				t.Fatalf("SleepOr(%v) = %v after %v", tc.d, got, took)
			}
		})
	}
}

func TestSleepOnFake(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       time.Duration
		advance time.Duration // how far the fake clock moves
		cancel  bool          // cancel the context instead of (after) advancing
		want    bool
	}{
		{name: "wakes when the clock reaches d", d: time.Minute, advance: time.Minute, want: true},
		{name: "cancelled before the clock reaches d", d: time.Minute, advance: 30 * time.Second, cancel: true, want: false},
		{name: "zero", d: 0, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFake(time.Unix(0, 0))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan bool, 1)
			go func() { got <- SleepOn(ctx, f, tc.d) }()
			if tc.d > 0 {
				deadline := time.Now().Add(5 * time.Second)
				for f.Waiters() == 0 {
					if time.Now().After(deadline) {
						t.Fatal("SleepOn never waited on the fake clock")
					}
					time.Sleep(time.Millisecond)
				}
			}
			f.Advance(tc.advance)
			if tc.cancel {
				cancel()
			}
			select {
			case g := <-got:
				if g != tc.want {
					t.Fatalf("SleepOn = %v, want %v", g, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("SleepOn did not return")
			}
		})
	}
}
