package link

import (
	"errors"
	"sync"
	"time"
)

// Half-open states of a wrapped connection (faultConn.half).
const (
	// halfServerHeld: the client's side is dead (its reads and writes
	// fail, so it redials); the server's side stays open and silent.
	halfServerHeld = 1
	// halfClientHeld: the server's side is closed; the client's stays
	// open and silent (reads block, writes vanish).
	halfClientHeld = 2
)

// errHalfOpen is what the client's side of a connection whose server side
// is held reads and writes: its connection died.
var errHalfOpen = errors.New("connection reset (half-open: the server's side is held)")

// halfOpen puts the matching live connections half-open, the side held by
// f's settings, until the returned revert closes the held sides. Called
// with r.mu held (apply); connections dialled later are not affected, so
// a client redials under the same label and gets through.
func (r *registry) halfOpen(f Fault, match func(Label) bool) func() error {
	hold := f.settings().(HalfOpenSettings).side()
	var hit []*faultConn
	for fc := range r.conns {
		if f.hits(match, fc.label) && fc.half.Load() == 0 {
			hit = append(hit, fc)
		}
	}
	// startHalfOpen may close a conn, which takes r.mu to forget it.
	r.mu.Unlock()
	for _, fc := range hit {
		fc.startHalfOpen(hold)
	}
	r.mu.Lock()
	var once sync.Once
	return func() error {
		once.Do(func() {
			for _, fc := range hit {
				fc.endHalfOpen()
			}
		})
		return nil
	}
}

// startHalfOpen makes c half-open with side hold held.
func (c *faultConn) startHalfOpen(hold string) {
	c.mu.Lock()
	c.halfEnd = make(chan struct{})
	if hold == HoldServer {
		c.half.Store(halfServerHeld)
	} else {
		c.half.Store(halfClientHeld)
	}
	c.on.Store(true)
	c.mu.Unlock()
	if hold == HoldServer {
		// A Read or Write blocked on the server now returns, and reports
		// the connection dead: nothing more crosses, in either direction.
		now := time.Now()
		_ = c.Conn.SetDeadline(now)
		return
	}
	// The server sees its connection end (a FIN on tcp); the client's
	// side goes on as if nothing happened.
	_ = c.Conn.Close()
}

// endHalfOpen closes the held side of a half-open c: the server's (it
// sees the connection end only now) or the client's (its blocked reads
// fail). A no-op on a connection that is not half-open. Idempotent.
func (c *faultConn) endHalfOpen() {
	h := c.half.Load()
	if h == 0 {
		return
	}
	c.halfOnce.Do(func() {
		c.mu.Lock()
		end := c.halfEnd
		c.mu.Unlock()
		close(end)
		if h == halfServerHeld {
			c.shutdown(false)
			c.pumps.Wait()
		}
	})
}

// halfRead is a Read of a half-open connection: dead for the client when
// the server's side is held; blocked until the half-open ends (or the
// client closes) when the client's side is.
func (c *faultConn) halfRead(h int32) (int, error) {
	if h == halfServerHeld {
		return 0, errHalfOpen
	}
	c.mu.Lock()
	end := c.halfEnd
	c.mu.Unlock()
	select {
	case <-end:
	case <-c.closed:
	}
	return 0, errHalfOpen
}

// halfWrite is a Write of a half-open connection: it fails for a dead
// client side and vanishes into a held one.
func (c *faultConn) halfWrite(h int32, p []byte) (int, error) {
	if h == halfServerHeld {
		return 0, errHalfOpen
	}
	select {
	case <-c.closed:
		return 0, errHalfOpen
	default:
		return len(p), nil
	}
}
