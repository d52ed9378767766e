package driver

import (
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

func TestKeepaliveParams(t *testing.T) {
	for _, tc := range []struct {
		name       string
		t, timeout time.Duration
		want       keepalive.ClientParameters
	}{
		{"clamped to grpc's floor", time.Second, time.Second, keepalive.ClientParameters{Time: 10 * time.Second, Timeout: time.Second}},
		{"kept above the floor", 30 * time.Second, 5 * time.Second, keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}},
		{"zero timeout is grpc's default", 15 * time.Second, 0, keepalive.ClientParameters{Time: 15 * time.Second}},
		{"negative timeout is grpc's default", 15 * time.Second, -time.Second, keepalive.ClientParameters{Time: 15 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KeepaliveParams(tc.t, tc.timeout); got != tc.want {
				t.Errorf("KeepaliveParams(%v, %v) = %+v, want %+v", tc.t, tc.timeout, got, tc.want)
			}
		})
	}
}

func TestKeepaliveDialOptionOff(t *testing.T) {
	if _, ok := KeepaliveDialOption(0, time.Second).(grpc.EmptyDialOption); !ok {
		t.Error("KeepaliveDialOption(0, …) is not a no-op")
	}
	if _, ok := KeepaliveDialOption(time.Second, time.Second).(grpc.EmptyDialOption); ok {
		t.Error("KeepaliveDialOption(1s, …) is a no-op")
	}
}

func TestReadMode(t *testing.T) {
	for _, tc := range []struct {
		name         string
		m            ReadMode
		stalls, slow bool
	}{
		{"fast", ReadMode{}, false, false},
		{"delay", ReadMode{Delay: time.Millisecond}, false, true},
		{"stall after without length is no stall", ReadMode{StallAfter: time.Second}, false, false},
		{"stall", ReadMode{StallAfter: time.Second, StallFor: time.Second}, true, true},
		{"never reads", ReadMode{Stop: true}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.Stalls(); got != tc.stalls {
				t.Errorf("Stalls() = %v", got)
			}
			if got := tc.m.Slow(); got != tc.slow {
				t.Errorf("Slow() = %v", got)
			}
		})
	}
}
