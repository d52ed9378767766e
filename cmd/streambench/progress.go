package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/streambench/streambench/harness"
)

// progress renders harness.Progress: a live bar on a terminal, plain
// periodic lines otherwise (CI logs).
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	enabled  bool
	bar      *progressbar.ProgressBar
	duration time.Duration
}

func newProgress(w io.Writer, duration time.Duration, enabled bool) *progress {
	p := &progress{w: w, enabled: enabled, duration: duration}
	if enabled && isTerminal(w) {
		p.bar = progressbar.NewOptions64(duration.Milliseconds(),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// every is how often the harness should call update.
func (p *progress) every() time.Duration {
	if p.bar != nil {
		return 250 * time.Millisecond
	}
	return 5 * time.Second
}

func (p *progress) update(pr harness.Progress) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line := progressLine(pr)
	if p.bar != nil {
		p.bar.Describe(line)
		_ = p.bar.Set64(min(pr.Elapsed.Milliseconds(), p.duration.Milliseconds()))
		return
	}
	if pr.Phase == "done" {
		return
	}
	fmt.Fprintf(p.w, "[%6s/%s] %s\n", pr.Elapsed.Round(time.Second), p.duration, line)
}

func progressLine(pr harness.Progress) string {
	var parts []string
	for _, g := range pr.Groups {
		parts = append(parts, fmt.Sprintf("%s: %d open, %d streams, %d msgs, %d failed", g.Name, g.Active, g.Opened, g.Received, g.Failed))
	}
	return pr.Phase + " | " + strings.Join(parts, " | ")
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
