package harness

import (
	"fmt"
	"syscall"
	"time"
)

// busyShare is the share of the process's CPUs (GOMAXPROCS) above which a
// second of the run counts as saturated.
const busyShare = 0.9

// saturation follows, second by second while the run's duration lasts,
// how much of its CPUs streambench's process used. A process that uses
// them all cannot also be on time: its clients read late and its timers
// fire late, so latency then includes waiting for a CPU, and a fan-out
// falls behind whatever the target does (measured at 100,000 subscribers
// on 2 cores beside one busy process: p99 growing from 5 to 13 s).
type saturation struct {
	cpu   func() time.Duration // the process's CPU time so far
	procs int

	lastCPU  time.Duration
	lastWall time.Time
	// sampled and busy are seconds of the duration sampled, and of those
	// the ones in which the process used at least busyShare of its CPUs.
	sampled, busy float64
}

// processCPU is the process's user and system CPU time so far (0 when the
// system does not say).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// start takes the first reading, at the run's start.
func (s *saturation) start(now time.Time) {
	s.lastCPU, s.lastWall = s.cpu(), now
}

// sample takes a reading at now; running says whether the run's duration
// still lasts (the drain after it is not judged).
func (s *saturation) sample(now time.Time, running bool) {
	cpu := s.cpu()
	wall := now.Sub(s.lastWall)
	used := cpu - s.lastCPU
	s.lastCPU, s.lastWall = cpu, now
	if !running || wall <= 0 || s.procs <= 0 {
		return
	}
	s.sampled += wall.Seconds()
	if used.Seconds() >= busyShare*float64(s.procs)*wall.Seconds() {
		s.busy += wall.Seconds()
	}
}

// warning says that the process was saturated for at least half of the
// sampled duration (and 3 s), or nothing.
func (s *saturation) warning() string {
	if s.busy < 3 || s.busy < s.sampled/2 {
		return ""
	}
	return fmt.Sprintf("streambench's process used over %.0f%% of its %d CPUs for %.0f of the %.0f s it ran: the load "+
		"generator (with, in process, the builtin server) was saturated, so latency includes waiting for a CPU and a "+
		"fan-out may have fallen behind on the client side; run fewer clients, on a quieter machine, or shard the run (--shard)",
		busyShare*100, s.procs, s.busy, s.sampled)
}
