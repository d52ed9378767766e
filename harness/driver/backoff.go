package driver

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// DefaultBackoff is gRPC's connection backoff: 1 s base, ×1.6 per attempt,
// ±20 % jitter, at most 120 s (doc/connection-backoff.md in grpc/grpc).
var DefaultBackoff = Backoff{Base: time.Second, Multiplier: 1.6, Jitter: 0.2, Max: 120 * time.Second}

// Backoff is an exponential backoff with jitter, with gRPC's connection
// backoff semantics. The engine uses it for the pause before a client
// reopens a stream that failed; attempt counts the failures in a row.
//
// The zero Backoff is DefaultBackoff. In a partly set Backoff a zero Base,
// Multiplier or Max takes its default, and a zero Jitter means no jitter.
type Backoff struct {
	// Base is the delay after the first failure (attempt 0).
	Base time.Duration
	// Max caps the delay before jitter is applied.
	Max time.Duration
	// Multiplier is how much the delay grows per attempt (>= 1).
	Multiplier float64
	// Jitter is the relative randomization, in [0, 1]: a delay d becomes a
	// uniform draw from [d(1-Jitter), d(1+Jitter)].
	Jitter float64
}

// WithDefaults returns b with its zero fields set as the Backoff doc says.
func (b Backoff) WithDefaults() Backoff {
	if b == (Backoff{}) {
		return DefaultBackoff
	}
	if b.Base <= 0 {
		b.Base = DefaultBackoff.Base
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	return b
}

// Validate reports settings that Delay would have to correct: negative
// durations, Max below Base, Multiplier below 1, Jitter outside [0, 1].
// Zero fields are valid (they take defaults).
func (b Backoff) Validate() error {
	var errs []error
	if b.Base < 0 {
		errs = append(errs, fmt.Errorf("base %v is negative", b.Base))
	}
	if b.Max < 0 {
		errs = append(errs, fmt.Errorf("max %v is negative", b.Max))
	}
	if b.Multiplier != 0 && (b.Multiplier < 1 || math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0)) {
		errs = append(errs, fmt.Errorf("multiplier %v must be at least 1", b.Multiplier))
	}
	if b.Jitter < 0 || b.Jitter > 1 || math.IsNaN(b.Jitter) {
		errs = append(errs, fmt.Errorf("jitter %v must be within [0, 1]", b.Jitter))
	}
	if d := b.WithDefaults(); d.Max < d.Base {
		errs = append(errs, fmt.Errorf("max %v is below base %v", d.Max, d.Base))
	}
	return errors.Join(errs...)
}

// Delay returns the pause before retry number attempt+1 (attempt 0 = after
// the first failure), as gRPC's connection backoff spec computes it:
//
//	attempt 0: Base, exactly (the spec's INITIAL_BACKOFF has no jitter)
//	attempt n: min(Base × Multiplier^n, Max) × (1 + Jitter × U(-1, 1))
//
// so a jittered delay may exceed Max by up to Jitter × Max, as in grpc-go.
// The only randomness is rnd (seeded by the scenario, so a run replays);
// a nil rnd means no jitter. A negative attempt counts as 0. Out-of-range
// settings are corrected (Multiplier below 1 as 1, Jitter into [0, 1],
// Max below Base as Base); Validate reports them.
func (b Backoff) Delay(attempt int, rnd *rand.Rand) time.Duration {
	b = b.WithDefaults()
	if attempt <= 0 {
		return b.Base
	}
	mult := b.Multiplier
	if !(mult >= 1) || math.IsInf(mult, 0) { // also NaN
		mult = 1
	}
	jitter := b.Jitter
	if !(jitter > 0) { // also NaN
		jitter = 0
	}
	jitter = min(jitter, 1)
	maxD := float64(max(b.Max, b.Base))
	d := min(float64(b.Base)*math.Pow(mult, float64(attempt)), maxD) // Pow may be +Inf: min caps it
	if rnd != nil && jitter > 0 {
		d *= 1 + jitter*(2*rnd.Float64()-1)
	}
	if d >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}
