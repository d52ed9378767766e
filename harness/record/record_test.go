package record

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRecorderCountsAndMerges(t *testing.T) {
	r := New(4, nil)
	const clients, msgs = 16, 1000
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			s := r.Client(c)
			s.Started()
			for i := 0; i < msgs; i++ {
				s.Sent()
				s.Received(time.Duration(i+1) * time.Microsecond)
			}
			switch c % 4 {
			case 0:
				s.Ended(End{Class: Complete}, time.Second, "")
			case 1:
				s.Ended(End{Class: PrematureEOF}, time.Second, "clean EOF after 3")
			case 2:
				s.Ended(End{Class: Status, Code: codes.Unavailable}, time.Second, "reset")
			case 3:
				s.Violated(Gap, 5)
				s.Ended(End{Class: Canceled}, time.Second, "")
			}
		}(c)
	}
	wg.Wait()
	snap := r.Snapshot()
	if snap.Started != clients || snap.Ended != clients {
		t.Fatalf("started/ended = %d/%d, want %d", snap.Started, snap.Ended, clients)
	}
	if snap.Failed != clients/2 {
		t.Errorf("failed = %d, want %d (premature EOF and status count, complete and canceled do not)", snap.Failed, clients/2)
	}
	if snap.Sent != clients*msgs || snap.Received != clients*msgs {
		t.Errorf("sent/received = %d/%d, want %d", snap.Sent, snap.Received, clients*msgs)
	}
	if got := snap.Latency.TotalCount(); got != clients*msgs {
		t.Errorf("latency count = %d, want %d (no sample lost across shards)", got, clients*msgs)
	}
	if got := snap.Latency.Max(); got < 999 || got > 1001 {
		t.Errorf("latency max = %dµs, want ~1000", got)
	}
	want := map[string]uint64{"complete": 4, "premature_eof": 4, "status:Unavailable": 4, "canceled": 4}
	for k, v := range want {
		if snap.Ends[k] != v {
			t.Errorf("ends[%s] = %d, want %d (all: %v)", k, snap.Ends[k], v, snap.Ends)
		}
	}
	if snap.Violations["gap"] != 20 {
		t.Errorf("gap violations = %d, want 20", snap.Violations["gap"])
	}
	if len(snap.Samples) != 8 {
		t.Errorf("samples = %d, want 8 (one per failed end)", len(snap.Samples))
	}
}

func TestRecorderClampsOutOfRange(t *testing.T) {
	r := New(1, nil)
	s := r.Client(0)
	s.Received(2 * time.Hour)
	s.Received(-time.Second) // clock skew: recorded as the lowest value
	snap := r.Snapshot()
	if snap.Clamped != 1 {
		t.Errorf("clamped = %d, want 1", snap.Clamped)
	}
	if snap.Latency.TotalCount() != 2 {
		t.Errorf("count = %d, want 2", snap.Latency.TotalCount())
	}
}

func TestSamplesBounded(t *testing.T) {
	r := New(1, nil)
	for i := 0; i < 3*MaxSamples; i++ {
		r.Client(0).Ended(End{Class: Status, Code: codes.Internal}, time.Millisecond, "x")
	}
	if n := len(r.Snapshot().Samples); n != MaxSamples {
		t.Errorf("samples = %d, want %d", n, MaxSamples)
	}
	// A fault's transport errors do not crowd out a later violation (the
	// example a no_duplicates detail quotes).
	r.Client(0).Ended(End{Class: Violation}, time.Millisecond, "reorder: version_info \"1\" after \"26\": went back")
	s := r.Snapshot().Samples
	if n := len(s); n != MaxSamples+1 || s[n-1].End.Class != Violation {
		t.Errorf("samples = %d, the last %+v; want %d, the violation last", n, s[n-1], MaxSamples+1)
	}
}

func TestEndKey(t *testing.T) {
	for _, tc := range []struct {
		end  End
		want string
	}{
		{End{Class: Complete}, "complete"},
		{End{Class: PrematureEOF}, "premature_eof"},
		{End{Class: Status, Code: codes.ResourceExhausted}, "status:ResourceExhausted"},
		{End{Class: Deadline}, "deadline"},
	} {
		if got := tc.end.Key(); got != tc.want {
			t.Errorf("%+v.Key() = %q, want %q", tc.end, got, tc.want)
		}
	}
}

func BenchmarkReceived(b *testing.B) {
	r := New(8, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := r.Client(int(time.Now().UnixNano() % 8))
		d := 123 * time.Microsecond
		for pb.Next() {
			s.Received(d)
		}
	})
}

func TestClientRecovery(t *testing.T) {
	now := time.Unix(1000, 0)
	r := New(2, func() time.Time { return now })
	c := r.Client(1)
	c.Received(time.Millisecond)
	c.Ended(End{Class: Status, Code: codes.Unavailable}, time.Second, "reset")
	now = now.Add(300 * time.Millisecond)
	c.Ended(End{Class: Status, Code: codes.Unavailable}, time.Millisecond, "still down") // same outage
	if !c.Broken() {
		t.Fatal("client not broken after a failed stream")
	}
	now = now.Add(200 * time.Millisecond)
	c.Received(time.Millisecond) // recovered 500ms after the first break
	c.Ended(End{Class: Canceled}, time.Second, "")
	other := r.Client(2)
	other.Ended(End{Class: PrematureEOF}, time.Second, "x") // never recovers

	snap := r.Snapshot()
	if snap.Broke != 2 || snap.Recovered != 1 {
		t.Fatalf("broke/recovered = %d/%d, want 2/1", snap.Broke, snap.Recovered)
	}
	if got := snap.Recovery.Max(); got < 499_000 || got > 501_000 {
		t.Fatalf("recovery = %dµs, want 500ms from the first break", got)
	}
	if f := snap.Freshness; f.Bound != DefaultFreshFloor || f.Baseline != time.Millisecond || f.Explicit {
		t.Fatalf("freshness = %+v, want the floor over a 1ms baseline", f)
	}
}

// A stale replay after a break: the first message arrives 200ms after the
// break but carries 3s of latency, and the client is back to live only
// when a message within the bound arrives, 4s after the break.
func TestClientRecoveryBackToLive(t *testing.T) {
	tests := []struct {
		name          string
		bound         time.Duration
		replay        []time.Duration // latencies of the messages after the break, 200ms apart
		wantRecovered uint64
		wantLive      time.Duration // recovery (back to live), 0 = none
		wantFirst     time.Duration
	}{
		{"stale replay then live", 0, []time.Duration{3 * time.Second, 2 * time.Second, time.Second, 90 * time.Millisecond}, 1, 800 * time.Millisecond, 200 * time.Millisecond},
		{"live at once", 0, []time.Duration{10 * time.Millisecond}, 1, 200 * time.Millisecond, 200 * time.Millisecond},
		{"never live again", 0, []time.Duration{3 * time.Second, 2 * time.Second}, 0, 0, 200 * time.Millisecond},
		{"explicit bound", time.Second, []time.Duration{3 * time.Second, 2 * time.Second, time.Second}, 1, 600 * time.Millisecond, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			r := New(1, func() time.Time { return now })
			r.SetFreshness(tt.bound, 0, 0)
			c := r.Client(0)
			for range 100 {
				c.Received(10 * time.Millisecond) // the baseline: p99 10ms, bound = floor 100ms
			}
			c.Ended(End{Class: Status, Code: codes.Unavailable}, time.Second, "restart")
			for _, lat := range tt.replay {
				now = now.Add(200 * time.Millisecond)
				c.Received(lat)
			}
			snap := r.Snapshot()
			if snap.Broke != 1 || snap.Resumed != 1 || snap.Recovered != tt.wantRecovered {
				t.Fatalf("broke/resumed/recovered = %d/%d/%d, want 1/1/%d", snap.Broke, snap.Resumed, snap.Recovered, tt.wantRecovered)
			}
			if got := time.Duration(snap.RecoveryFirst.Max()) * time.Microsecond; got < tt.wantFirst*99/100 || got > tt.wantFirst*101/100 {
				t.Errorf("first-message recovery = %v, want %v", got, tt.wantFirst)
			}
			got := time.Duration(snap.Recovery.Max()) * time.Microsecond
			if tt.wantLive == 0 && snap.Recovery.TotalCount() != 0 || tt.wantLive > 0 && (got < tt.wantLive*99/100 || got > tt.wantLive*101/100) {
				t.Errorf("back-to-live recovery = %v (%d values), want %v", got, snap.Recovery.TotalCount(), tt.wantLive)
			}
			if tt.bound > 0 != snap.Freshness.Explicit {
				t.Errorf("freshness %+v, explicit bound %v", snap.Freshness, tt.bound)
			}
		})
	}
}

func TestWindowResetsLatency(t *testing.T) {
	r := New(2, nil)
	c := r.Client(0)
	c.Received(time.Millisecond)
	c.Ended(End{Class: Status, Code: codes.Aborted}, time.Second, "")
	w1 := r.Window()
	c.Received(time.Millisecond)
	c.Received(time.Millisecond)
	w2 := r.Window()
	if w1.Latency.TotalCount() != 1 || w2.Latency.TotalCount() != 2 {
		t.Fatalf("window counts %d, %d; want 1, 2", w1.Latency.TotalCount(), w2.Latency.TotalCount())
	}
	if w2.Received != 3 || w2.Ends["status:Aborted"] != 1 {
		t.Fatalf("cumulative parts: %+v", w2)
	}
	if r.Snapshot().Latency.TotalCount() != 3 {
		t.Fatal("window reset touched the run's histogram")
	}
}

// TestAllOpenAt: the recorder notes the moment established-minus-ended
// streams first reach the watched number, from the clock of the client
// that completed the count, and never before.
func TestAllOpenAt(t *testing.T) {
	now := time.Unix(100, 0)
	r := New(2, func() time.Time { return now })
	r.WatchAllOpen(3)
	a, b, c := r.Client(1), r.Client(2), r.Client(3)
	a.Opened(time.Millisecond)
	b.Opened(time.Millisecond)
	b.Ended(End{Class: Status}, time.Second, "reset") // b's stream ended: 1 live
	now = now.Add(time.Second)
	c.Opened(time.Millisecond) // 2 live
	if at := r.AllOpenAt(); !at.IsZero() {
		t.Fatalf("all open at %v with 2 of 3 live", at)
	}
	now = now.Add(time.Second)
	b.Opened(time.Millisecond) // 3 live
	now = now.Add(time.Second)
	a.Opened(time.Millisecond) // later opens do not move it
	if at, want := r.AllOpenAt(), time.Unix(102, 0); !at.Equal(want) {
		t.Fatalf("all open at %v, want %v", at, want)
	}
}

// TestFreshnessBaselineIgnoresStartupStall: a first second seconds behind
// (a starved start) does not loosen the bound: the baseline is the best
// second's p99.
func TestFreshnessBaselineIgnoresStartupStall(t *testing.T) {
	r := New(1, nil)
	c := r.Client(0)
	for range 50 {
		c.Received(6 * time.Second)
	}
	r.Window()
	for range 50 {
		c.Received(40 * time.Millisecond)
	}
	r.Window()
	for range 5 { // too few samples to count
		c.Received(time.Millisecond)
	}
	r.Window()
	c.Ended(End{Class: Status, Code: codes.Unavailable}, time.Second, "")
	f := r.Snapshot().Freshness
	if f.Baseline < 39*time.Millisecond || f.Baseline > 41*time.Millisecond || f.Bound != 3*f.Baseline {
		t.Fatalf("freshness %+v, want the 40ms second as baseline and 3x it as bound", f)
	}
}

// TestCutMerge: a cut takes each shard's window with the counters read in
// the same critical section, merging it empties the taken histograms back
// into the pool, and from then on cutting and merging allocate nothing.
func TestCutMerge(t *testing.T) {
	r := New(4, nil)
	for id := range 8 {
		c := r.Client(id)
		c.Started()
		c.Received(time.Millisecond)
		c.Corrected(2 * time.Millisecond)
		c.Ended(End{Class: Status, Code: codes.Unavailable}, time.Second, "")
	}
	var cut Cut
	var w Window
	r.Cut(&cut)
	r.Merge(&cut, &w, time.Second)
	if w.Received != 8 || w.Latency.TotalCount() != 8 || w.Corrected.TotalCount() != 8 || w.Ends["status:Unavailable"] != 8 || w.Started != 8 {
		t.Fatalf("window %+v (latency %d, corrected %d)", w.Counters, w.Latency.TotalCount(), w.Corrected.TotalCount())
	}
	r.Cut(&cut)
	r.Merge(&cut, &w, time.Second)
	if w.Latency.TotalCount() != 0 || w.Corrected != nil || w.Received != 8 {
		t.Fatalf("second window: latency %d, corrected %v, received %d; want empty histograms and the same totals", w.Latency.TotalCount(), w.Corrected, w.Received)
	}
	c := r.Client(1)
	allocs := testing.AllocsPerRun(20, func() {
		c.Received(time.Millisecond)
		c.Corrected(time.Millisecond)
		r.Cut(&cut)
		r.Merge(&cut, &w, time.Second)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per cut and merge, want none", allocs)
	}
	if r.Snapshot().Latency.TotalCount() != 8+21 {
		t.Errorf("the run's histogram has %d values, want 29", r.Snapshot().Latency.TotalCount())
	}
}

// TestBaselineSpan: a window cut late (longer than BaselineSpan) cannot
// set the pre-outage latency: its p99 is not one second's.
func TestBaselineSpan(t *testing.T) {
	r := New(1, nil)
	c := r.Client(0)
	var cut Cut
	var w Window
	for range 20 {
		c.Received(5 * time.Millisecond)
	}
	r.Cut(&cut)
	r.Merge(&cut, &w, 3*time.Second) // late: not a baseline
	for range 20 {
		c.Received(50 * time.Millisecond)
	}
	r.Cut(&cut)
	r.Merge(&cut, &w, time.Second)
	c.Ended(End{Class: Status, Code: codes.Unavailable}, time.Second, "")
	if f := r.Snapshot().Freshness; f.Baseline < 49*time.Millisecond {
		t.Errorf("baseline %v: the 3 s window's p99 counted", f.Baseline)
	}
}

// TestCutDoesNotWaitForClients: a cut swaps every shard's window while a
// client holds a shard's lock (as one preempted mid-record would, behind
// thousands of runnable goroutines); the merge is what waits for that
// client, so its value still lands in the window it began in.
func TestCutDoesNotWaitForClients(t *testing.T) {
	r := New(2, nil)
	s := &r.shards[0]
	s.mu.Lock()
	old := s.win.Load() // the client has loaded its window, and holds the lock
	var c Cut
	cut := make(chan struct{})
	go func() { r.Cut(&c); close(cut) }()
	select {
	case <-cut:
	case <-time.After(5 * time.Second):
		t.Fatal("the cut waited for a client's lock")
	}
	var w Window
	merged := make(chan struct{})
	go func() { r.Merge(&c, &w, time.Second); close(merged) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-merged:
		t.Fatal("the merge did not wait for the client still recording into its window")
	default:
	}
	old.received++ // the client finishes its record
	_ = old.latency.RecordValue(1000)
	s.mu.Unlock()
	select {
	case <-merged:
	case <-time.After(5 * time.Second):
		t.Fatal("the merge never ended")
	}
	if w.Received != 1 || w.Latency.TotalCount() != 1 {
		t.Errorf("window: received %d, latency values %d; want the late client's 1", w.Received, w.Latency.TotalCount())
	}
}
