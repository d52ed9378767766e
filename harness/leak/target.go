package leak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/streambench/streambench/reports"
)

// A target streambench did not write is judged by figures of its own
// process, sampled before load and after teardown. The allowed growth of
// each (Bound) is:
//   - fds: 4 (a Go or C server's descriptors return to their count once
//     its connections close; the slack covers a lazily opened file or two);
//   - threads: max(16, the count before load) (runtimes keep the threads
//     load made them start — Go never ends an idle one — so only growth
//     well past that is a leak, e.g. a thread per connection never joined);
//   - goroutines (pprof): max(10, a tenth of the count before load)
//     (grpc-go's per-connection goroutines end when the connection does);
//   - rss_bytes: reported, not judged (allocators keep freed memory).
const (
	boundFDs        = 4
	boundThreads    = 16
	boundGoroutines = 10
)

// Bound is the growth allowed to figure name of source given its value
// before load (-1: not judged).
func Bound(name string, before int64) int64 {
	switch name {
	case "fds":
		return boundFDs
	case "threads":
		return max(boundThreads, before)
	case "goroutines":
		return max(boundGoroutines, before/10)
	}
	return -1
}

// Gauge samples figures of a target's process.
type Gauge interface {
	// Source names the evidence: "process" or "pprof".
	Source() string
	// Where says where the figures come from, for the report.
	Where() string
	// Sample returns the figures now, by name.
	Sample(ctx context.Context) (map[string]int64, error)
}

// ProcGauge reads a process's resident memory, threads and open file
// descriptors from /proc/<Pid> (Linux; the process itself, not its
// children). Reading another user's process's fds needs the same user.
type ProcGauge struct{ Pid int }

// Source implements Gauge.
func (ProcGauge) Source() string { return "process" }

// Where implements Gauge.
func (g ProcGauge) Where() string { return "/proc/" + strconv.Itoa(g.Pid) }

// Sample implements Gauge.
func (g ProcGauge) Sample(context.Context) (map[string]int64, error) {
	dir := g.Where()
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", g.Pid, err)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			out["rss_bytes"] = n * 1024 // "VmRSS:  1234 kB"
		case "Threads":
			out["threads"] = n
		}
	}
	if _, ok := out["threads"]; !ok {
		return nil, fmt.Errorf("process %d: no Threads line in %s/status", g.Pid, dir)
	}
	d, err := os.Open(dir + "/fd")
	if err != nil {
		return nil, fmt.Errorf("process %d: open fds: %w", g.Pid, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("process %d: open fds: %w", g.Pid, err)
	}
	out["fds"] = int64(len(names))
	return out, nil
}

// PprofGauge reads a Go target's goroutine count from its net/http/pprof
// handlers: GET URL/debug/pprof/goroutine?debug=1, whose first line is
// "goroutine profile: total N".
type PprofGauge struct {
	// URL is the base URL, e.g. http://127.0.0.1:6060.
	URL string
}

// Source implements Gauge.
func (PprofGauge) Source() string { return "pprof" }

// Where implements Gauge.
func (g PprofGauge) Where() string { return g.profileURL() }

func (g PprofGauge) profileURL() string {
	return strings.TrimSuffix(g.URL, "/") + "/debug/pprof/goroutine?debug=1"
}

// pprofClient holds no connection between samples (its own would count
// as the target's goroutine and fd).
var pprofClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

var totalRE = regexp.MustCompile(`^goroutine profile: total (\d+)`)

// Sample implements Gauge.
func (g PprofGauge) Sample(ctx context.Context) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.profileURL(), nil)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	resp, err := pprofClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(io.LimitReader(resp.Body, 4096)).ReadString('\n')
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pprof: GET %s: %s", g.profileURL(), resp.Status)
	}
	m := totalRE.FindStringSubmatch(line)
	if m == nil {
		return nil, fmt.Errorf("pprof: GET %s: not a goroutine profile (first line %q, %v)", g.profileURL(), strings.TrimSpace(line), err)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	return map[string]int64{"goroutines": n}, nil
}

// TargetBaseline is a target's figures before load.
type TargetBaseline struct {
	gauges []Gauge
	before []map[string]int64
	errs   []error
	// notes are sources known to be unavailable, with why.
	notes []reports.EvidenceSource
}

// TakeTargetBaseline samples every gauge before load (a gauge that
// cannot answer is "not available" in the evidence, with its error).
func TakeTargetBaseline(ctx context.Context, gauges ...Gauge) *TargetBaseline {
	b := &TargetBaseline{gauges: gauges}
	for _, g := range gauges {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := g.Sample(ctx)
		cancel()
		b.before, b.errs = append(b.before, m), append(b.errs, err)
	}
	return b
}

// Unavailable records a source the caller knows it has no evidence from,
// and why; it is listed in the evidence as "not available".
func (b *TargetBaseline) Unavailable(name, why string) {
	b.notes = append(b.notes, reports.EvidenceSource{Name: name, Detail: "not available: " + why})
}

// Drop forgets the gauges of source name (the figures before load no
// longer describe the process: it was restarted) and notes why.
func (b *TargetBaseline) Drop(name, why string) {
	for i, g := range b.gauges {
		if g.Source() == name && b.errs[i] == nil {
			b.errs[i] = fmt.Errorf("%s", why)
		}
	}
}

// judge samples every gauge that had a baseline once and returns the
// evidence and whether every judged figure is within its bound.
func (b *TargetBaseline) judge(ctx context.Context) *reports.TargetLeaks {
	t := &reports.TargetLeaks{}
	for i, g := range b.gauges {
		src := reports.EvidenceSource{Name: g.Source(), Detail: g.Where()}
		if err := b.errs[i]; err != nil {
			src.Detail = "not available: " + err.Error()
			t.Sources = append(t.Sources, src)
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		after, err := g.Sample(sctx)
		cancel()
		if err != nil {
			src.Detail = "not available after teardown: " + err.Error()
			t.Sources = append(t.Sources, src)
			continue
		}
		src.Available = true
		t.Sources = append(t.Sources, src)
		for _, name := range []string{"threads", "fds", "rss_bytes", "goroutines"} {
			before, ok1 := b.before[i][name]
			now, ok2 := after[name]
			if !ok1 || !ok2 {
				continue
			}
			f := reports.TargetFigure{Source: g.Source(), Name: name, Before: before, After: now, Bound: Bound(name, before)}
			f.Exceeded = f.Bound >= 0 && now-before > f.Bound
			t.Leaked = t.Leaked || f.Exceeded
			t.Figures = append(t.Figures, f)
		}
	}
	t.Sources = append(t.Sources, b.notes...)
	return t
}

// pollTarget judges b until no figure exceeds its bound or the deadline
// passes (a target's connections wind down after the clients close them).
func pollTarget(ctx context.Context, deadline time.Time, b *TargetBaseline) *reports.TargetLeaks {
	if b == nil {
		return nil
	}
	delay := firstPoll
	for {
		t := b.judge(ctx)
		if !t.Leaked || !sleep(ctx, deadline, &delay) {
			return t
		}
	}
}
