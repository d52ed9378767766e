package leak

import (
	"fmt"
	"os"
	"sort"
	"strconv"
)

// fdDir lists the process's open file descriptors (Linux).
const fdDir = "/proc/self/fd"

// runtimeFDs are descriptors the Go runtime opens once, lazily, and keeps
// for the life of the process (the network poller); they are never leaks.
var runtimeFDs = map[string]bool{
	"anon_inode:[eventpoll]": true,
	"anon_inode:[eventfd]":   true,
}

// openFDs returns fd -> readlink target for every open descriptor, or an
// error where /proc/self/fd is not available. The descriptor used to read
// the directory itself is left out.
func openFDs() (map[int]string, error) {
	d, err := os.Open(fdDir)
	if err != nil {
		return nil, fmt.Errorf("open file descriptors: %w", err)
	}
	names, err := d.Readdirnames(-1)
	own := int(d.Fd())
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("open file descriptors: %w", err)
	}
	fds := make(map[int]string, len(names))
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd == own {
			continue
		}
		target, err := os.Readlink(fdDir + "/" + name)
		if err != nil {
			continue // closed between the listing and the readlink
		}
		if runtimeFDs[target] {
			continue
		}
		fds[fd] = target
	}
	return fds, nil
}

// initPoller makes the runtime open its network poller now (a pipe is
// pollable), so the poller's descriptors exist before a baseline.
func initPoller() {
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	r.Close()
	w.Close()
}

// newFDs returns "fd N -> target" for each descriptor in now that is not
// in base with the same target, sorted by fd.
func newFDs(base, now map[int]string) []string {
	var fds []int
	for fd, target := range now {
		if t, ok := base[fd]; !ok || t != target {
			fds = append(fds, fd)
		}
	}
	sort.Ints(fds)
	out := make([]string, len(fds))
	for i, fd := range fds {
		out[i] = fmt.Sprintf("fd %d -> %s", fd, now[fd])
	}
	return out
}
