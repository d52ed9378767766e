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

// A second counts as starved when the process's threads, each time they
// were ready to run, waited starvedDelay or more on average for a CPU, and
// starvedFloor in all: a near-idle process waiting a few milliseconds is
// not. Measured on 2 cores (Linux schedstat, run-queue wait per timeslice):
// 0.09–0.2 ms for smoke.yaml alone, 0.11–0.14 ms beside a command target
// streaming 10,000 messages a second, 0.6–0.9 ms beside two busy
// processes, 0.4–1.8 ms for 600 subscribers under -race beside
// `go test -race`. (Waiting as long as running, the first criterion tried,
// also fired beside the command target, where latency p99 was 4 ms.) It is
// counted, not warned about: .ci/run's full-scale backend-leave.yaml, alone
// on the machine and healthy (p99 26 ms, not busy), had 17 of 30 s
// starved — its own threads' bursts wait for each other too — so a warning
// blaming other processes would be false.
const (
	starvedDelay = 500 * time.Microsecond
	starvedFloor = 100 * time.Millisecond
)

// CPUWait is how long a process's threads have waited on a run queue, ready
// to run but without a CPU, and over how many timeslices they ran.
type CPUWait struct {
	Waited time.Duration
	Slices int64
}

// saturation follows, second by second while the run's duration lasts,
// whether streambench's process had the CPUs it needed. A process that
// uses them all cannot also be on time: its clients read late and its
// timers fire late, so latency then includes waiting for a CPU, and a
// fan-out falls behind whatever the target does (measured at 100,000
// subscribers on 2 cores beside one busy process: p99 growing from 5 to
// 13 s). Nor can a process whose threads, ready to run, wait for CPUs that
// other processes (or a CPU quota) hold: beside a busy `go test -race` on 2
// cores, 600 subscribers under -race waited about 1 ms each time they were
// ready to run, their latency p50 grew to 4 s, and `recovered` failed for a
// fifth of them.
type saturation struct {
	cpu func() time.Duration // the process's CPU time so far
	// wait is how long the process's threads have waited for a CPU so
	// far, while ready to run (false: the system does not say).
	wait  func() (CPUWait, bool)
	procs int

	lastCPU  time.Duration
	lastWait CPUWait
	waitOK   bool
	lastWall time.Time
	// sampled, busy and starved are seconds of the duration sampled, and
	// of those the ones in which the process used at least busyShare of
	// its CPUs, and the ones in which its threads waited starvedDelay on
	// average for a CPU (and starvedFloor in all).
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
// queue, ready to run but without a CPU, and over how many timeslices:
// the second and third fields of Linux's /proc/self/task/*/schedstat
// (false elsewhere, or when no thread's is readable). A thread that exits
// takes its share with it: a sample may go backwards, which sample does
// not count.
func processWait() (CPUWait, bool) {
	var total CPUWait
	files, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(files) == 0 {
		return total, false
	}
	ok := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		fields := strings.Fields(string(b))
		if len(fields) < 3 {
			continue
		}
		ns, err1 := strconv.ParseInt(fields[1], 10, 64)
		n, err2 := strconv.ParseInt(fields[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		total.Waited += time.Duration(ns)
		total.Slices += n
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
	var d CPUWait
	known := false
	if s.wait != nil {
		w, ok := s.wait()
		d = CPUWait{Waited: w.Waited - s.lastWait.Waited, Slices: w.Slices - s.lastWait.Slices}
		known = ok && s.waitOK && d.Waited >= 0 && d.Slices > 0
		s.lastWait, s.waitOK = w, ok
	}
	if !running || wall <= 0 || s.procs <= 0 {
		return
	}
	s.sampled += wall.Seconds()
	if used.Seconds() >= busyShare*float64(s.procs)*wall.Seconds() {
		s.busy += wall.Seconds()
	}
	if known && d.Waited >= time.Duration(d.Slices)*starvedDelay && d.Waited >= time.Duration(float64(starvedFloor)*wall.Seconds()) {
		s.starved += wall.Seconds()
	}
}

// warning says that the process was saturated for at least half of the
// sampled duration (and 3 s), or nothing. Starved seconds get no warning
// (see starvedDelay).
func (s *saturation) warning() string {
	if s.busy >= 3 && s.busy >= s.sampled/2 {
		return fmt.Sprintf("streambench's process used over %.0f%% of its %d CPUs for %.0f of the %.0f s it ran: the load "+
			"generator (with, in process, the builtin server) was saturated, so latency includes waiting for a CPU and a "+
			"fan-out may have fallen behind on the client side; run fewer clients, on a quieter machine, or shard the run (--shard)",
			busyShare*100, s.procs, s.busy, s.sampled)
	}
	return ""
}
