package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/vbauerster/mpb/v8"
	"go.uber.org/goleak"

	"github.com/streambench/streambench/harness"
)

// fakeTerm is a terminal of a fixed width for mpb: it keeps every frame
// mpb flushes.
type fakeTerm struct {
	width int

	mu      sync.Mutex
	buf     bytes.Buffer
	frames  []string
	flushed chan struct{}
}

func newFakeTerm(width int) *fakeTerm {
	return &fakeTerm{width: width, flushed: make(chan struct{}, 64)}
}

func (f *fakeTerm) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(b)
}

func (f *fakeTerm) ReadFrom(r io.Reader) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.ReadFrom(r)
}

func (f *fakeTerm) IsTerminal() bool { return true }

func (f *fakeTerm) GetTermSize() (int, int, error) { return f.width, 30, nil }

func (f *fakeTerm) Flush(int) error {
	f.mu.Lock()
	f.frames = append(f.frames, f.buf.String())
	f.buf.Reset()
	f.mu.Unlock()
	f.flushed <- struct{}{}
	return nil
}

// frame asks mpb for a frame and returns it.
func (f *fakeTerm) frame(t *testing.T, refresh chan<- any) string {
	t.Helper()
	select {
	case refresh <- struct{}{}:
	case <-time.After(5 * time.Second):
		t.Fatal("mpb took no refresh request")
	}
	select {
	case <-f.flushed:
	case <-time.After(5 * time.Second):
		t.Fatal("mpb drew no frame")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frames[len(f.frames)-1]
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// sample is a run with long group names, big figures and two faults.
func sample(phase string, elapsed time.Duration) harness.Progress {
	return harness.Progress{
		Elapsed: elapsed, Duration: 90 * time.Second, Phase: phase, Window: time.Second,
		Groups: []harness.GroupProgress{
			{Name: "subscribers", Active: 120_000, Opened: 130_000, Failed: 12_345, Received: 9_000_000, Rate: 61_234.4, P99: 4321 * time.Millisecond},
			{Name: "pow", Active: 300, Opened: 3000, Failed: 0, Received: 60_000, Rate: 5960, P99: 1234 * time.Microsecond},
			{Name: "a-rather-long-group-name-that-goes-on", Active: 7, Opened: 7, Rate: 0},
		},
		Faults: []string{"faults[1] latency #2", "faults[3] server_restart", "faults[0] sever"},
	}
}

// TestLiveProgressFitsTheTerminal draws the live view through mpb on
// terminals 80 and 120 columns wide: one line per group, none wider than
// the terminal, with the figures that fit.
func TestLiveProgressFitsTheTerminal(t *testing.T) {
	tests := []struct {
		width int
		want  []string // in every line
		first []string // in the first group's line
	}{
		{80, []string{"open", "err", "left"}, []string{"subscribers", "120k open", "12.3k err", "[", "1m18s left"}},
		{120, []string{"open", "msg/s", "p99", "err", "left", "faults[1] latency #2"},
			[]string{"subscribers", "61.2k msg/s", "p99   4.32s", "1m18s left  faults[1] latency #2"}},
		{50, []string{"left"}, []string{"subscri"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.width), func(t *testing.T) {
			ft := newFakeTerm(tt.width)
			refresh := make(chan any)
			p := newProgressOn(io.Discard, 90*time.Second, true, true,
				[]mpb.ContainerOption{mpb.WithConsoleWriter(ft), mpb.WithManualRefresh(refresh)})
			if p.every() != liveRefresh {
				t.Errorf("every() = %v, want %v on a terminal", p.every(), liveRefresh)
			}
			p.update(sample("running", 12*time.Second))
			frame := ansiRE.ReplaceAllString(ft.frame(t, refresh), "")
			lines := strings.Split(strings.TrimSuffix(frame, "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("%d lines, want one per group (3):\n%s", len(lines), frame)
			}
			for i, l := range lines {
				if w := runewidth.StringWidth(l); w > tt.width {
					t.Errorf("line %d is %d columns, wider than %d:\n%s", i, w, tt.width, l)
				}
				for _, s := range tt.want {
					if !strings.Contains(l, s) {
						t.Errorf("line %d lacks %q:\n%s", i, s, l)
					}
				}
			}
			for _, s := range tt.first {
				if !strings.Contains(lines[0], s) {
					t.Errorf("first line lacks %q:\n%s", s, lines[0])
				}
			}
			p.update(sample("draining", 91*time.Second))
			if f := ft.frame(t, refresh); !strings.Contains(f, "draining") {
				t.Errorf("the frame after the duration does not say draining:\n%s", f)
			}
			p.update(sample("done", 95*time.Second))
			// The run's leak check follows "done": mpb must be gone by then.
			if err := goleak.Find(); err != nil {
				t.Errorf("the live view still runs after done: %v", err)
			}
			p.finish()
			ft.mu.Lock()
			last := ansiRE.ReplaceAllString(ft.frames[len(ft.frames)-1], "")
			ft.mu.Unlock()
			if !strings.Contains(last, "done") {
				t.Errorf("last frame does not say done:\n%s", last)
			}
		})
	}
}

// TestStatsLineFits: at every width from 1 to 160 the figures fit in the
// width given, and the widest shows them all.
func TestStatsLineFits(t *testing.T) {
	t.Parallel()
	pr := sample("running", time.Second)
	for w := 1; w <= 160; w++ {
		s := statsLine(pr, 0, 11, w)
		if n := runewidth.StringWidth(s); n > w {
			t.Fatalf("width %d: %q is %d columns", w, s, n)
		}
		if tl := tailLine("1m18s left", []string{"faults[1] latency #2"}, w); runewidth.StringWidth(tl)+2+barLeast > w && tl != "" {
			t.Fatalf("width %d: tail %q leaves no room for the bar", w, tl)
		}
	}
	pr.Window = 0
	if s := statsLine(pr, 0, 11, 160); !strings.Contains(s, "      - msg/s") {
		t.Errorf("before the first window the rate is %q, want -", s)
	}
	pr.Window = time.Second
	if s := statsLine(pr, 0, 11, 160); s != "subscribers    120k open   61.2k msg/s p99   4.32s  12.3k err" {
		t.Errorf("full line = %q", s)
	}
}

// TestPlainProgressCadence feeds a piped progress the harness's calls at
// a quarter of a second and checks how many lines come out: one a second
// for runs under a minute, fewer for long ones. No clock is involved: the
// lines follow the elapsed time the harness reports.
func TestPlainProgressCadence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		duration  time.Duration
		period    time.Duration
		wantLines int
	}{
		{10 * time.Second, time.Second, 10},
		{59 * time.Second, time.Second, 59},
		{10 * time.Minute, 10 * time.Second, 60},
		{2 * time.Hour, 30 * time.Second, 240},
	}
	for _, tt := range tests {
		t.Run(tt.duration.String(), func(t *testing.T) {
			var out bytes.Buffer
			p := newProgressOn(&out, tt.duration, true, false, nil)
			if p.every() != tt.period {
				t.Fatalf("every() = %v, want %v", p.every(), tt.period)
			}
			step := 250 * time.Millisecond
			for e := time.Duration(0); e <= tt.duration; e += step {
				pr := sample("running", e)
				pr.Duration = tt.duration
				p.update(pr)
			}
			p.update(sample("done", tt.duration+time.Second))
			p.finish()
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != tt.wantLines {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), tt.wantLines, out.String())
			}
			if want := fmt.Sprintf("[%s/%s] subscribers: 120k open, 61.2k msg/s, p99 4.32s, 12345 err | pow:", tt.period, tt.duration); !strings.HasPrefix(lines[0], want) {
				t.Errorf("first line = %q, want it to start with %q", lines[0], want)
			}
			if !strings.HasSuffix(lines[0], "| faults: faults[1] latency #2, faults[3] server_restart, faults[0] sever") {
				t.Errorf("first line lacks the faults: %q", lines[0])
			}
		})
	}
}

// TestPlainProgressSkipsNothingWhenCallsAreLate: a harness call that comes
// late prints one line, not a burst.
func TestPlainProgressLateCall(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := newProgressOn(&out, 30*time.Second, true, false, nil)
	for _, e := range []time.Duration{999 * time.Millisecond, 1500 * time.Millisecond, 4200 * time.Millisecond, 4900 * time.Millisecond, 5 * time.Second} {
		p.update(sample("running", e))
	}
	got := regexp.MustCompile(`(?m)^\[(\S+)/`).FindAllStringSubmatch(out.String(), -1)
	var at []string
	for _, m := range got {
		at = append(at, m[1])
	}
	if strings.Join(at, " ") != "2s 4s 5s" {
		t.Errorf("lines at %v, want [2s 4s 5s]:\n%s", at, out.String())
	}
}

func TestProgressDisabled(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := newProgressOn(&out, 10*time.Second, false, false, nil)
	p.update(sample("running", 5*time.Second))
	p.finish()
	if out.Len() != 0 {
		t.Errorf("--no-progress printed %q", out.String())
	}
}

// TestLiveProgressInterrupted: a line printed during the run (the Ctrl-C
// notice) goes above the live view instead of being drawn over, and an
// interrupted run's bars stay where they stopped.
func TestLiveProgressInterrupted(t *testing.T) {
	t.Parallel()
	ft := newFakeTerm(120)
	refresh := make(chan any)
	p := newProgressOn(io.Discard, 90*time.Second, true, true,
		[]mpb.ContainerOption{mpb.WithConsoleWriter(ft), mpb.WithManualRefresh(refresh)})
	p.update(sample("running", 30*time.Second))
	p.println("streambench: interrupted")
	frame := ansiRE.ReplaceAllString(ft.frame(t, refresh), "")
	if !strings.HasPrefix(frame, "\rstreambench: interrupted\n") || strings.Count(frame, "\n") != 4 {
		t.Errorf("the notice is not one line above the three group lines:\n%s", frame)
	}
	p.update(sample("done", 31*time.Second))
	ft.mu.Lock()
	last := ansiRE.ReplaceAllString(ft.frames[len(ft.frames)-1], "")
	ft.mu.Unlock()
	if !strings.Contains(last, "done") || !strings.Contains(last, ">-") {
		t.Errorf("an interrupted run's last frame should say done with a partial bar:\n%s", last)
	}
	// After the view ends, a line is printed plainly.
	var out bytes.Buffer
	q := newProgressOn(&out, time.Second, true, false, nil)
	q.println("plain")
	if out.String() != "plain\n" {
		t.Errorf("println without a live view wrote %q", out.String())
	}
}
