package link

import (
	"fmt"
)

// Front returns a link of the given kind (KindTCP, "" for
// DefaultFor(false), or KindToxiproxy with toxiproxyAddr "" for an
// embedded toxiproxy) that sits in front of a target listening at
// upstream, a server streambench does not start on the link's listener: an
// address target, or a process it runs. Clients dial
// through it, so every network fault the kind can do works on that
// target. bufconn cannot reach a server in another process.
func Front(kind, upstream, toxiproxyAddr string) (Link, error) {
	if kind == "" {
		kind = DefaultFor(false)
	}
	switch kind {
	case KindTCP:
		t := NewTCP()
		t.front(upstream)
		return t, nil
	case KindToxiproxy:
		t, err := NewToxiproxy(toxiproxyAddr)
		if err != nil {
			return nil, err
		}
		t.up.front(upstream)
		return t, nil
	}
	return nil, fmt.Errorf("link %q cannot sit in front of %s: use %s or %s", kind, upstream, KindTCP, KindToxiproxy)
}

// front makes t dial upstream instead of a listener of its own.
func (t *TCP) front(upstream string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addr, t.upstream = upstream, true
}
