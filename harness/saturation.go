package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// busyShare is the share of the process's CPUs (GOMAXPROCS) above which a
// second of the run counts as saturated.
const busyShare = 0.9

// starvedFloor is the least time a second's threads must have waited for a
// CPU (beyond waiting at least as long as they ran) for the second to count
// as starved: a near-idle process waiting a few milliseconds is not.
const starvedFloor = 100 * time.Millisecond

// saturation follows, second by second while the run's duration lasts,
// whether streambench's process had the CPUs it needed. A process that
// uses them all cannot also be on time: its clients read late and its
// timers fire late, so latency then includes waiting for a CPU, and a
// fan-out falls behind whatever the target does (measured at 100,000
// subscribers on 2 cores beside one busy process: p99 growing from 5 to
// 13 s). Nor can a process whose threads, ready to run, wait for CPUs that
// other processes (or a CPU quota) hold: beside a busy `go test -race` on 2
// cores, 600 subscribers under -race waited as long as they ran, their
// latency p50 grew to 4 s, and `recovered` failed for a fifth of them.
type saturation struct {
	cpu func() time.Duration // the process's CPU time so far
	// wait is how long the process's threads have waited for a CPU so
	// far, while ready to run (false: the system does not say).
	wait  func() (time.Duration, bool)
	procs int

	lastCPU, lastWait time.Duration
	waitOK            bool
	lastWall          time.Time
	// sampled, busy and starved are seconds of the duration sampled, and
	// of those the ones in which the process used at least busyShare of
	// its CPUs, and the ones in which its threads waited for a CPU at
	// least as long as they ran (and starvedFloor).
	sampled, busy, starved float64
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

// processWait is how long the process's live threads have waited on a run
// queue, ready to run but without a CPU: the second field of Linux's
// /proc/self/task/*/schedstat (false elsewhere, or when no thread's is
// readable). A thread that exits takes its share with it: a sample may go
// backwards, which sample does not count.
func processWait() (time.Duration, bool) {
	files, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(files) == 0 {
		return 0, false
	}
	var total time.Duration
	ok := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		fields := strings.Fields(string(b))
		if len(fields) < 2 {
			continue
		}
		ns, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		total += time.Duration(ns)
		ok = true
	}
	return total, ok
}

// start takes the first reading, at the run's start.
func (s *saturation) start(now time.Time) {
	s.lastCPU, s.lastWall = s.cpu(), now
	if s.wait != nil {
		s.lastWait, s.waitOK = s.wait()
	}
}

// sample takes a reading at now; running says whether the run's duration
// still lasts (the drain after it is not judged).
func (s *saturation) sample(now time.Time, running bool) {
	cpu := s.cpu()
	wall := now.Sub(s.lastWall)
	used := cpu - s.lastCPU
	s.lastCPU, s.lastWall = cpu, now
	waited, known := time.Duration(0), false
	if s.wait != nil {
		w, ok := s.wait()
		waited, known = w-s.lastWait, ok && s.waitOK && w >= s.lastWait
		s.lastWait, s.waitOK = w, ok
	}
	if !running || wall <= 0 || s.procs <= 0 {
		return
	}
	s.sampled += wall.Seconds()
	if used.Seconds() >= busyShare*float64(s.procs)*wall.Seconds() {
		s.busy += wall.Seconds()
	}
	if known && waited >= used && waited >= time.Duration(float64(starvedFloor)*wall.Seconds()) {
		s.starved += wall.Seconds()
	}
}

// warning says that the process was saturated, or else starved, for at
// least half of the sampled duration (and 3 s), or nothing.
func (s *saturation) warning() string {
	switch {
	case s.busy >= 3 && s.busy >= s.sampled/2:
		return fmt.Sprintf("streambench's process used over %.0f%% of its %d CPUs for %.0f of the %.0f s it ran: the load "+
			"generator (with, in process, the builtin server) was saturated, so latency includes waiting for a CPU and a "+
			"fan-out may have fallen behind on the client side; run fewer clients, on a quieter machine, or shard the run (--shard)",
			busyShare*100, s.procs, s.busy, s.sampled)
	case s.starved >= 3 && s.starved >= s.sampled/2:
		return fmt.Sprintf("streambench's threads waited for a CPU at least as long as they ran for %.0f of the %.0f s it ran: "+
			"other processes (or a CPU quota) held the CPUs, so latency includes waiting for a CPU and a fan-out may have "+
			"fallen behind on the client side; run on a quieter machine, or with fewer clients",
			s.starved, s.sampled)
	}
	return ""
}
