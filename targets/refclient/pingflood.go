package refclient

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// pingFlood is PingFlood's bug: an HTTP/2 connection of the client's
// own that sends a PING every Options.PingEvery until ctx ends, dialled
// again (after the backoff's base) whenever the server closes it.
func (c *client) pingFlood(ctx context.Context) {
	every := c.o.PingEvery
	if every <= 0 {
		every = 10 * time.Millisecond
	}
	for ctx.Err() == nil {
		if err := c.pingOnce(ctx, every); err != nil {
			c.o.Logf("refclient %s: ping flood: %v", c.o.ClientID, err)
		}
		t := time.NewTimer(c.bo.Base)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// pingOnce floods one connection until it ends or ctx does.
func (c *client) pingOnce(ctx context.Context, every time.Duration) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.o.Addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.o.Addr, err)
	}
	var (
		mu   sync.Mutex // the framer's writes
		fr   = http2.NewFramer(nc, nc)
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	write := func(fn func() error) error {
		mu.Lock()
		defer mu.Unlock()
		_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return fn()
	}
	wg.Add(1)
	go func() { // read what the server sends: acknowledge its SETTINGS
		defer wg.Done()
		defer close(done)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
				_ = write(fr.WriteSettingsAck)
			}
		}
	}()
	defer wg.Wait()
	defer nc.Close()
	if _, err := nc.Write([]byte(http2.ClientPreface)); err != nil {
		return fmt.Errorf("preface: %w", err)
	}
	if err := write(func() error { return fr.WriteSettings() }); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var n uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return fmt.Errorf("the server closed the connection after %d pings", n)
		case <-t.C:
		}
		n++
		var data [8]byte
		data[7] = byte(n)
		if err := write(func() error { return fr.WritePing(false, data) }); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
	}
}
