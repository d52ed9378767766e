package child

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

// Server is a long-running child (a server a benchmark's clients dial),
// started in its own process group.
type Server struct {
	// Addr is what the child's ready line said it listens on.
	Addr string

	cmd   *exec.Cmd
	start time.Time
	done  chan struct{} // closed when the child has exited
	err   error         // its exit, once done
}

// Serve starts argv and waits, at most ready, for a line of its standard
// output to match ready's pattern, whose first group is the address it
// listens on. A child that exits first or says nothing in time is killed
// (its process group) and its error returned.
func Serve(ready time.Duration, line *regexp.Regexp, argv ...string) (*Server, error) {
	c := exec.Command(argv[0], argv[1:]...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: c, start: time.Now(), done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := line.FindStringSubmatch(sc.Text()); m != nil && len(m) > 1 {
				addr <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, out) // keep the pipe drained until it closes
		s.err = c.Wait()
		close(s.done)
	}()
	t := time.NewTimer(ready)
	defer t.Stop()
	select {
	case s.Addr = <-addr:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("%s exited before it was ready: %v", filepath.Base(argv[0]), s.err)
	case <-t.C:
		_, _ = s.Stop(0)
		return nil, fmt.Errorf("%s: no line matching %q within %s", filepath.Base(argv[0]), line, ready)
	}
}

// Stop sends the child SIGTERM and waits up to grace for it to exit, then
// kills its process group; it returns what the child cost. An exit caused
// by the SIGTERM is no error.
func (s *Server) Stop(grace time.Duration) (Result, error) {
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	var err error
	select {
	case <-s.done:
	case <-t.C:
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-s.done
		err = fmt.Errorf("%s did not stop within %s of SIGTERM: killed", filepath.Base(s.cmd.Path), grace)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL) // anything it left in its group
	res := Result{Wall: time.Since(s.start)}
	if st := s.cmd.ProcessState; st != nil {
		res.Rusage, _ = st.SysUsage().(*syscall.Rusage)
	}
	var ee *exec.ExitError
	if err == nil && s.err != nil && !(errors.As(s.err, &ee) && isTerm(ee)) {
		err = fmt.Errorf("%s: %w", filepath.Base(s.cmd.Path), s.err)
	}
	return res, err
}

// isTerm reports whether the child died of SIGTERM.
func isTerm(ee *exec.ExitError) bool {
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && (ws.Signaled() && ws.Signal() == syscall.SIGTERM)
}
