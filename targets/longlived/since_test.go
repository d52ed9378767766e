package longlived

import (
	"testing"
	"time"
)

// TestSinceNumbersFromASharedMoment: servers given the same Since publish
// the same seqs at the same moments (replicas in separate processes share
// one log), and a server started late has no update from before its start.
func TestSinceNumbersFromASharedMoment(t *testing.T) {
	since := time.Now().Add(-2 * time.Second)
	for _, tc := range []struct {
		name  string
		since time.Time
		lo    uint64 // LastSeq right after Start, at 100/s
		hi    uint64
	}{
		{"numbered from 2s ago", since, 195, 215},
		{"no Since: from its own start", time.Time{}, 0, 0},
		{"Since in the future: from its own start", time.Now().Add(time.Hour), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{Rate: 100, Since: tc.since})
			s.Start()
			defer s.Close()
			if got := s.LastSeq(); got < tc.lo || got > tc.hi {
				t.Errorf("LastSeq after Start = %d, want %d..%d", got, tc.lo, tc.hi)
			}
		})
	}

	a, b := New(Config{Rate: 100, Since: since}), New(Config{Rate: 100, Since: since})
	a.Start()
	time.Sleep(300 * time.Millisecond)
	b.Start()
	defer a.Close()
	defer b.Close()
	time.Sleep(200 * time.Millisecond)
	if la, lb := a.LastSeq(), b.LastSeq(); la > lb+5 || lb > la+5 {
		t.Errorf("replicas with one Since at seq %d and %d, want within 5 of each other", la, lb)
	}
	b.mu.Lock()
	first := b.first
	b.mu.Unlock()
	if first < 220 {
		t.Errorf("the late replica's first seq is %d, want one after its start (>= 220)", first)
	}
}
