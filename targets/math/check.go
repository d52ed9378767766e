package math

import (
	"context"
	"fmt"
	stdmath "math"
	"time"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
)

// seqCheck follows the seqs of one stream that must arrive as 0, 1, …,
// count-1. It allocates nothing while seqs arrive in order; the first
// out-of-order seq allocates (or reuses) a bitset of seen seqs so that a
// late seq can be told apart as a duplicate or a reorder.
type seqCheck struct {
	count uint64 // seqs the stream must carry
	next  uint64 // the seq expected next (one past the highest seen)
	got   uint64 // messages observed

	seen     []uint64 // bitset of seen seqs, valid when tracking
	tracking bool
}

// seqResult says where an observed seq fits.
type seqResult uint8

const (
	seqInOrder seqResult = iota // seq == next
	seqGap                      // seq > next: next … seq-1 skipped
	seqLate                     // seq < next: a duplicate or a reorder
	seqExtra                    // beyond the protocol: the stream must be aborted
)

func (c *seqCheck) reset(count uint64) {
	c.count, c.next, c.got, c.tracking = count, 0, 0, false
}

// complete reports whether count messages arrived, up to seq count-1.
// Only with no violation does that mean every seq arrived once, in order.
func (c *seqCheck) complete() bool { return c.next == c.count && c.got == c.count }

// observe files one message with seq. For anything but seqInOrder it also
// returns the violation kind and how many violations it makes. A message
// with seq >= count, or any message once count messages have arrived, is
// Extra.
func (c *seqCheck) observe(seq uint64) (seqResult, record.Kind, uint64) {
	if c.got >= c.count || seq >= c.count {
		return seqExtra, record.Extra, 1
	}
	c.got++
	switch {
	case seq == c.next:
		if c.tracking {
			c.mark(seq)
		}
		c.next++
		return seqInOrder, 0, 0
	case seq > c.next:
		c.track()
		c.mark(seq)
		n := seq - c.next
		c.next = seq + 1
		return seqGap, record.Gap, n
	default:
		c.track()
		if c.seen[seq/64]&(1<<(seq%64)) != 0 {
			return seqLate, record.Duplicate, 1
		}
		c.mark(seq)
		return seqLate, record.Reorder, 1
	}
}

func (c *seqCheck) mark(seq uint64) { c.seen[seq/64] |= 1 << (seq % 64) }

// track starts the bitset, with every seq below next marked seen (they all
// arrived in order so far).
func (c *seqCheck) track() {
	if c.tracking {
		return
	}
	words := int((c.count + 63) / 64)
	if cap(c.seen) < words {
		c.seen = make([]uint64, words)
	} else {
		c.seen = c.seen[:words]
		clear(c.seen)
	}
	full := int(c.next / 64)
	for i := range full {
		c.seen[i] = ^uint64(0)
	}
	if rem := c.next % 64; rem > 0 {
		c.seen[full] = 1<<rem - 1
	}
	c.tracking = true
}

// violations counts one stream's protocol violations and keeps the first
// one's description.
type violations struct {
	n     uint64
	first string
}

func (v *violations) reset() { v.n, v.first = 0, "" }

// add reports n violations of kind k to sink; format and args describe it
// (formatted only for the stream's first violation).
func (v *violations) add(sink record.Sink, k record.Kind, n uint64, format string, args ...any) {
	sink.Violated(k, n)
	if v.n == 0 {
		v.first = k.String() + ": " + fmt.Sprintf(format, args...)
	}
	v.n += n
}

// end returns the stream's end: Violation when any violation was seen
// (whatever the stream's own end), else e.
func (v *violations) end(e record.End, detail string) (record.End, string) {
	if v.n == 0 {
		return e, detail
	}
	d := fmt.Sprintf("%d violation(s), first %s", v.n, v.first)
	if detail != "" {
		d += "; stream then ended: " + detail
	}
	return record.End{Class: record.Violation}, d
}

// pacer waits between messages with one reusable timer.
type pacer struct{ t *time.Timer }

// wait sleeps d, or until ctx ends (then it returns false).
func (p *pacer) wait(ctx context.Context, d time.Duration) bool {
	if p.t == nil {
		p.t = time.NewTimer(d)
	} else {
		p.t.Reset(d) // Go ≥ 1.23 timers: no stale tick survives Reset
	}
	select {
	case <-p.t.C:
		return true
	case <-ctx.Done():
		p.t.Stop()
		return false
	}
}

// streamContext derives one stream's context: cancellable, with the
// stream timeout as deadline when it is positive.
// oneStream is every Math driver's Stream: it bounds the stream by
// timeout, counts it open and ended, and times it; run does the protocol.
func oneStream(ctx context.Context, timeout time.Duration, sink record.Sink, run func(context.Context, context.CancelFunc) (record.End, string)) record.End {
	ctx, cancel := streamContext(ctx, timeout)
	defer cancel()
	start := time.Now()
	sink.Started()
	end, detail := run(ctx, cancel)
	sink.Ended(end, time.Since(start), detail)
	return end
}

// opened tells sink (when it counts them) that a stream began at began is
// established: for the Math RPCs, whose servers answer only with data, that
// is when the call returned (a stream slot granted, the request sent).
func opened(sink record.Sink, began time.Time) {
	if o, ok := sink.(record.OpenedSink); ok {
		o.Opened(time.Since(began))
	}
}

func streamContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return context.WithCancel(ctx)
}

// sinceUnixNano is the time elapsed since the Unix-nanosecond stamp t
// (never negative, as clocks of two hosts may disagree).
func sinceUnixNano(t int64) time.Duration {
	d := time.Duration(time.Now().UnixNano() - t)
	if d < 0 {
		return 0
	}
	return d
}

// powWrap is base^e with int64 wrap-around (the expected value after a gap;
// in-range whenever the server accepted the request).
func powWrap(base int64, e uint64) int64 {
	v := int64(1)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			v *= base
		}
		base *= base
	}
	return v
}

// clampInt32 converts n to int32, saturating.
func clampInt32(n int) int32 {
	switch {
	case n > stdmath.MaxInt32:
		return stdmath.MaxInt32
	case n < stdmath.MinInt32:
		return stdmath.MinInt32
	}
	return int32(n)
}

// corrector records coordinated-omission corrected latency: measured from
// when message i was meant to go out — the stream's intended start (an
// open-loop slot, or its actual start) plus i intervals — so a sender held
// up by the target shows in the figure instead of hiding it.
type corrector struct {
	sink     record.CorrectedSink
	start    time.Time
	interval time.Duration
	last     uint64 // the highest message index a stream can have
}

func newCorrector(sink record.Sink, interval time.Duration) corrector {
	cs, _ := sink.(record.CorrectedSink)
	return corrector{sink: cs, interval: interval}
}

// begin starts a stream of n messages.
func (c *corrector) begin(ctx context.Context, n int) {
	c.start = driver.Intended(ctx)
	c.last = uint64(max(n, 1) - 1)
}

// record notes message i's corrected latency; it is never below raw.
func (c *corrector) record(i uint64, raw time.Duration) {
	if c.sink == nil {
		return
	}
	d := time.Since(c.start.Add(time.Duration(min(i, c.last)) * c.interval))
	c.sink.Corrected(max(d, raw))
}
