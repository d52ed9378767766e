package driver

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffDelayNoJitter(t *testing.T) {
	noJitter := Backoff{Base: 100 * time.Millisecond, Multiplier: 2, Max: time.Second}
	grpcNoJitter := Backoff{Base: time.Second, Multiplier: 1.6, Max: 120 * time.Second}
	for _, tc := range []struct {
		name    string
		b       Backoff
		attempt int
		want    time.Duration
	}{
		{"attempt 0 is base", noJitter, 0, 100 * time.Millisecond},
		{"negative attempt is 0", noJitter, -3, 100 * time.Millisecond},
		{"doubles", noJitter, 1, 200 * time.Millisecond},
		{"doubles twice", noJitter, 2, 400 * time.Millisecond},
		{"capped", noJitter, 4, time.Second},
		{"capped far out", noJitter, 1 << 30, time.Second},
		{"grpc 1", grpcNoJitter, 1, 1600 * time.Millisecond},
		{"grpc 5", grpcNoJitter, 5, 10485760 * time.Microsecond}, // 1.6^5 = 10.48576
		{"grpc capped", grpcNoJitter, 11, 120 * time.Second},     // 1.6^11 ≈ 175
		{"multiplier 1 is constant", Backoff{Base: time.Second, Multiplier: 1, Max: time.Minute}, 50, time.Second},
		{"multiplier below 1 counts as 1", Backoff{Base: time.Second, Multiplier: 0.5, Max: time.Minute}, 3, time.Second},
		{"max below base counts as base", Backoff{Base: time.Second, Multiplier: 2, Max: time.Millisecond}, 3, time.Second},
		{"zero is default base", Backoff{}, 0, time.Second},
		{"zero fields take defaults", Backoff{Base: 50 * time.Millisecond}, 2, 128 * time.Millisecond}, // 50ms × 1.6²
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Jitter 0 (or a nil rnd) makes Delay exact.
			if got := tc.b.Delay(tc.attempt, rand.New(rand.NewPCG(1, 2))); got != tc.want {
				t.Errorf("Delay(%d) = %v, want %v", tc.attempt, got, tc.want)
			}
		})
	}
}

func TestBackoffJitter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       Backoff
		attempt int
		center  time.Duration
		jitter  float64
	}{
		{"grpc default attempt 1", DefaultBackoff, 1, 1600 * time.Millisecond, 0.2},
		{"grpc default capped", DefaultBackoff, 30, 120 * time.Second, 0.2},
		{"zero backoff is grpc default", Backoff{}, 3, 4096 * time.Millisecond, 0.2},
		{"full jitter", Backoff{Base: 10 * time.Millisecond, Multiplier: 2, Max: time.Second, Jitter: 1}, 2, 40 * time.Millisecond, 1},
		{"jitter above 1 counts as 1", Backoff{Base: 10 * time.Millisecond, Multiplier: 2, Max: time.Second, Jitter: 5}, 2, 40 * time.Millisecond, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(42, 7))
			lo := time.Duration(float64(tc.center) * (1 - tc.jitter))
			hi := time.Duration(float64(tc.center) * (1 + tc.jitter))
			var below, above int
			for range 2000 {
				d := tc.b.Delay(tc.attempt, rnd)
				if d < lo || d > hi {
					t.Fatalf("Delay = %v, outside [%v, %v]", d, lo, hi)
				}
				if d < tc.center {
					below++
				} else {
					above++
				}
			}
			if below < 800 || above < 800 {
				t.Errorf("jitter is lopsided: %d below, %d above %v", below, above, tc.center)
			}
			// Attempt 0 is never jittered (the spec's initial backoff).
			if d := tc.b.Delay(0, rnd); d != tc.b.WithDefaults().Base {
				t.Errorf("Delay(0) = %v, want base %v", d, tc.b.WithDefaults().Base)
			}
			// No rnd, no jitter.
			if d := tc.b.Delay(tc.attempt, nil); d != tc.center {
				t.Errorf("Delay(%d, nil) = %v, want %v", tc.attempt, d, tc.center)
			}
		})
	}
}

// The same seed gives the same delays: a run's reconnect pauses replay.
func TestBackoffDeterministic(t *testing.T) {
	seq := func(seed uint64) []time.Duration {
		rnd := rand.New(rand.NewPCG(seed, seed))
		var out []time.Duration
		for a := range 20 {
			out = append(out, DefaultBackoff.Delay(a, rnd))
		}
		return out
	}
	a, b, c := seq(1), seq(1), seq(2)
	same := func(x, y []time.Duration) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatalf("same seed, different delays:\n%v\n%v", a, b)
	}
	if same(a, c) {
		t.Fatalf("different seeds, same delays: %v", a)
	}
}

func TestBackoffValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    Backoff
		ok   bool
	}{
		{"zero", Backoff{}, true},
		{"default", DefaultBackoff, true},
		{"partial", Backoff{Base: 50 * time.Millisecond, Max: 2 * time.Second}, true},
		{"negative base", Backoff{Base: -time.Second}, false},
		{"negative max", Backoff{Max: -time.Second}, false},
		{"max below base", Backoff{Base: 2 * time.Second, Max: time.Second}, false},
		{"max below default base", Backoff{Max: 100 * time.Millisecond}, false},
		{"multiplier below 1", Backoff{Multiplier: 0.5}, false},
		{"jitter negative", Backoff{Jitter: -0.1}, false},
		{"jitter above 1", Backoff{Jitter: 1.5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.b.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func BenchmarkBackoffDelay(b *testing.B) {
	rnd := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = DefaultBackoff.Delay(i%16, rnd)
	}
}
