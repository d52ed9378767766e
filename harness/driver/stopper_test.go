package driver

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStopperBoundsConcurrencyAndRunsAll(t *testing.T) {
	const n, workers = 200, 8
	stop, fire := context.WithCancel(context.Background())
	s := NewStopper(stop, workers)
	defer s.Close()

	var ran, now, peak atomic.Int64
	release := make(chan struct{})
	for range n {
		s.AfterStop(func() {
			c := now.Add(1)
			for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
			}
			<-release
			now.Add(-1)
			ran.Add(1)
		})
	}
	time.Sleep(20 * time.Millisecond)
	if ran.Load() != 0 || now.Load() != 0 {
		t.Fatalf("callbacks ran before stop: ran %d, running %d", ran.Load(), now.Load())
	}
	fire()
	waitFor(t, "the first wave", func() bool { return now.Load() == workers })
	time.Sleep(20 * time.Millisecond) // a wrong bound would show more by now
	if got := now.Load(); got != workers {
		t.Fatalf("running at once = %d, want the bound %d", got, workers)
	}
	close(release)
	waitFor(t, "every callback", func() bool { return ran.Load() == n })
	if p := peak.Load(); p > workers {
		t.Fatalf("peak running = %d, want <= %d", p, workers)
	}
}

func TestStopperCancel(t *testing.T) {
	stop, fire := context.WithCancel(context.Background())
	s := NewStopper(stop, 1)
	defer s.Close()

	var cancelledRan atomic.Bool
	cancel := s.AfterStop(func() { cancelledRan.Store(true) })
	if !cancel() {
		t.Fatal("cancel before stop = false, want true")
	}
	if cancel() {
		t.Fatal("second cancel = true, want false")
	}

	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	running := s.AfterStop(func() { defer wg.Done(); close(started); <-release })
	fire()
	<-started
	if running() {
		t.Fatal("cancel of a running callback = true, want false")
	}
	close(release)
	wg.Wait()
	if cancelledRan.Load() {
		t.Fatal("a cancelled callback ran")
	}
}

func TestStopperOrderAndLateRegistration(t *testing.T) {
	stop, fire := context.WithCancel(context.Background())
	s := NewStopper(stop, 1)
	defer s.Close()

	var mu sync.Mutex
	var order []int
	done := make(chan struct{}, 4)
	for i := range 3 {
		s.AfterStop(func() {
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			done <- struct{}{}
		})
	}
	fire()
	for range 3 {
		<-done
	}
	s.AfterStop(func() { done <- struct{}{} }) // after stop: runs too
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a callback registered after stop did not run")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Fatalf("order = %v, want [0 1 2] (registration order)", order)
	}
}

func TestOnStopFallsBackToAfterFunc(t *testing.T) {
	stop, fire := context.WithCancel(context.Background())
	ran := make(chan struct{})
	Params{}.OnStop(stop, func() { close(ran) })
	fire()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("OnStop without AfterStop did not run fn after stop")
	}
}
