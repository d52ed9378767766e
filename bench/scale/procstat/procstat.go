// Package procstat reads a process's resident set size from /proc, for
// bench/scale's peak-RSS figures.
package procstat

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSS returns this process's resident set size in bytes (VmRSS), or 0 when
// /proc cannot say (not Linux).
func RSS() uint64 {
	v, _ := Field("self", "VmRSS")
	return v
}

// Field returns the /proc/PID/status field (a size in kB, such as VmRSS or
// VmHWM) of pid ("self" for this process) in bytes.
func Field(pid, name string) (uint64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, fmt.Errorf("procstat: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procstat: %s %q: %w", name, v, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("procstat: %w", err)
	}
	return 0, fmt.Errorf("procstat: no %s in /proc/%s/status", name, pid)
}
