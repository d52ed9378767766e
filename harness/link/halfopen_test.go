package link

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// handlers counts the server's stream handlers that are still running,
// and how many saw their context end.
type handlers struct{ live, canceled atomic.Int64 }

func (h *handlers) interceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	h.live.Add(1)
	defer h.live.Add(-1)
	err := next(srv, ss)
	if err != nil {
		// A closing transport can fail the handler's Send before it
		// cancels the stream's context (a CI run saw it): wait, bounded,
		// for the context, which is what the tests judge.
		select {
		case <-ss.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	if ss.Context().Err() != nil {
		h.canceled.Add(1)
	}
	return err
}

// eventually waits up to d for cond.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHalfOpenServerHeld: the client's side dies at once and the client
// redials under the same label and streams again, while the server keeps
// the old stream's handler — its connection open and silent — until the
// half-open ends; only then does the server see the connection go.
func TestHalfOpenServerHeld(t *testing.T) {
	for _, mk := range makers[:2] { // bufconn, tcp
		t.Run(mk.name, func(t *testing.T) {
			h := &handlers{}
			e := newEnv(t, mk.make(t), grpc.ChainStreamInterceptor(h.interceptor))
			c := e.dial(lbl)
			ch := e.stream(c, 5*time.Millisecond, 16)
			next(t, ch, 5*time.Second)
			start := time.Now()
			revert := mustApply(t, e.link, Fault{Kind: HalfOpen}, nil)
			m := endOf(t, ch, 2*time.Second)
			if status.Code(m.err) != codes.Unavailable || m.at.Sub(start) > 500*time.Millisecond {
				t.Fatalf("the client saw %v after %v; want Unavailable at once", m.err, m.at.Sub(start))
			}
			ch2 := e.stream(c, 5*time.Millisecond, 16)
			if m := next(t, ch2, 5*time.Second); m.err != nil {
				t.Fatalf("the client could not redial: %v", m.err)
			}
			// The old handler is still there, its context alive: the
			// server has not seen its connection end.
			time.Sleep(300 * time.Millisecond)
			if n, c := h.live.Load(), h.canceled.Load(); n != 2 || c != 0 {
				t.Fatalf("while held: %d handlers live, %d canceled; want the old one and the new one, none canceled", n, c)
			}
			if err := revert(); err != nil {
				t.Fatal(err)
			}
			eventually(t, 3*time.Second, "the held handler ends once the half-open ends", func() bool { return h.live.Load() == 1 && h.canceled.Load() == 1 })
			if m := next(t, ch2, 2*time.Second); m.err != nil {
				t.Fatalf("the new stream broke with the old connection: %v", m.err)
			}
		})
	}
}

// TestHalfOpenClientHeld: the server's side closes at once (its handler
// ends), while the client's stream hangs with no message and no error —
// the stall only a keepalive or an idle watchdog sees — until the
// half-open ends.
func TestHalfOpenClientHeld(t *testing.T) {
	for _, mk := range makers[:2] {
		t.Run(mk.name, func(t *testing.T) {
			h := &handlers{}
			e := newEnv(t, mk.make(t), grpc.ChainStreamInterceptor(h.interceptor))
			c := e.dial(lbl)
			ch := e.stream(c, 5*time.Millisecond, 16)
			next(t, ch, 5*time.Second)
			revert := mustApply(t, e.link, Fault{Kind: HalfOpen, Settings: HalfOpenSettings{Hold: HoldClient}}, nil)
			eventually(t, 2*time.Second, "the server's handler ends", func() bool { return h.live.Load() == 0 && h.canceled.Load() == 1 })
			drain(ch)
			quiet(t, ch, 500*time.Millisecond)
			start := time.Now()
			if err := revert(); err != nil {
				t.Fatal(err)
			}
			m := endOf(t, ch, 2*time.Second)
			if status.Code(m.err) != codes.Unavailable || m.at.Sub(start) > 500*time.Millisecond {
				t.Fatalf("after the half-open the client saw %v after %v; want Unavailable at once", m.err, m.at.Sub(start))
			}
		})
	}
}

// TestHalfOpenRefusedOnToxiproxy: toxiproxy cannot hold one side.
func TestHalfOpenRefusedOnToxiproxy(t *testing.T) {
	err := CheckFor(KindToxiproxy, Fault{Kind: HalfOpen})
	if err == nil || !strings.Contains(err.Error(), "link toxiproxy cannot do half_open") {
		t.Fatalf("err = %v", err)
	}
	if err := CheckFor(KindTCP, Fault{Kind: HalfOpen, Settings: HalfOpenSettings{Hold: "both"}}); err == nil || !strings.Contains(err.Error(), `unknown side "both"`) {
		t.Fatalf("hold both: %v", err)
	}
}
