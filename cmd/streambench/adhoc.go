package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/streambench/streambench/harness/scenario"
)

// adhocFlags are a one-line run of a call, as ghz runs one: no scenario
// file, the call named on the command line against --target.
type adhocFlags struct {
	call, data, protoset string
	proto, importPaths   []string
	clients, connections int
	messages             int
	expectCount          int
	length               time.Duration
	lockstep             bool
	// rps paces new streams (an open loop, ghz --rps); total, with rps,
	// is how many (ghz -n): the run lasts total/rps.
	rps   float64
	total int
	// path is the scenario file write made of the flags ("" before).
	path string
}

// adhocFields maps the fields of the scenario write makes to the flags
// that set them, so an error names the flag, not the file.
var adhocFields = []struct{ field, flag string }{
	{"groups[0].call.method", "--call"},
	{"groups[0].call.data", "--data"},
	{"groups[0].call.proto", "--proto"},
	{"groups[0].call.import_paths", "--import-paths"},
	{"groups[0].call.protoset", "--protoset"},
	{"groups[0].call.expect.count", "--expect-count"},
	{"groups[0].call.lockstep", "--lockstep"},
	{"groups[0].call", "--call"},
	{"groups[0].clients", "--clients"},
	{"groups[0].connections", "--connections"},
	{"groups[0].messages", "--messages"},
	{"groups[0].arrival", "--rps"},
	{"duration", "--call-duration"},
}

// userWords rewrites scenario errors about the file write made into the
// words of the command line: the flag, no file position. Other errors are
// returned as they are.
func (a *adhocFlags) userWords(err error) error {
	es, ok := scenario.AsErrors(err)
	if !ok || a.path == "" {
		return err
	}
	for _, e := range es {
		if e.File != a.path {
			continue
		}
		e.File, e.Pos = "", scenario.Pos{}
		for _, m := range adhocFields {
			if e.Field == m.field || strings.HasPrefix(e.Field, m.field+".") || strings.HasPrefix(e.Field, m.field+"[") {
				e.Field = m.flag
				break
			}
		}
		e.Msg = strings.ReplaceAll(e.Msg, a.path, "--call")
	}
	return es
}

func (a *adhocFlags) flags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&a.call, "call", "", "a one-line run without a scenario file: drive this method (package.Service/Method) of --target generically")
	fl.StringVar(&a.data, "data", "{}", "with --call: the request as JSON (or @FILE), with {{index}}, {{client}}... variables (docs/scenarios.md)")
	fl.StringSliceVar(&a.proto, "proto", nil, "with --call: .proto files to compile (default: the target's server reflection)")
	fl.StringSliceVar(&a.importPaths, "import-paths", nil, "with --call: where the .proto files and their imports are")
	fl.StringVar(&a.protoset, "protoset", "", "with --call: a compiled descriptor set instead of .proto files")
	fl.IntVar(&a.clients, "clients", 10, "with --call: concurrent clients")
	fl.IntVar(&a.connections, "connections", 1, "with --call: ClientConns the clients share")
	fl.IntVar(&a.messages, "messages", 10, "with --call: requests per client or bidi stream")
	fl.IntVar(&a.expectCount, "expect-count", 0, "with --call: responses every stream must carry (0: any)")
	fl.BoolVar(&a.lockstep, "lockstep", false, "with --call: a bidi stream waits for each answer before its next request (ping-pong); default pipelined")
	fl.DurationVar(&a.length, "call-duration", 10*time.Second, "with --call: how long to run (--duration overrides it too)")
	fl.Float64Var(&a.rps, "rps", 0, "with --call: open new streams at this rate per second whatever the target does (an open loop, as ghz --rps); default: each client opens its next stream when its last one ends")
	fl.IntVarP(&a.total, "total", "n", 0, "with --call and --rps: open this many streams in all (as ghz -n): the run lasts total/rps")
}

// write turns the flags into a scenario file (so the report echoes a
// source that replays and compares like any other) and returns its path.
func (a *adhocFlags) write() (string, error) {
	data := a.data
	if path, ok := strings.CutPrefix(data, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", exitf(ExitBadInput, "--data: %v", err)
		}
		data = string(b)
	}
	var v any
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		return "", exitf(ExitBadInput, "--data: not JSON: %v", err)
	}
	call := map[string]any{"method": a.call, "data": v}
	if len(a.proto) > 0 {
		abs, err := absAll(a.proto)
		if err != nil {
			return "", err
		}
		call["proto"] = abs
	}
	if len(a.importPaths) > 0 {
		abs, err := absAll(a.importPaths)
		if err != nil {
			return "", err
		}
		call["import_paths"] = abs
	}
	if a.protoset != "" {
		abs, err := filepath.Abs(a.protoset)
		if err != nil {
			return "", exitf(ExitBadInput, "--protoset: %v", err)
		}
		call["protoset"] = abs
	}
	if a.lockstep {
		call["lockstep"] = true
	}
	if a.expectCount > 0 {
		call["expect"] = map[string]any{"count": a.expectCount}
	}
	group := map[string]any{
		"name": "call", "clients": a.clients, "connections": a.connections, "messages": a.messages, "call": call,
	}
	length := a.length
	switch {
	case a.total != 0 && a.rps == 0:
		return "", exitf(ExitBadInput, "-n/--total %d: give --rps too (streambench paces streams by time: the run lasts total/rps); without --rps, --call-duration bounds the run", a.total)
	case a.total < 0:
		return "", exitf(ExitBadInput, "-n/--total: must be > 0, got %d", a.total)
	case a.rps < 0:
		return "", exitf(ExitBadInput, "--rps: must be > 0, got %v", a.rps)
	case a.rps > 0:
		group["arrival"] = map[string]any{"rate": strconv.FormatFloat(a.rps, 'f', -1, 64) + "/s"}
		if a.total > 0 {
			length = time.Duration(float64(a.total) / a.rps * float64(time.Second))
		}
	}
	sc := map[string]any{
		"name":        "call",
		"description": "streambench run --call " + a.call,
		"duration":    length.String(),
		"groups":      []any{group},
		"assert":      []any{map[string]any{"eof": "clean"}, "correct", "errors == 0"},
	}
	b, err := yaml.Marshal(sc)
	if err != nil {
		return "", exitf(ExitBadInput, "--call: %v", err)
	}
	dir, err := os.MkdirTemp("", "streambench-call-")
	if err != nil {
		return "", exitf(ExitHarness, "--call: %v", err)
	}
	path := filepath.Join(dir, "call.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", exitf(ExitHarness, "--call: %v", err)
	}
	a.path = path
	return path, nil
}

func absAll(paths []string) ([]string, error) {
	out := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, exitf(ExitBadInput, "%s: %v", p, err)
		}
		out[i] = a
	}
	return out, nil
}
