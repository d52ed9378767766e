package clock

import (
	"testing"
	"time"
)

func TestFakeWakesInOrder(t *testing.T) {
	start := time.Unix(100, 0)
	f := NewFake(start)
	late, early, now := f.After(2*time.Second), f.After(time.Second), f.After(0)
	select {
	case <-now:
	default:
		t.Fatal("After(0) did not fire at once")
	}
	if f.Waiters() != 2 {
		t.Fatalf("waiters = %d, want 2", f.Waiters())
	}
	f.Advance(1500 * time.Millisecond)
	select {
	case got := <-early:
		if !got.Equal(start.Add(time.Second)) {
			t.Fatalf("early fired with %v", got)
		}
	default:
		t.Fatal("the 1s waiter did not fire at 1.5s")
	}
	select {
	case <-late:
		t.Fatal("the 2s waiter fired at 1.5s")
	default:
	}
	f.Advance(time.Second)
	<-late
	if got := f.Now(); !got.Equal(start.Add(2500 * time.Millisecond)) {
		t.Fatalf("now = %v", got)
	}
}

func TestRealClock(t *testing.T) {
	var c Clock = Real{}
	before := time.Now()
	<-c.After(time.Millisecond)
	if c.Now().Before(before) {
		t.Fatal("real clock went backwards")
	}
}
