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
func CheckLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:7070)", addr)
	}
	if !isLoopback(host) {
		return fmt.Errorf("host %q is not a loopback address; streambench only talks to 127.0.0.0/8, ::1 or localhost", host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q must be a number from 0 to 65535", port)
	}
	return nil
}

// isLoopback reports whether host is localhost or a loopback IP.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
