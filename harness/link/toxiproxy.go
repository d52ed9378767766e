package link

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/streambench/streambench/harness/scenario"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
	"google.golang.org/grpc"
)

// Toxiproxy is a loopback TCP link through toxiproxy
// (github.com/Shopify/toxiproxy/v2), embedded in process or an external
// server driven over its HTTP API. The server listens on a loopback TCP
// port (the same one after a restart); the link creates one proxy per
// connection label in front of it, on first dial, so a fault can be scoped
// to a group or to some labels: faults become toxics on the matching
// proxies, and stay on them for future connections until reverted.
//
// Every proxy carries a hidden reset_peer toxic with toxicity 0: it never
// fires, but makes toxiproxy set SO_LINGER 0 on both sides of each
// connection, so that sever and reset_peer close with an RST, not a FIN.
type Toxiproxy struct {
	up      *TCP // the server's listener
	be      backend
	address string // "" when embedded
	prefix  string

	mu      sync.Mutex
	proxies map[Label]*proxyEntry
	order   []*proxyEntry
	active  map[uint64]*applied
	nextID  uint64
	shut    bool
}

// proxyEntry is the proxy of one label and the toxics each applied fault
// put on it.
type proxyEntry struct {
	name   string
	listen string
	label  Label
	toxics map[uint64][]string
}

// lingerToxic is the never-firing reset_peer toxic that sets SO_LINGER 0.
const lingerToxic = "streambench_linger"

// NewToxiproxy returns a toxiproxy link. address "" embeds toxiproxy in
// process; otherwise it is the host:port of a running toxiproxy server's
// HTTP API, on loopback (the server must reach the target on 127.0.0.1).
func NewToxiproxy(address string) (*Toxiproxy, error) {
	t := &Toxiproxy{
		up:      NewTCP(),
		address: address,
		prefix:  "streambench_" + randomID(),
		proxies: map[Label]*proxyEntry{},
		active:  map[uint64]*applied{},
	}
	if address == "" {
		t.be = newEmbedded()
		return t, nil
	}
	if err := scenario.CheckLoopback(address); err != nil {
		return nil, fmt.Errorf("toxiproxy link: address %q: %w", address, err)
	}
	be := &external{c: toxiclient.NewClient(address), proxies: map[string]*toxiclient.Proxy{}}
	if _, err := be.c.Version(); err != nil {
		return nil, fmt.Errorf("toxiproxy link: server at %s: %w", address, err)
	}
	t.be = be
	return t, nil
}

func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Name implements Link.
func (t *Toxiproxy) Name() string { return KindToxiproxy }

// Address is the external server's API address, "" when embedded.
func (t *Toxiproxy) Address() string { return t.address }

// Listen implements Link: a TCP listener on 127.0.0.1, on the same port
// every time.
func (t *Toxiproxy) Listen() (net.Listener, error) {
	lis, err := t.up.Listen()
	if err != nil {
		return nil, fmt.Errorf("toxiproxy link: %w", err)
	}
	return lis, nil
}

// Target implements Link.
func (t *Toxiproxy) Target() string { return "passthrough:///toxiproxy" }

// DialOptionsFor implements Link: the dialer reaches the label's proxy,
// creating it on first use.
func (t *Toxiproxy) DialOptionsFor(l Label) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return t.dial(ctx, l)
		}),
	}
}

// ProxyAddr returns the listen address of label l's proxy, creating it.
func (t *Toxiproxy) ProxyAddr(l Label) (string, error) {
	p, err := t.proxyFor(l)
	if err != nil {
		return "", err
	}
	return p.listen, nil
}

func (t *Toxiproxy) dial(ctx context.Context, l Label) (net.Conn, error) {
	addr, err := t.ProxyAddr(l)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy link: dial %s at %s: %w", l, addr, err)
	}
	return &halfCloser{TCPConn: c.(*net.TCPConn)}, nil
}

// drainLimit bounds how long a client's Close waits for toxiproxy to close
// its side.
const drainLimit = time.Second

// halfCloser is a client connection to a proxy that closes gracefully:
// Close sends FIN, then reads and discards until the proxy closes its side
// (bounded by drainLimit). Toxiproxy strands a link's goroutines when its
// writer fails on a closed client while the server still sends (the chain
// blocks on a channel nobody reads); draining lets every toxiproxy link
// end by EOF instead, including latency toxics still holding data.
type halfCloser struct {
	*net.TCPConn
	once sync.Once
	err  error
}

// Close implements net.Conn.
func (h *halfCloser) Close() error {
	h.once.Do(func() {
		if h.TCPConn.CloseWrite() == nil && h.TCPConn.SetReadDeadline(time.Now().Add(drainLimit)) == nil {
			_, _ = io.Copy(io.Discard, h.TCPConn)
		}
		h.err = h.TCPConn.Close()
	})
	return h.err
}

func (t *Toxiproxy) proxyFor(l Label) (*proxyEntry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shut {
		return nil, fmt.Errorf("toxiproxy link: dial %s: %w", l, ErrClosed)
	}
	if p := t.proxies[l]; p != nil {
		return p, nil
	}
	upstream := t.up.Addr()
	if upstream == "" {
		return nil, fmt.Errorf("toxiproxy link: dial %s: no server listening", l)
	}
	name := fmt.Sprintf("%s_%d_%s_%d", t.prefix, len(t.order), sanitize(l.Group), l.Conn)
	listen, err := t.be.create(name, upstream)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy link: proxy for %s: %w", l, err)
	}
	p := &proxyEntry{name: name, listen: listen, label: l, toxics: map[uint64][]string{}}
	t.proxies[l] = p
	t.order = append(t.order, p)
	linger := toxicSpec{Name: lingerToxic, Type: ResetPeer, Stream: Downstream, Toxicity: 0, Attributes: map[string]any{"timeout": 0}}
	if err := t.be.addToxic(name, linger); err != nil {
		return nil, fmt.Errorf("toxiproxy link: proxy for %s: %w", l, err)
	}
	for _, id := range t.activeIDs() {
		a := t.active[id]
		if a.f.hits(a.match, l) {
			if err := t.addFault(p, a); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

func (t *Toxiproxy) activeIDs() []uint64 {
	ids := make([]uint64, 0, len(t.active))
	for id := range t.active {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// Kinds implements Link.
func (t *Toxiproxy) Kinds() []string { return KindsOf(KindToxiproxy) }

// Supports implements Link.
func (t *Toxiproxy) Supports(kind string) bool { return supportsName(KindToxiproxy, kind) }

// Apply implements Link. Sever stops and restarts the matching proxies
// (every connection through them closes, with an RST); the other kinds add
// one toxic per direction to each matching proxy, with toxicity 1.
func (t *Toxiproxy) Apply(f Fault, match func(Label) bool) (func() error, error) {
	if err := CheckFor(KindToxiproxy, f); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shut {
		return nil, ErrClosed
	}
	if f.Kind == Sever {
		var errs []error
		for _, p := range t.order {
			if f.hits(match, p.label) {
				if err := t.be.restart(p.name); err != nil {
					errs = append(errs, fmt.Errorf("sever %s: %w", p.label, err))
				}
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("toxiproxy link: %w", err)
		}
		return func() error { return nil }, nil
	}
	t.nextID++
	a := &applied{id: t.nextID, f: f, match: match}
	t.active[a.id] = a
	for _, p := range t.order {
		if f.hits(match, p.label) {
			if err := t.addFault(p, a); err != nil {
				rerr := t.revertLocked(a.id)
				return nil, errors.Join(err, rerr)
			}
		}
	}
	var once sync.Once
	var rerr error
	return func() error {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			rerr = t.revertLocked(a.id)
		})
		return rerr
	}, nil
}

// toxicSpec is a toxic as toxiproxy's JSON API spells it.
type toxicSpec struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// toxicsOf translates fault id into toxics, one per direction.
func toxicsOf(id uint64, f Fault) []toxicSpec {
	typ, attrs := f.Kind, map[string]any{}
	if t, ok := f.settings().(toxic); ok {
		typ, attrs = t.toxic()
	}
	var out []toxicSpec
	for d, on := range f.dirs() {
		if !on {
			continue
		}
		stream := Upstream
		if d == down {
			stream = Downstream
		}
		out = append(out, toxicSpec{
			Name: fmt.Sprintf("streambench_%d_%s_%s", id, f.Kind, stream), Type: typ, Stream: stream,
			Toxicity: 1, Attributes: attrs,
		})
	}
	return out
}

// addFault puts a's toxics on p. Called with t.mu held.
func (t *Toxiproxy) addFault(p *proxyEntry, a *applied) error {
	for _, spec := range toxicsOf(a.id, a.f) {
		if err := t.be.addToxic(p.name, spec); err != nil {
			return fmt.Errorf("toxiproxy link: %s on %s: %w", a.f, p.label, err)
		}
		p.toxics[a.id] = append(p.toxics[a.id], spec.Name)
	}
	return nil
}

// revertLocked removes fault id's toxics everywhere. Called with t.mu held.
func (t *Toxiproxy) revertLocked(id uint64) error {
	delete(t.active, id)
	var errs []error
	for _, p := range t.order {
		for _, name := range p.toxics[id] {
			if err := t.be.removeToxic(p.name, name); err != nil {
				errs = append(errs, fmt.Errorf("remove toxic %s from %s: %w", name, p.label, err))
			}
		}
		delete(p.toxics, id)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("toxiproxy link: %w", err)
	}
	return nil
}

// Quiesce implements Link: it removes every fault toxic, so that no latency
// toxic holds data when the clients close (the (*LatencyToxic).Pipe leak).
// Removing a blackhole (timeout) toxic closes the connections it held.
func (t *Toxiproxy) Quiesce() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, id := range t.activeIDs() {
		errs = append(errs, t.revertLocked(id))
	}
	return errors.Join(errs...)
}

// Close implements Link: it reverts every fault still active and deletes
// the proxies it created (closing their connections).
// Call it after the clients closed (see the package doc).
func (t *Toxiproxy) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shut {
		return nil
	}
	t.shut = true
	var errs []error
	for _, id := range t.activeIDs() {
		errs = append(errs, t.revertLocked(id))
	}
	// The linger toxic stays: removing a toxic from a link whose
	// connection is closing can strand toxiproxy's goroutines (the link's
	// writer is gone, the restarted stub before it blocks on send). Deleting
	// the proxy stops it, which closes its connections and ends their links.
	for _, p := range t.order {
		if err := t.be.remove(p.name); err != nil {
			errs = append(errs, fmt.Errorf("toxiproxy link: delete proxy %s: %w", p.label, err))
		}
	}
	t.proxies, t.order = map[Label]*proxyEntry{}, nil
	return errors.Join(errs...)
}

// backend is the toxiproxy server the link drives: in process or over HTTP.
type backend interface {
	create(name, upstream string) (listen string, err error)
	addToxic(proxy string, t toxicSpec) error
	removeToxic(proxy, name string) error
	restart(proxy string) error
	remove(proxy string) error
}

// embedded runs toxiproxy in process.
type embedded struct{ srv *toxiproxy.ApiServer }

var quietOnce sync.Once

func newEmbedded() *embedded {
	// Toxics log through zerolog's global logger.
	quietOnce.Do(func() { zlog.Logger = zerolog.Nop() })
	return &embedded{srv: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())}
}

func (e *embedded) get(name string) (*toxiproxy.Proxy, error) {
	p, err := e.srv.Collection.Get(name)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	return p, nil
}

func (e *embedded) create(name, upstream string) (string, error) {
	p := toxiproxy.NewProxy(e.srv, name, "127.0.0.1:0", upstream)
	if err := e.srv.Collection.Add(p, true); err != nil {
		return "", err
	}
	return p.Listen, nil
}

func (e *embedded) addToxic(proxy string, t toxicSpec) error {
	p, err := e.get(proxy)
	if err != nil {
		return err
	}
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = p.Toxics.AddToxicJson(bytes.NewReader(body))
	return err
}

func (e *embedded) removeToxic(proxy, name string) error {
	p, err := e.get(proxy)
	if err != nil {
		return err
	}
	return p.Toxics.RemoveToxic(context.Background(), name)
}

func (e *embedded) restart(proxy string) error {
	p, err := e.get(proxy)
	if err != nil {
		return err
	}
	p.Stop()
	return p.Start()
}

func (e *embedded) remove(proxy string) error { return e.srv.Collection.Remove(proxy) }

// external drives a running toxiproxy server through its client package.
type external struct {
	c       *toxiclient.Client
	mu      sync.Mutex
	proxies map[string]*toxiclient.Proxy
}

func (x *external) get(name string) (*toxiclient.Proxy, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	p := x.proxies[name]
	if p == nil {
		return nil, fmt.Errorf("proxy %s: not created by this link", name)
	}
	return p, nil
}

func (x *external) create(name, upstream string) (string, error) {
	p, err := x.c.CreateProxy(name, "127.0.0.1:0", upstream)
	if err != nil {
		return "", err
	}
	x.mu.Lock()
	x.proxies[name] = p
	x.mu.Unlock()
	return p.Listen, nil
}

func (x *external) addToxic(proxy string, t toxicSpec) error {
	p, err := x.get(proxy)
	if err != nil {
		return err
	}
	// The client sends toxicity literally (0 never fires): t carries 1
	// for faults, 0 only for the linger toxic.
	_, err = p.AddToxic(t.Name, t.Type, t.Stream, t.Toxicity, toxiclient.Attributes(t.Attributes))
	return err
}

func (x *external) removeToxic(proxy, name string) error {
	p, err := x.get(proxy)
	if err != nil {
		return err
	}
	return p.RemoveToxic(name)
}

func (x *external) restart(proxy string) error {
	p, err := x.get(proxy)
	if err != nil {
		return err
	}
	if err := p.Disable(); err != nil {
		return err
	}
	return p.Enable()
}

func (x *external) remove(proxy string) error {
	p, err := x.get(proxy)
	if err != nil {
		return err
	}
	x.mu.Lock()
	delete(x.proxies, proxy)
	x.mu.Unlock()
	return p.Delete()
}

// Stranded are the functions of the goroutines an embedded toxiproxy
// strands when a connection's upstream dies while the client is sending:
// the link's writer fails and stops draining its chain, and the first toxic
// (a NoopToxic) then blocks on a send that nobody receives, with the
// reader behind it (toxiproxy v2.12.0; they live as long as the process).
// Only a target streambench kills (a command target's server_restart) makes
// them; the engine leaves them out of the leak check then, and says so.
var Stranded = []string{
	"github.com/Shopify/toxiproxy/v2/toxics.(*NoopToxic).Pipe",
	"github.com/Shopify/toxiproxy/v2/stream.(*ChanWriter).Write",
}
