package docs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCheckTrackedFiles runs .ci/check-tracked-files, the check .ci/run
// makes that no executable binary and no file over 1 MB is tracked, on
// small git repositories holding one such file each, and on this one.
func TestCheckTrackedFiles(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is needed to check tracked files: %v", err)
	}
	script, err := filepath.Abs("../.ci/check-tracked-files")
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("data\n"), 1<<20/5+1) // just over 1 MB of text
	tests := []struct {
		name    string
		path    string
		content []byte
		want    string // in the error output; "" when the check passes
	}{
		{"text", "main.go", []byte("package main\n"), ""},
		{"1 MB exactly", "notes.txt", big[:1<<20], ""},
		{"over 1 MB", "notes.txt", big, "notes.txt: 1048580 bytes is over the 1 MB limit"},
		{"over 1 MB under testdata", "pkg/testdata/corpus.txt", big, ""},
		{"ELF", "compare", []byte("\x7fELF\x02\x01\x01\x00"), "compare: an ELF executable is tracked"},
		{"ELF under testdata", "pkg/testdata/tool", []byte("\x7fELF\x02\x01\x01\x00"), "pkg/testdata/tool: an ELF executable is tracked"},
		{"Mach-O 64-bit", "bin/tool", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, "bin/tool: a Mach-O executable is tracked"},
		{"Mach-O universal", "tool", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2}, "tool: a Mach-O universal binary"},
		{"PE", "tool.exe", []byte("MZ\x90\x00\x03\x00"), "tool.exe: a PE (Windows) executable is tracked"},
		{"a file with a space in its name", "my notes.txt", big, "my notes.txt: 1048580 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "README.md"), "# x\n")
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, tt.path)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tt.path), tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			runIn(t, dir, git, "init", "-q")
			runIn(t, dir, git, "add", ".")
			out, err := checkTracked(t, script, dir)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("check failed on a clean repository: %v\n%s", err, out)
			case tt.want != "" && err == nil:
				t.Fatalf("check passed; want it to fail with %q", tt.want)
			case tt.want != "" && !strings.Contains(out, tt.want):
				t.Fatalf("check output lacks %q:\n%s", tt.want, out)
			}
		})
	}
	t.Run("this repository", func(t *testing.T) {
		if out, err := checkTracked(t, script, repoRoot(t)); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}

func checkTracked(t *testing.T, script, dir string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, dir).CombinedOutput()
	return string(out), err
}

func runIn(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

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
// set, cd, echo, export, a variable set to a word such as $SECONDS, not
// to a command's output) come before and between them.
func runsFirst(script string, cmds []string) error {
	quiet := regexp.MustCompile("^(#|set |cd |echo |export |$|[A-Za-z_][A-Za-z0-9_]*=[^\\s`(]*$)")
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
		{"timed", "started=$SECONDS\ngo run ./cmd/x run a.yaml\necho took $((SECONDS - started)) s\nstarted=$SECONDS\ngo test -race ./...\n", ""},
		{"a command's output", "x=$(go mod download)\ngo run ./cmd/x run a.yaml\ngo test -race ./...\n", `line 1 runs "x=$(go mod download)"`},
		{"backquotes", "x=`go mod download`\ngo run ./cmd/x run a.yaml\ngo test -race ./...\n", "line 1 runs \"x=`go mod download`\""},
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
