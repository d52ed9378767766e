package docs_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCIRunsREADMECommandsFirst: .ci/run runs the commands of the README's
// first code block exactly as written, before anything else warms the
// module or build cache (go mod download, go vet, installs), so CI meets
// what a newcomer on a fresh machine meets.
func TestCIRunsREADMECommandsFirst(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	cmds := firstCommands(string(readme))
	if len(cmds) < 2 {
		t.Fatalf("README.md's first code block holds %d commands (%q); it has the run and the test command", len(cmds), cmds)
	}
	if err := runsFirst(string(ci), cmds); err != nil {
		t.Error(".ci/run: " + err.Error())
	}
}

// firstCommands returns the commands of the first fenced block of a
// markdown text, each without its trailing comment.
func firstCommands(md string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			if in {
				break
			}
			in = true
			continue
		}
		if !in {
			continue
		}
		if i := strings.Index(l, " #"); i >= 0 {
			l = l[:i]
		}
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// runsFirst checks that script runs cmds, each on a line of its own as
// written, in order, and that only lines that change no cache (comments,
// set, cd, echo, export) come before them.
func runsFirst(script string, cmds []string) error {
	quiet := regexp.MustCompile(`^(#|set |cd |echo |export |$)`)
	next := 0
	for i, l := range strings.Split(script, "\n") {
		if next == len(cmds) {
			return nil
		}
		l = strings.TrimSpace(l)
		if l == cmds[next] {
			next++
			continue
		}
		if !quiet.MatchString(l) {
			return fmt.Errorf("line %d runs %q before the README's command %q (run them first, as written)", i+1, l, cmds[next])
		}
	}
	if next < len(cmds) {
		return fmt.Errorf("does not run the README's command %q as written", cmds[next])
	}
	return nil
}

func TestRunsFirst(t *testing.T) {
	cmds := []string{"go run ./cmd/x run a.yaml", "go test -race ./..."}
	tests := []struct {
		name, script, want string
	}{
		{"first", "#!/bin/bash\nset -e\ncd x\nexport A=1\necho hi\n" + "go run ./cmd/x run a.yaml\ngo test -race ./...\ngo vet ./...\n", ""},
		{"indented", "  go run ./cmd/x run a.yaml\n  go test -race ./...\n", ""},
		{"download first", "go mod download\ngo run ./cmd/x run a.yaml\ngo test -race ./...\n", `line 1 runs "go mod download"`},
		{"an install between", "go run ./cmd/x run a.yaml\ngo install foo@v1\ngo test -race ./...\n", `line 2 runs "go install foo@v1" before the README's command "go test -race ./..."`},
		{"changed flags", "go run ./cmd/x run a.yaml\ngo test -race -timeout 25m ./...\n", `line 2 runs "go test -race -timeout 25m ./..."`},
		{"missing", "go run ./cmd/x run a.yaml\n", `does not run the README's command "go test -race ./..."`},
		{"wrapped", "timeout 300 go run ./cmd/x run a.yaml\ngo test -race ./...\n", `line 1 runs "timeout 300 go run`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runsFirst(tt.script, cmds)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("runsFirst: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("runsFirst = %v, want an error with %q", err, tt.want)
			}
		})
	}
	got := firstCommands("text\n\n```sh\ngo run ./cmd/x run a.yaml   # a comment\n# only a comment\ngo test -race ./...  # the suite\n```\n\n```sh\nlater\n```\n")
	if want := []string{"go run ./cmd/x run a.yaml", "go test -race ./..."}; !slices.Equal(got, want) {
		t.Errorf("firstCommands = %q, want %q", got, want)
	}
}
