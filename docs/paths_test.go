package docs_test

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// modulePath is this module's import path; a package named by it is a
// folder of this repository.
const modulePath = "github.com/streambench/streambench/"

// pathRef is a repository path a markdown file names.
type pathRef struct {
	line int
	path string // slash-separated, relative to the repository root; may be a glob
	how  string // "link" or "code"
}

var (
	linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	spanRE = regexp.MustCompile("`([^`]+)`")
	// A token of a code span that may be a path: no spaces, at least one
	// slash, only the characters paths here use (and globs).
	pathTokenRE  = regexp.MustCompile(`^\.?/?[A-Za-z0-9_.*-]+(/[A-Za-z0-9_.*-]*)+$`)
	lineSuffixRE = regexp.MustCompile(`(:[0-9]+)+$`)
)

// pathRefs returns the repository paths md names: the targets of relative
// links (resolved against dir, the markdown file's folder relative to the
// root), and in code spans and shell code blocks, every word that is a path
// whose first element is one of top (the repository's top-level entries),
// or a package of this module by its import path. Run outputs (out/) are
// not the repository's; other code blocks (YAML, Go, output) name a
// scenario's or a user's paths.
func pathRefs(md, dir string, top []string) []pathRef {
	var out []pathRef
	inFence, shell := false, false
	for i, l := range strings.Split(md, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "```") {
			inFence = !inFence
			lang := strings.TrimPrefix(t, "```")
			shell = inFence && (lang == "sh" || lang == "bash")
			continue
		}
		if shell {
			// A command's words up to its comment.
			for _, w := range strings.Fields(l) {
				if strings.HasPrefix(w, "#") {
					break
				}
				if p, ok := repoPath(strings.Trim(w, `'"`), top); ok {
					out = append(out, pathRef{line: i + 1, path: p, how: "command"})
				}
			}
			continue
		}
		if inFence {
			continue // YAML, Go, output: a scenario's or a user's paths
		}
		for _, m := range linkRE.FindAllStringSubmatch(l, -1) {
			u, err := url.Parse(m[1])
			if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "" {
				continue // a web address, an anchor of this page, or not a link
			}
			out = append(out, pathRef{line: i + 1, path: path.Join(dir, u.Path), how: "link"})
		}
		for _, m := range spanRE.FindAllStringSubmatch(l, -1) {
			for _, w := range strings.Fields(m[1]) {
				if p, ok := repoPath(w, top); ok {
					out = append(out, pathRef{line: i + 1, path: p, how: "code"})
				}
			}
		}
	}
	return out
}

// repoPath tells whether a word of a code span names a repository path,
// and which.
func repoPath(w string, top []string) (string, bool) {
	w = strings.TrimRight(w, ".,;:)")
	w = lineSuffixRE.ReplaceAllString(w, "") // file.go:12:5
	if rest, ok := strings.CutPrefix(w, modulePath); ok {
		// A package, perhaps with a name after it (pkg.Name=value).
		if i := strings.IndexFunc(rest, func(r rune) bool { return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyz0123456789_-/", r) }); i >= 0 {
			rest = rest[:i]
		}
		return strings.TrimSuffix(rest, "/"), rest != ""
	}
	if !pathTokenRE.MatchString(w) || strings.Contains(w, "://") {
		return "", false
	}
	p := strings.TrimPrefix(w, "./")
	p = strings.TrimSuffix(strings.TrimSuffix(p, "/..."), "/")
	first, _, _ := strings.Cut(p, "/")
	if first == "out" || !slices.Contains(top, first) {
		return "", false
	}
	return p, true
}

// missingPaths returns, for each ref that names nothing under root (a glob
// matching no file counts), a line "file:line: ...".
func missingPaths(root, file string, refs []pathRef) []string {
	var out []string
	for _, r := range refs {
		p := filepath.Join(root, filepath.FromSlash(r.path))
		if strings.ContainsAny(r.path, "*?[") {
			if m, err := filepath.Glob(p); err == nil && len(m) > 0 {
				continue
			}
		} else if _, err := os.Stat(p); err == nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s:%d: %s names %s, which does not exist", file, r.line, r.how, r.path))
	}
	return out
}

// topLevel returns the names of root's top-level entries that git tracks
// (a binary a local build left at the root, such as ./streambench, is not
// a repository path), or every entry outside a git checkout.
func topLevel(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	if files, err := exec.Command("git", "-C", root, "ls-files").Output(); err == nil && len(files) > 0 {
		for _, f := range strings.Split(strings.TrimSpace(string(files)), "\n") {
			first, _, _ := strings.Cut(f, "/")
			if !slices.Contains(out, first) {
				out = append(out, first)
			}
		}
		return out
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestNamedPathsExist: every repository path README.md and docs/*.md name,
// in a relative link or a code span, exists.
func TestNamedPathsExist(t *testing.T) {
	root := repoRoot(t)
	top := topLevel(t, root)
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"../README.md"}, files...)
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(root, filepath.Join(root, "docs", f))
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		refs := pathRefs(string(data), path.Dir(rel), top)
		n += len(refs)
		for _, m := range missingPaths(root, rel, refs) {
			t.Error(m)
		}
	}
	t.Logf("%d paths checked", n)
	if n < 50 {
		t.Errorf("checked %d paths; README.md and docs/ name more than 50", n)
	}
}

// TestPathChecker: the checker finds the paths a page names and flags the
// made-up ones, and leaves alone what is not a repository path.
func TestPathChecker(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"harness/proc/proc.go", "scenarios/smoke.yaml", "deploy/kubernetes/README.md", "docs/faults.md", "internal/version/version.go", "cmd/other/main.go"} {
		write(t, filepath.Join(root, f), "x\n")
	}
	top := topLevel(t, root)
	md := strings.Join([]string{
		"The engine is `harness/proc` and `./harness/...`; run `go run ./cmd/streambench run scenarios/smoke.yaml`.", // 1: cmd missing
		"See [the guide](../deploy/kubernetes/README.md) and [faults](faults.md#which-link) and [web](https://example.com/x/y).",
		"A made-up `scenarios/x.yaml`, a glob `scenarios/*.yaml`, another `scenarios/*.json`.", // 3: x.yaml and *.json missing
		"Outputs `out/smoke/report.json` and `p99/p50` and `harness/proc/proc.go:12` are fine.",
		"[gone](missing.md), `-X github.com/streambench/streambench/internal/version.Stamp=v1`, `github.com/streambench/streambench/internal/nope`.", // 5
		"```sh",
		"go run ./cmd/nothing scenarios/smoke.yaml  # scenarios/commented.yaml",
		"```",
		"```yaml",
		"scenarios: scenarios/users.yaml",
		"```",
	}, "\n")
	refs := pathRefs(md, "docs", top)
	var got []string
	for _, r := range refs {
		got = append(got, fmt.Sprintf("%d %s %s", r.line, r.how, r.path))
	}
	want := []string{
		"1 code harness/proc", "1 code harness", "1 code cmd/streambench", "1 code scenarios/smoke.yaml",
		"2 link deploy/kubernetes/README.md", "2 link docs/faults.md",
		"3 code scenarios/x.yaml", "3 code scenarios/*.yaml", "3 code scenarios/*.json",
		"4 code harness/proc/proc.go",
		"5 link docs/missing.md", "5 code internal/version", "5 code internal/nope",
		"7 command cmd/nothing", "7 command scenarios/smoke.yaml",
	}
	if !slices.Equal(got, want) {
		t.Errorf("pathRefs:\n got %q\nwant %q", got, want)
	}
	miss := missingPaths(root, "docs/x.md", refs)
	wantMiss := []string{
		"docs/x.md:1: code names cmd/streambench, which does not exist",
		"docs/x.md:3: code names scenarios/x.yaml, which does not exist",
		"docs/x.md:3: code names scenarios/*.json, which does not exist",
		"docs/x.md:5: link names docs/missing.md, which does not exist",
		"docs/x.md:5: code names internal/nope, which does not exist",
		"docs/x.md:7: command names cmd/nothing, which does not exist",
	}
	if !slices.Equal(miss, wantMiss) {
		t.Errorf("missingPaths:\n got %q\nwant %q", miss, wantMiss)
	}
}

// TestLayoutNamesEveryPackage: README.md's Layout block names every
// package folder of harness/, targets/ and internal/ (one level down), and
// every folder it names exists.
func TestLayoutNamesEveryPackage(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := layout(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	for _, p := range listed {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("README.md's Layout names %s/, which does not exist", p)
		}
	}
	for _, parent := range []string{"harness", "targets", "internal"} {
		entries, err := os.ReadDir(filepath.Join(root, parent))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := parent + "/" + e.Name()
			if !e.IsDir() || e.Name() == "testdata" || !hasGo(t, filepath.Join(root, p)) {
				continue
			}
			if !slices.Contains(listed, p) {
				t.Errorf("README.md's Layout lacks the package %s/", p)
			}
		}
	}
}

// layout returns the folders README.md's Layout block names: a line
// "name/ ..." at the left is a top-level folder, an indented one a folder
// inside the last top-level folder.
func layout(md string) ([]string, error) {
	_, rest, ok := strings.Cut(md, "\n## Layout\n")
	if !ok {
		return nil, fmt.Errorf("README.md has no Layout section")
	}
	_, rest, ok = strings.Cut(rest, "```\n")
	if !ok {
		return nil, fmt.Errorf("README.md's Layout section has no code block")
	}
	block, _, _ := strings.Cut(rest, "```")
	var out []string
	parent := ""
	for _, l := range strings.Split(block, "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(l), " ")
		if !strings.HasSuffix(name, "/") {
			continue
		}
		name = strings.TrimSuffix(name, "/")
		if strings.HasPrefix(l, " ") {
			name = parent + "/" + name
		} else {
			parent = name
		}
		out = append(out, name)
	}
	if len(out) < 10 {
		return nil, fmt.Errorf("README.md's Layout block names %d folders: %q", len(out), out)
	}
	return out, nil
}

func hasGo(t *testing.T, dir string) bool {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m) > 0
}
