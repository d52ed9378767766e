package leak

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
)

// Goroutine is one goroutine as runtime.Stack prints it.
type Goroutine struct {
	// ID is the goroutine's id (unique for the life of the process).
	ID int64
	// State is what the header says in brackets, e.g. "select",
	// "chan receive, 3 minutes", "IO wait".
	State string
	// Frames are the function names of the stack, innermost first, with
	// their argument lists removed.
	Frames []string
	// CreatedBy is the function whose go statement started the goroutine
	// ("" for the main goroutine).
	CreatedBy string
	// Function is the identifying function used to group leaks (see
	// Identify).
	Function string
	// Stack is the goroutine's full text as runtime.Stack printed it.
	Stack string
}

// Goroutines returns every goroutine of the process, the calling one
// first (runtime.Stack's order).
func Goroutines() []Goroutine {
	return ParseStacks(allStacks())
}

// allStacks returns runtime.Stack(all) in a buffer big enough for it.
func allStacks() []byte {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// ParseStacks parses runtime.Stack output (one or more goroutines separated
// by blank lines). It never panics: unrecognised lines are kept in Stack
// and otherwise ignored, and a block without a "goroutine N [...]:" header
// is skipped.
func ParseStacks(dump []byte) []Goroutine {
	var out []Goroutine
	for _, block := range bytes.Split(dump, []byte("\n\n")) {
		text := strings.Trim(string(block), "\n")
		if text == "" {
			continue
		}
		if g, ok := parseGoroutine(text); ok {
			out = append(out, g)
		}
	}
	return out
}

// parseGoroutine parses one block: a header line, then function lines each
// followed by a tab-indented file:line, maybe a "created by" pair.
func parseGoroutine(text string) (Goroutine, bool) {
	lines := strings.Split(text, "\n")
	g, ok := parseHeader(lines[0])
	if !ok {
		return Goroutine{}, false
	}
	g.Stack = text
	for _, line := range lines[1:] {
		if line == "" || line[0] == '\t' || line[0] == ' ' {
			continue // file:line, or indentation we do not know
		}
		if rest, ok := strings.CutPrefix(line, "created by "); ok {
			if i := strings.Index(rest, " in goroutine "); i >= 0 {
				rest = rest[:i]
			}
			g.CreatedBy = strings.TrimSpace(rest)
			continue
		}
		if strings.HasPrefix(line, "...") { // "...additional frames elided..."
			continue
		}
		if fn := funcName(line); fn != "" {
			g.Frames = append(g.Frames, fn)
		}
	}
	g.Function = Identify(g.Frames)
	return g, true
}

// parseHeader parses "goroutine 12 [select, 2 minutes]:" (also with the
// "gp=… m=…" fields GOTRACEBACK=system adds before the bracket).
func parseHeader(line string) (Goroutine, bool) {
	rest, ok := strings.CutPrefix(line, "goroutine ")
	if !ok {
		return Goroutine{}, false
	}
	end := strings.IndexByte(rest, ' ')
	if end < 0 {
		return Goroutine{}, false
	}
	id, err := strconv.ParseInt(rest[:end], 10, 64)
	if err != nil {
		return Goroutine{}, false
	}
	g := Goroutine{ID: id}
	if open := strings.IndexByte(rest, '['); open >= 0 {
		if close := strings.IndexByte(rest[open:], ']'); close > 0 {
			g.State = rest[open+1 : open+close]
		}
	}
	return g, true
}

// funcName strips the argument list from a frame line:
// "pkg.(*T).m(0x1, {0x2, 0x3})" -> "pkg.(*T).m". The argument list is the
// last parenthesised group of the line; names themselves may contain
// parentheses ("(*T)") and brackets ("F[...]").
func funcName(line string) string {
	line = strings.TrimSpace(line)
	if !strings.HasSuffix(line, ")") {
		return line
	}
	depth := 0
	for i := len(line) - 1; i >= 0; i-- {
		switch line[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return line[:i]
			}
		}
	}
	return line
}

// infrastructure are package-path prefixes of libraries whose frames do
// not identify a goroutine when an application frame exists below them.
var infrastructure = []string{
	"google.golang.org/grpc",
	"golang.org/x/net/",
	"google.golang.org/protobuf/",
}

// plumbing are function-name prefixes of I/O and queueing layers that sit
// on top of the interesting frame of gRPC's own goroutines (a transport
// reader blocked in a frame read, a loopy writer waiting on its queue).
var plumbing = []string{
	"golang.org/x/net/http2.",
	"google.golang.org/grpc/internal/transport/readyreader.",
	"google.golang.org/grpc/test/bufconn.",
	"google.golang.org/grpc/internal/transport.(*framer).",
	"google.golang.org/grpc/internal/transport.(*controlBuffer).",
	"google.golang.org/grpc/internal/transport.(*writeQuota).",
	"google.golang.org/grpc/internal/transport.(*recvBufferReader).",
	"google.golang.org/grpc/internal/transport.(*transportReader).",
	"google.golang.org/grpc/internal/transport.(*Stream).",
	"google.golang.org/grpc/internal/transport.(*ServerStream).",
	"google.golang.org/grpc/internal/transport.(*ClientStream).",
	"google.golang.org/grpc/internal/grpcsync.(*Event).",
}

// Identify picks the frame that names a goroutine for grouping, from its
// frames innermost first. In order of preference:
//
//  1. the innermost application frame: not the standard library, not gRPC,
//     x/net or protobuf (a handler that never returns is named by the
//     handler, whatever gRPC call it is blocked in);
//  2. the innermost non-standard-library frame that is not I/O or queue
//     plumbing (gRPC's own goroutines: transport.(*http2Client).reader,
//     grpcsync.(*CallbackSerializer).run, transport.(*loopyWriter).run);
//  3. the innermost non-standard-library frame;
//  4. the innermost frame outside package runtime;
//  5. the innermost frame.
//
// It returns "unknown" when there are no frames.
func Identify(frames []string) string {
	for _, f := range frames {
		if !stdlib(f) && !hasAnyPrefix(f, infrastructure) {
			return f
		}
	}
	for _, f := range frames {
		if !stdlib(f) && !hasAnyPrefix(f, plumbing) {
			return f
		}
	}
	for _, f := range frames {
		if !stdlib(f) {
			return f
		}
	}
	for _, f := range frames {
		if p := pkgPath(f); p != "runtime" && !strings.HasPrefix(p, "internal/runtime") {
			return f
		}
	}
	if len(frames) > 0 {
		return frames[0]
	}
	return "unknown"
}

// pkgPath returns the import path of a function name:
// "a.b/c/d.(*T).m" -> "a.b/c/d", "main.main" -> "main".
func pkgPath(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return fn
	}
	return fn[:slash+1+dot]
}

// stdlib reports whether fn belongs to the standard library: its import
// path's first element has no dot (package main excepted).
func stdlib(fn string) bool {
	p := pkgPath(fn)
	if p == "main" {
		return false
	}
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
