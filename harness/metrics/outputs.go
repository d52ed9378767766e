package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Loopback checks that addr (host:port) names a loopback address: the
// outputs send a run's figures nowhere but to this machine.
func Loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address (127.0.0.1, ::1, localhost): live metrics stay on this machine", addr)
}

// loopbackURL checks that raw is an http URL to a loopback host and
// returns it parsed.
func loopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%q: scheme %q, want http (a loopback receiver)", raw, u.Scheme)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	if err := Loopback(host); err != nil {
		return nil, err
	}
	return u, nil
}

// Server is the scrape endpoint: GET /metrics.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Serve serves s's metrics at http://addr/metrics (addr loopback; port 0
// picks one, see Addr) with client_golang's promhttp, which negotiates
// the protobuf exposition a native histogram needs or the text formats.
func Serve(addr string, s *Set) (*Server, error) {
	if err := Loopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.Gatherer(), promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	out := &Server{srv: srv, ln: ln, done: make(chan error, 1)}
	go func() { out.done <- srv.Serve(ln) }()
	return out, nil
}

// Addr is the address the endpoint listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the endpoint, letting scrapes in flight finish within ctx.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// pusher pushes a set every interval from one goroutine and once more at
// Close; it keeps the first error.
type pusher struct {
	push  func(context.Context) error
	every time.Duration
	stop  chan struct{}
	done  chan struct{}

	mu  sync.Mutex
	err error
}

// pushTimeout bounds one push.
const pushTimeout = 5 * time.Second

func startPusher(every time.Duration, push func(context.Context) error) *pusher {
	if every <= 0 {
		every = time.Second
	}
	p := &pusher{push: push, every: every, stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *pusher) loop() {
	defer close(p.done)
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			p.once()
		}
	}
}

func (p *pusher) once() {
	ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
	defer cancel()
	if err := p.push(ctx); err != nil {
		p.mu.Lock()
		if p.err == nil {
			p.err = err
		}
		p.mu.Unlock()
	}
}

// close stops the loop, pushes the final figures and returns the first
// error any push met.
func (p *pusher) close() error {
	close(p.stop)
	<-p.done
	p.once()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
