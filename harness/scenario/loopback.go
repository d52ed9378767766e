package scenario

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// CheckLoopback reports whether addr is host:port on a loopback host
// (127.0.0.0/8, ::1, localhost) with a port from 0 to 65535. streambench
// sends traffic only to loopback or in-memory links; flags that take an
// address use this check.
func CheckLoopback(addr string) error { return CheckAddress(addr, false) }

// CheckAddress reports whether addr is host:port with a port from 0 to
// 65535 and, unless remote, a loopback host. Remote targets are for runs
// inside a user's own cluster (--allow-remote-target), never the default.
func CheckAddress(addr string, remote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:7070)", addr)
	}
	if !remote && !isLoopback(host) {
		return fmt.Errorf("host %q is not a loopback address; streambench only talks to 127.0.0.0/8, ::1 or localhost unless allowed (run --allow-remote-target, serve --allow-remote-clients)", host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q must be a number from 0 to 65535", port)
	}
	return nil
}

// AllowRemote lets the scenario's target.address be any host, not only a
// loopback one (see CheckAddress).
func (s *Scenario) AllowRemote() { s.remote = true }

// isLoopback reports whether host is localhost or a loopback IP.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
