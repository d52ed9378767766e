package driver

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// MinKeepaliveTime is grpc-go's floor for a client's keepalive Time: a
// smaller Time is raised to it (with a warning in grpc's log).
const MinKeepaliveTime = 10 * time.Second

// KeepaliveParams returns the client keepalive parameters for pings every
// t of transport inactivity, each awaited for timeout (0 = grpc's default,
// 20 s), with t clamped to MinKeepaliveTime as grpc-go would. Pings are
// sent only while the connection carries streams (PermitWithoutStream
// false), which every server's default enforcement policy accepts.
func KeepaliveParams(t, timeout time.Duration) keepalive.ClientParameters {
	return keepalive.ClientParameters{Time: max(t, MinKeepaliveTime), Timeout: max(timeout, 0)}
}

// KeepaliveDialOption turns on client keepalive (see KeepaliveParams); t <= 0
// leaves it off (grpc's default) and returns an option that does nothing.
//
// A dead connection is then detected about t + timeout after it went
// silent, so never faster than ~10 s: to detect a blackhole sooner, use the
// per-stream watchdog (Params.Idle) or server keepalive.
//
// The server must allow it: its keepalive.EnforcementPolicy.MinTime must be
// <= the client's effective Time (grpc-go's default MinTime is 5 min), else
// it closes the connection with GOAWAY "too_many_pings". The builtin target
// sets it from the scenario's target.builtin.server.keepalive.min_time.
func KeepaliveDialOption(t, timeout time.Duration) grpc.DialOption {
	if t <= 0 {
		return grpc.EmptyDialOption{}
	}
	return grpc.WithKeepaliveParams(KeepaliveParams(t, timeout))
}
