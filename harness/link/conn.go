package link

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streambench/streambench/harness/clock"
)

// Directions as indexes.
const (
	up   = 0 // client -> server: the wrapped conn's Write
	down = 1 // server -> client: the wrapped conn's Read
)

// registry tracks the wrapped connections of a bufconn or tcp link and the
// faults active on them.
type registry struct {
	mu     sync.Mutex
	conns  map[*faultConn]struct{}
	active map[uint64]*applied
	nextID uint64
	done   chan struct{} // closed by close: interrupts slow closes
	shut   bool
}

// applied is one Apply in force.
type applied struct {
	id    uint64
	f     Fault
	match func(Label) bool
}

func newRegistry() *registry {
	return &registry{conns: map[*faultConn]struct{}{}, active: map[uint64]*applied{}, done: make(chan struct{})}
}

func (r *registry) closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shut
}

// wrap registers c under l and starts on it every active fault that hits l.
func (r *registry) wrap(c net.Conn, l Label) (net.Conn, error) {
	fc := &faultConn{Conn: c, label: l, reg: r, closed: make(chan struct{}), changed: make(chan struct{}), faults: map[uint64]*connFault{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shut {
		c.Close()
		return nil, ErrClosed
	}
	r.conns[fc] = struct{}{}
	for _, a := range r.active {
		if a.f.hits(a.match, l) {
			fc.add(a.id, a.f)
		}
	}
	return fc, nil
}

func (r *registry) forget(fc *faultConn) {
	r.mu.Lock()
	delete(r.conns, fc)
	r.mu.Unlock()
}

// apply starts f (already validated) on the matching connections.
func (r *registry) apply(f Fault, match func(Label) bool) (func() error, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shut {
		return nil, ErrClosed
	}
	if f.Kind == HalfOpen {
		return r.halfOpen(f, match), nil
	}
	if f.Kind == Sever {
		var hit []*faultConn
		for fc := range r.conns {
			if f.hits(match, fc.label) {
				hit = append(hit, fc)
			}
		}
		// shutdown takes r.mu (to forget the conn): sever unlocked.
		r.mu.Unlock()
		for _, fc := range hit {
			fc.shutdown(true)
		}
		r.mu.Lock()
		return func() error { return nil }, nil
	}
	r.nextID++
	a := &applied{id: r.nextID, f: f, match: match}
	r.active[a.id] = a
	for fc := range r.conns {
		if f.hits(match, fc.label) {
			fc.add(a.id, f)
		}
	}
	var once sync.Once
	return func() error {
		once.Do(func() { r.revert(a.id) })
		return nil
	}, nil
}

func (r *registry) revert(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, id)
	for fc := range r.conns {
		fc.remove(id)
	}
}

func (r *registry) revertAll() {
	r.mu.Lock()
	ids := make([]uint64, 0, len(r.active))
	for id := range r.active {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.revert(id)
	}
}

// close reverts everything, refuses new dials and closes the connections
// their owners left open, waiting for their goroutines.
func (r *registry) close() {
	r.revertAll()
	r.mu.Lock()
	if !r.shut {
		r.shut = true
		close(r.done)
	}
	left := make([]*faultConn, 0, len(r.conns))
	for fc := range r.conns {
		left = append(left, fc)
	}
	r.mu.Unlock()
	for _, fc := range left {
		fc.endHalfOpen() // a side still held closes with the link
		fc.Close()
	}
}

// connFault is one fault in force on one connection.
type connFault struct {
	f    Fault
	left [2]int64 // LimitData: bytes still allowed per direction
}

// dirState is the combined effect of a connection's faults on one
// direction.
type dirState struct {
	blackhole       bool
	latency, jitter time.Duration
	rate            int64
	slice           SlicerSettings // zero when off
	limit           bool
	slowClose       time.Duration
}

// faultConn is a client net.Conn with live-switchable faults. With no fault
// ever applied, Read and Write cost one atomic load more than the plain
// conn. Latency starts a pump goroutine per direction the first time it is
// applied; the pumps stay (at zero delay) until Close, which waits for them.
type faultConn struct {
	net.Conn
	label Label
	reg   *registry
	on    atomic.Bool // any fault active, or a pump running: take the slow path

	mu      sync.Mutex
	faults  map[uint64]*connFault
	st      [2]dirState
	changed chan struct{} // closed and replaced on every state change
	next    [2]time.Time  // bandwidth: when the next byte may pass
	last    [2]time.Time  // latency: delivery time of the previous chunk (order)
	rng     [2]*rand.Rand // jitter and slice sizes, per direction
	rq      chan chunk    // downstream pump output (nil: no pump)
	wq      chan chunk    // upstream pump input (nil: no pump)
	werr    error         // upstream pump's sticky write error

	rmu sync.Mutex // serialises Read's slow path
	cur chunk      // Read: the rest of the chunk being delivered
	wmu sync.Mutex // serialises Write's slow path

	closeOnce sync.Once
	closed    chan struct{}

	// half is the half-open state (0: none; halfServerHeld,
	// halfClientHeld), halfEnd closes when it ends (halfopen.go).
	half       atomic.Int32
	halfEnd    chan struct{}
	halfOnce   sync.Once
	clientGone sync.Once
	closeErr   error
	pumps      sync.WaitGroup
}

// chunk is data stamped with the time it entered the link.
type chunk struct {
	data []byte
	ts   time.Time
	at   time.Time        // delivery time, once computed
	lat  [2]time.Duration // latency and jitter at was computed with
	err  error
}

const pumpBuf = 32 << 10

// add starts fault id on the connection. Called with reg.mu held.
func (c *faultConn) add(id uint64, f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf := &connFault{f: f}
	if l, ok := f.settings().(LimitDataSettings); ok {
		cf.left = [2]int64{int64(l.Bytes), int64(l.Bytes)}
	}
	c.faults[id] = cf
	for d, on := range f.dirs() {
		if !on {
			continue
		}
		if c.rng[d] == nil {
			s := mix(f.Seed, c.label)
			c.rng[d] = rand.New(rand.NewPCG(s, uint64(d)))
		}
		// Latency needs a pump per direction to pipeline; an upstream
		// blackhole needs the write pump so that Write still accepts bytes
		// (held, as a kernel send buffer would) and the client's GOAWAY on
		// close does not wait for grpc's 5 s loopy timeout.
		if f.Kind == Latency || f.Kind == Blackhole && d == up {
			c.startPump(d)
		}
	}
	c.recompute()
}

// remove ends fault id on the connection, if it is there.
func (c *faultConn) remove(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.faults[id]; !ok {
		return
	}
	delete(c.faults, id)
	c.recompute()
}

// recompute folds the faults into per-direction state and wakes waiters.
// Latencies add up, the lowest rate wins, the last slicer wins.
func (c *faultConn) recompute() {
	var st [2]dirState
	for _, cf := range c.faults {
		f := cf.f
		for d, on := range f.dirs() {
			if !on {
				continue
			}
			if w, ok := f.settings().(wrapped); ok {
				w.fold(&st[d])
			}
		}
	}
	for d := range st {
		if st[d].rate == 0 {
			c.next[d] = time.Time{}
		}
	}
	c.st = st
	close(c.changed)
	c.changed = make(chan struct{})
	c.on.Store(len(c.faults) > 0 || c.rq != nil || c.wq != nil || c.half.Load() != 0)
}

// startPump starts the latency pump of direction d. Called with c.mu held.
func (c *faultConn) startPump(d int) {
	select {
	case <-c.closed:
		return
	default:
	}
	if d == down && c.rq == nil {
		c.rq = make(chan chunk, 1024)
		c.pumps.Add(1)
		go c.readPump(c.rq)
	}
	if d == up && c.wq == nil {
		c.wq = make(chan chunk, 1024)
		c.pumps.Add(1)
		go c.writePump(c.wq)
	}
}

// readPump reads the underlying conn ahead, stamping each chunk, so that
// delivery can wait until stamp+latency without stalling the sender.
func (c *faultConn) readPump(q chan<- chunk) {
	defer c.pumps.Done()
	for {
		buf := make([]byte, pumpBuf)
		n, err := c.Conn.Read(buf)
		ch := chunk{data: buf[:n], ts: time.Now(), err: err}
		select {
		case q <- ch:
		case <-c.closed:
			return
		}
		if err != nil {
			return
		}
	}
}

// writePump writes queued chunks once their delay has passed.
func (c *faultConn) writePump(q <-chan chunk) {
	defer c.pumps.Done()
	for {
		var ch chunk
		select {
		case ch = <-q:
		case <-c.closed:
			return
		}
		if err := c.waitDelivery(up, &ch); err != nil {
			return
		}
		if err := c.gate(up); err != nil {
			return
		}
		if _, err := c.Conn.Write(ch.data); err != nil {
			c.mu.Lock()
			c.werr = err
			c.mu.Unlock()
			return
		}
	}
}

// waitDelivery waits until chunk ch of direction d is due: its stamp plus
// the direction's latency and a jitter draw, and never before the previous
// chunk (jitter does not reorder). A latency change re-times the wait.
func (c *faultConn) waitDelivery(d int, ch *chunk) error {
	for {
		c.mu.Lock()
		st, changed := c.st[d], c.changed
		if ch.at.IsZero() || ch.lat != [2]time.Duration{st.latency, st.jitter} {
			delay := st.latency
			if st.jitter > 0 {
				delay += time.Duration(c.rng[d].Int64N(int64(2*st.jitter))) - st.jitter
			}
			ch.at = ch.ts.Add(delay)
			ch.lat = [2]time.Duration{st.latency, st.jitter}
			if ch.at.Before(c.last[d]) {
				ch.at = c.last[d]
			}
		}
		at := ch.at
		c.mu.Unlock()
		if wait := time.Until(at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-changed:
				t.Stop()
				continue
			case <-c.closed:
				t.Stop()
				return net.ErrClosed
			}
		}
		c.mu.Lock()
		c.last[d] = at
		c.mu.Unlock()
		return nil
	}
}

// gate blocks while direction d is blackholed.
func (c *faultConn) gate(d int) error {
	for {
		c.mu.Lock()
		bh, changed := c.st[d].blackhole, c.changed
		c.mu.Unlock()
		select {
		case <-c.closed:
			return net.ErrClosed
		default:
		}
		if !bh {
			return nil
		}
		select {
		case <-changed:
		case <-c.closed:
			return net.ErrClosed
		}
	}
}

// sleep waits d or until the conn closes.
func (c *faultConn) sleep(d time.Duration) error {
	if !clock.SleepOr(c.closed, nil, d) {
		return net.ErrClosed
	}
	return nil
}

// size caps a transfer of n bytes in direction d: one slice when slicing,
// about 20 ms worth of bytes under a bandwidth cap, the bytes left under a
// data limit.
func (c *faultConn) size(d, n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st[d]
	if s := st.slice; s.AverageSize > 0 {
		sz, v := int(s.AverageSize), int(s.SizeVariation)
		if v > 0 {
			sz += c.rng[d].IntN(2*v) - v
		}
		n = min(n, max(sz, 1))
	}
	if st.rate > 0 {
		n = min(n, int(max(st.rate/50, 1)))
	}
	if st.limit {
		n = c.leftOf(d, n)
	}
	return n
}

// limited reports whether a data limit is in force in direction d, and
// how many of n bytes it still lets through.
func (c *faultConn) limited(d, n int) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.st[d].limit {
		return n, false
	}
	return c.leftOf(d, n), true
}

// leftOf returns how many of n bytes the data limits in direction d still
// let through. Called with c.mu held.
func (c *faultConn) leftOf(d, n int) int {
	for _, cf := range c.faults {
		if cf.f.Kind == LimitData && cf.f.dirs()[d] {
			n = min(n, int(max(cf.left[d], 0)))
		}
	}
	return n
}

// after accounts for n bytes that passed in direction d: it waits for the
// bandwidth cap and the slice delay, and reports whether a data limit is
// now exhausted.
func (c *faultConn) after(d, n int) (exhausted bool, err error) {
	c.mu.Lock()
	st := c.st[d]
	var wait time.Duration
	if st.rate > 0 {
		// Up to 50 ms of unused credit carries over, so that a sleep that
		// overshoots (a loaded machine) does not lower the rate.
		if floor := time.Now().Add(-50 * time.Millisecond); c.next[d].Before(floor) {
			c.next[d] = floor
		}
		c.next[d] = c.next[d].Add(time.Duration(int64(n) * int64(time.Second) / st.rate))
		wait = time.Until(c.next[d])
	}
	if st.limit {
		for _, cf := range c.faults {
			if cf.f.Kind == LimitData && cf.f.dirs()[d] {
				cf.left[d] -= int64(n)
				if cf.left[d] <= 0 {
					exhausted = true
				}
			}
		}
	}
	wait = max(wait, st.slice.Delay.D())
	c.mu.Unlock()
	if exhausted {
		return true, nil
	}
	return false, c.sleep(wait)
}

// Read implements net.Conn: the downstream direction.
func (c *faultConn) Read(p []byte) (int, error) {
	if h := c.half.Load(); h != 0 {
		return c.halfRead(h)
	}
	if !c.on.Load() {
		n, err := c.Conn.Read(p)
		if c.on.Load() {
			// A fault started while this Read was blocked.
			return c.late(n, err)
		}
		return n, err
	}
	return c.slowRead(p)
}

// late applies blackhole, limit_data and slow_close to a Read that began
// before the fault did: the data is held while blackholed, counted
// against a data limit (what lies past it is dropped with the
// connection), the close delayed.
func (c *faultConn) late(n int, err error) (int, error) {
	if h := c.half.Load(); h != 0 {
		return c.halfRead(h)
	}
	if n > 0 {
		if c.gate(down) != nil {
			return n, nil // the next Read reports the close
		}
		if k, limited := c.limited(down, n); limited {
			if k == 0 {
				c.shutdown(true)
				return 0, net.ErrClosed
			}
			if exhausted, _ := c.after(down, k); exhausted {
				c.shutdown(true)
			}
			return k, nil
		}
	}
	if err != nil {
		c.mu.Lock()
		delay := c.st[down].slowClose
		c.mu.Unlock()
		_ = c.sleep(delay)
	}
	return n, err
}

func (c *faultConn) slowRead(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.gate(down); err != nil {
		return 0, err
	}
	n := c.size(down, len(p))
	if n == 0 { // data limit already reached
		c.shutdown(true)
		return 0, net.ErrClosed
	}
	c.mu.Lock()
	q := c.rq
	c.mu.Unlock()
	var err error
	if q != nil {
		n, err = c.readQueued(q, p[:n])
	} else {
		n, err = c.Conn.Read(p[:n])
	}
	if n > 0 {
		// Data read while a blackhole started is held, not dropped.
		if err := c.gate(down); err != nil {
			return 0, err
		}
		exhausted, werr := c.after(down, n)
		if exhausted {
			c.shutdown(true)
			return n, nil
		}
		if werr != nil {
			return n, nil // the next Read reports the close
		}
	}
	if err != nil {
		c.mu.Lock()
		delay := c.st[down].slowClose
		c.mu.Unlock()
		_ = c.sleep(delay) // the server's close reaches the client late
	}
	return n, err
}

// readQueued delivers the next bytes of the downstream pump, when due.
func (c *faultConn) readQueued(q <-chan chunk, p []byte) (int, error) {
	if len(c.cur.data) == 0 && c.cur.err == nil {
		select {
		case c.cur = <-q:
		case <-c.closed:
			return 0, net.ErrClosed
		}
		if err := c.waitDelivery(down, &c.cur); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.cur.data)
	c.cur.data = c.cur.data[n:]
	if len(c.cur.data) == 0 && c.cur.err != nil {
		err := c.cur.err
		if n > 0 {
			return n, nil // report the error on the next Read
		}
		return 0, err
	}
	return n, nil
}

// Write implements net.Conn: the upstream direction.
func (c *faultConn) Write(p []byte) (int, error) {
	if h := c.half.Load(); h != 0 {
		return c.halfWrite(h, p)
	}
	if !c.on.Load() {
		n, err := c.Conn.Write(p)
		if h := c.half.Load(); err != nil && h != 0 {
			// Half-open started while this Write was blocked.
			return c.halfWrite(h, p)
		}
		return n, err
	}
	return c.slowWrite(p)
}

func (c *faultConn) slowWrite(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	total := 0
	for len(p) > 0 {
		c.mu.Lock()
		q, werr := c.wq, c.werr
		c.mu.Unlock()
		if werr != nil {
			return total, werr
		}
		if q == nil { // with a pump, the pump holds the data
			if err := c.gate(up); err != nil {
				return total, err
			}
		}
		n := c.size(up, len(p))
		if n == 0 {
			c.shutdown(true)
			return total, net.ErrClosed
		}
		if q != nil {
			ch := chunk{data: append([]byte(nil), p[:n]...), ts: time.Now()}
			select {
			case q <- ch:
			case <-c.closed:
				return total, net.ErrClosed
			}
		} else if m, err := c.Conn.Write(p[:n]); err != nil {
			return total + m, err
		}
		total += n
		p = p[n:]
		exhausted, err := c.after(up, n)
		if exhausted {
			c.shutdown(true)
			if len(p) > 0 {
				return total, net.ErrClosed
			}
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// shutdown closes the conn now; abrupt sets SO_LINGER 0 first so TCP sends
// an RST rather than a FIN.
func (c *faultConn) shutdown(abrupt bool) {
	c.closeOnce.Do(func() {
		if abrupt {
			if tc, ok := c.Conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
		close(c.closed)
		c.closeErr = c.Conn.Close()
		c.reg.forget(c)
	})
}

// Close implements net.Conn. Under slow_close (upstream) the close is
// delayed, bounded by the link's Close. It waits for the conn's pumps.
func (c *faultConn) Close() error {
	if c.half.Load() == halfServerHeld {
		// The client is done with it; the server's side stays held
		// until the half-open ends (endHalfOpen closes it).
		c.clientGone.Do(func() {})
		return nil
	}
	c.mu.Lock()
	delay := c.st[up].slowClose
	c.mu.Unlock()
	clock.SleepOr(c.closed, c.reg.done, delay)
	c.shutdown(false)
	c.pumps.Wait()
	return c.closeErr
}
