package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/streambench/streambench/harness"
)

// progress renders harness.Progress while a run goes on.
//
// On a terminal it keeps one line per group, redrawn in place, each fitted
// to the terminal's width: streams open, messages per second and latency
// p99 over the last second, failed streams, a bar of the planned duration,
// the time left and the faults active now. The drawing is vbauerster/mpb's:
// it manages several bars at once (schollz/progressbar draws a single line,
// so a line per group would wrap into a scrolling wall), moves the cursor
// back to redraw them, reads the terminal's width on every frame and cuts
// what still does not fit. The text of each line is fitted here, dropping
// the least useful figures first, so nothing is cut mid-word on an
// ordinary terminal.
//
// Piped (CI logs), it prints one plain line per period: a second for runs
// under a minute, and about sixty lines per run beyond (at most one every
// 30 s).
type progress struct {
	w        io.Writer
	enabled  bool
	duration time.Duration
	// opts are extra mpb container options (tests: a fake terminal and a
	// manual refresh); nil for the real terminal.
	opts []mpb.ContainerOption
	tty  bool

	once     sync.Once // makes the live view
	finished sync.Once // ends it
	mu       sync.Mutex
	last     harness.Progress
	// live view (tty): the container and a bar per group, made on the
	// first update (the group names come with it).
	bars      *mpb.Progress
	groupBars []*mpb.Bar
	nameWidth int
	// plain lines: the period and the elapsed time of the next line.
	period, next time.Duration
}

func newProgress(w io.Writer, duration time.Duration, enabled bool) *progress {
	return newProgressOn(w, duration, enabled, isTerminal(w), nil)
}

// newProgressOn is newProgress with the terminal decision and extra mpb
// options given (tests).
func newProgressOn(w io.Writer, duration time.Duration, enabled, tty bool, opts []mpb.ContainerOption) *progress {
	p := &progress{w: w, enabled: enabled, duration: duration, tty: tty, opts: opts}
	p.period = plainPeriod(duration)
	p.next = p.period
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// liveRefresh is how often the terminal view redraws.
const liveRefresh = 250 * time.Millisecond

// plainPeriod is how often a piped run prints a line: every second for
// runs under a minute, then about sixty lines a run, at most one every
// 30 s.
func plainPeriod(d time.Duration) time.Duration {
	const lines, most = 60, 30 * time.Second
	if d < time.Minute {
		return time.Second
	}
	return min((d / lines).Round(time.Second), most)
}

// every is how often the harness should call update.
func (p *progress) every() time.Duration {
	if p.tty {
		return liveRefresh
	}
	return p.period
}

func (p *progress) update(pr harness.Progress) {
	if !p.enabled {
		return
	}
	if p.tty {
		p.updateLive(pr)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr.Phase == "done" || pr.Elapsed < p.next {
		return
	}
	for p.next <= pr.Elapsed {
		p.next += p.period
	}
	fmt.Fprintln(p.w, plainLine(pr))
}

// plainLine is a piped run's line: the time, then every group, then the
// active faults.
func plainLine(pr harness.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s/%s]", pr.Elapsed.Round(time.Second), pr.Duration)
	if pr.Phase != "running" {
		b.WriteString(" " + pr.Phase)
	}
	for i, g := range pr.Groups {
		sep := " "
		if i > 0 {
			sep = " | "
		}
		fmt.Fprintf(&b, "%s%s: %s open, %s msg/s, p99 %s, %d err", sep, g.Name, count(g.Active), rate(pr, g.Rate), latency(g.P99), g.Failed)
	}
	if len(pr.Faults) > 0 {
		b.WriteString(" | faults: " + strings.Join(pr.Faults, ", "))
	}
	return b.String()
}

func (p *progress) updateLive(pr harness.Progress) {
	p.mu.Lock()
	p.last = pr
	p.mu.Unlock()
	// The bars are made outside p.mu: mpb may be drawing, and its
	// decorators take p.mu.
	p.once.Do(func() { p.start(pr) })
	p.mu.Lock()
	bars := p.groupBars
	p.mu.Unlock()
	// A bar whose current reaches its total completes and is drawn no
	// more, so it stops a millisecond short until the run is done.
	cur := min(pr.Elapsed.Milliseconds(), max(p.duration.Milliseconds(), 1)-1)
	for _, b := range bars {
		b.SetCurrent(cur)
	}
	if pr.Phase == "done" {
		// Stop mpb's goroutines now: the run's leak check comes after
		// "done" and would count them as leaked.
		p.finish()
	}
}

// barWidth is the widest a group's duration bar gets; barLeast the
// narrowest before it is dropped.
const barWidth, barLeast = 20, 8

// start makes the container and the group lines.
func (p *progress) start(pr harness.Progress) {
	width := 0
	for _, g := range pr.Groups {
		width = max(width, min(utf8.RuneCountInString(g.Name), 16))
	}
	p.mu.Lock()
	p.nameWidth = width
	p.mu.Unlock()
	opts := append([]mpb.ContainerOption{mpb.WithOutput(p.w), mpb.WithRefreshRate(liveRefresh)}, p.opts...)
	c := mpb.New(opts...)
	total := max(p.duration.Milliseconds(), 1)
	var bars []*mpb.Bar
	for i := range pr.Groups {
		bars = append(bars, c.New(total, mpb.BarStyle(),
			mpb.BarWidth(barWidth),
			mpb.PrependDecorators(decor.Any(func(s decor.Statistics) string { return p.stats(i, s.AvailableWidth) })),
			mpb.AppendDecorators(decor.Any(func(s decor.Statistics) string { return p.tail(s.AvailableWidth) })),
		))
	}
	p.mu.Lock()
	p.bars, p.groupBars = c, bars
	p.mu.Unlock()
}

// stats is group i's figures, fitted to width less the room kept for the
// bar and the time left.
func (p *progress) stats(i, width int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i >= len(p.last.Groups) {
		return ""
	}
	keep := 2 + barLeast + len(timeLeft(p.last))
	return statsLine(p.last, i, p.nameWidth, width-keep)
}

// tail is the time left and the active faults, fitted to width less the
// bar's room.
func (p *progress) tail(width int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return tailLine(timeLeft(p.last), p.last.Faults, width)
}

// statsLine lays out a group's figures in at most width columns. The
// fields have fixed widths so that the lines stay aligned from frame to
// frame; when they do not all fit, latency, then rate, then errors, then
// open streams are left out, and the name is cut last.
func statsLine(pr harness.Progress, i, nameWidth, width int) string {
	if width <= 0 {
		return ""
	}
	g := pr.Groups[i]
	name := clipText(g.Name, nameWidth)
	name += strings.Repeat(" ", nameWidth-utf8.RuneCountInString(name))
	fields := []string{
		fmt.Sprintf("%7s open", count(g.Active)),
		fmt.Sprintf("%7s msg/s", rate(pr, g.Rate)),
		fmt.Sprintf("p99 %7s", latency(g.P99)),
		fmt.Sprintf("%6s err", count(g.Failed)),
	}
	// Fields dropped first come last in this order of importance.
	order := []int{0, 3, 1, 2}
	for n := len(order); n >= 0; n-- {
		keep := map[int]bool{}
		for _, k := range order[:n] {
			keep[k] = true
		}
		line := name
		for k, f := range fields {
			if keep[k] {
				line += " " + f
			}
		}
		if utf8.RuneCountInString(line) <= width {
			return line
		}
	}
	return clipText(name, width)
}

// tailLine is the text after the bar: the time left, then the active
// faults, in width columns less the bar's room (barWidth when it fits,
// barLeast at least).
func tailLine(left string, faults []string, width int) string {
	room := width - 2 - barLeast
	if room <= 0 {
		return ""
	}
	line := left
	if len(faults) > 0 {
		line += "  " + strings.Join(faults, ", ")
	}
	if spare := width - 2 - barWidth; utf8.RuneCountInString(line) <= spare {
		return line
	}
	// The time left whole, then as much of the faults as fits.
	if n := utf8.RuneCountInString(left); n > room || len(faults) == 0 || room-n < 4 {
		return clipText(left, room)
	}
	return clipText(line, room)
}

// timeLeft is the phase, or the planned time still to run.
func timeLeft(pr harness.Progress) string {
	switch pr.Phase {
	case "running", "":
		left := max(pr.Duration-pr.Elapsed, 0).Round(time.Second)
		return left.String() + " left"
	}
	return pr.Phase
}

// clipText cuts s to width runes, marking the cut with "…".
func clipText(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	if width <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// count renders a count in at most 6 columns: 1,234, 12.3k, 1.23M.
func count(n uint64) string {
	switch {
	case n < 10_000:
		return thousands(n)
	case n < 1_000_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', decimals(float64(n)/1e3), 64) + "k"
	default:
		return strconv.FormatFloat(float64(n)/1e6, 'f', decimals(float64(n)/1e6), 64) + "M"
	}
}

// decimals keeps three significant digits for v in [1, 1000).
func decimals(v float64) int {
	switch {
	case v < 10:
		return 2
	case v < 100:
		return 1
	}
	return 0
}

func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	return s[:len(s)-3] + "," + s[len(s)-3:]
}

// rate renders messages per second like count ("-" before the first
// per-second window).
func rate(pr harness.Progress, r float64) string {
	if pr.Window <= 0 {
		return "-"
	}
	return count(uint64(r + 0.5))
}

// latency renders a p99 in at most 7 columns ("-" when there is none).
func latency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d <= 0:
		return "-"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
	case ms < 1000:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	case d < 100*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// finish ends the live view (the last frame stays on screen) and waits for
// mpb's goroutines to end. The "done" update calls it; calling it again
// does nothing.
func (p *progress) finish() {
	p.mu.Lock()
	bars, groupBars := p.bars, p.groupBars
	p.mu.Unlock()
	if bars == nil {
		return
	}
	p.finished.Do(func() {
		p.mu.Lock()
		// An interrupted run keeps its bars where they stopped.
		short := p.last.Elapsed < p.duration
		p.mu.Unlock()
		for _, b := range groupBars {
			if short {
				b.Abort(false)
			} else {
				b.SetTotal(-1, true)
			}
		}
		bars.Wait()
	})
}

// println writes a line for the user: above the live view while there is
// one (so the redraw does not overwrite it), plainly otherwise.
func (p *progress) println(s string) {
	p.mu.Lock()
	bars := p.bars
	p.mu.Unlock()
	if bars != nil {
		// The carriage return starts the line at column 0 even when the
		// terminal echoed "^C" where the redraw begins. After Wait, mpb
		// refuses the write (ErrDone): print it plainly.
		if _, err := fmt.Fprintln(bars, "\r"+s); err == nil {
			return
		}
	}
	fmt.Fprintln(p.w, s)
}
