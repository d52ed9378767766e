// Package docs_test checks the code in README.md and docs/*.md: every Go
// snippet compiles against this module, and every YAML block that is a
// scenario, or a piece of one, passes harness.Load (the decoder, Validate
// and the fault, assertion and leak-setting compilers) — so the examples a
// reader copies work.
package docs_test

import (
	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"

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

	"go.yaml.in/yaml/v3"
)

// block is a fenced code block of a markdown file.
type block struct {
	file string
	line int // of the opening fence
	lang string
	text string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var fenceRE = regexp.MustCompile("^\\s*```(\\w*)\\s*$")

// blocks returns the fenced blocks of README.md and docs/*.md.
func blocks(t *testing.T) []block {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"../README.md"}, files...)
	var out []block
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i := 0; i < len(lines); i++ {
			m := fenceRE.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			start := i
			var body []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
				body = append(body, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("%s:%d: unclosed code block", f, start+1)
			}
			out = append(out, block{file: filepath.Clean(f), line: start + 1, lang: m[1], text: strings.Join(body, "\n") + "\n"})
		}
	}
	return out
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// knownImports are the packages a Go snippet may use without importing
// them; a snippet is a function body with ctx (context.Context) and t
// (*testing.T) in scope.
var knownImports = map[string]string{
	"streambench": "github.com/streambench/streambench",
	"harness":     "github.com/streambench/streambench/harness",
	"scenario":    "github.com/streambench/streambench/harness/scenario",
	"reports":     "github.com/streambench/streambench/reports",
	"rpc":         "github.com/streambench/streambench/harness/rpc",
	"longlived":   "github.com/streambench/streambench/targets/longlived",
	"mathsrv":     "github.com/streambench/streambench/targets/math",
	"time":        "time",
	"fmt":         "fmt",
	"errors":      "errors",
	"os":          "os",
}

// TestGoSnippetsCompile compiles every ```go block of README.md and
// docs/*.md in a temporary module that requires this one through a replace
// directive. A block that is a whole file (starts with "package") is
// compiled as it is; any other is a function body with ctx and t in scope.
func TestGoSnippetsCompile(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to compile the snippets: %v", err)
	}
	var snippets []block
	for _, b := range blocks(t) {
		if b.lang == "go" {
			snippets = append(snippets, b)
		}
	}
	if len(snippets) == 0 {
		t.Fatal("no Go snippet found; README.md has at least one")
	}
	root := repoRoot(t)
	// The snippets are compiled as packages of this module, in a folder
	// under docs/testdata (which ./... patterns skip), so they build with
	// this module's own go.mod and build list — exactly what `go test ./...`
	// needs, whatever else the module cache holds. (A scratch module that
	// required this one through a replace directive needed go.mod files of
	// versions this module's pruned graph never loads: on a fresh module
	// cache they were missing and the test failed.)
	if err := os.MkdirAll(filepath.Join(root, "docs", "testdata"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join(root, "docs", "testdata"), "snippets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	origin := map[string]block{}
	for i, b := range snippets {
		name := fmt.Sprintf("s%02d", i)
		origin[name] = b
		src := b.text
		if !strings.HasPrefix(strings.TrimSpace(src), "package ") {
			src = wrapBody(b.text)
		}
		write(t, filepath.Join(dir, name, "snippet.go"), src)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// go build, not go vet: both type-check every snippet, but vet also
	// analyses every package the snippets import, which on a cold build
	// cache was 25 s of the README's test command; the build reuses the
	// packages `go run ./cmd/streambench` compiled.
	cmd := exec.CommandContext(ctx, goTool, "build", "./"+filepath.Base(dir)+"/...")
	cmd.Dir = filepath.Dir(dir)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		// Name the markdown block of each failing snippet.
		msg := strings.ReplaceAll(string(out), filepath.Base(dir)+"/", "")
		for name, b := range origin {
			msg = strings.ReplaceAll(msg, "./"+name+"/snippet.go", b.String()+" (snippet)")
			msg = strings.ReplaceAll(msg, name+"/snippet.go", b.String()+" (snippet)")
		}
		t.Fatalf("go build of the snippets: %v\n%s", err, msg)
	}
}

// wrapBody makes a function body a file: the package clause, the imports it
// uses and a function with ctx and t.
func wrapBody(body string) string {
	var imports []string
	for name, path := range knownImports {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(body) {
			imports = append(imports, fmt.Sprintf("%s %q", name, path))
		}
	}
	slices.Sort(imports)
	return fmt.Sprintf("package snippet\n\nimport (\n\t\"context\"\n\t\"testing\"\n\t%s\n)\n\nfunc Snippet(ctx context.Context, t *testing.T) {\n%s}\n",
		strings.Join(imports, "\n\t"), body)
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// base is the scenario a fragment is completed with: groups with the names
// the docs use, and one fault for latency_shift to name.
const base = `name: doc
duration: 60s
target:
  builtin:
    feed: {rate: 20/s}
groups:
  - {name: subscribers, rpc: Longlived/Subscribe, clients: 10}
  - {name: fast, rpc: Longlived/Subscribe, clients: 10}
  - {name: pow, rpc: Math/Pow, clients: 10}
faults:
  - {at: 10s, for: 5s, kind: latency, latency: 100ms}
`

// loadSnippet validates scenario text sc of block b as a file in the
// markdown file's folder (so "../targets/proto/streambench.proto" from
// docs/ is the repository's), else in scenarios/ (where the repository
// keeps its descriptors: interop.protoset). A generic call's descriptors
// are checked as run checks them (validate decides what run decides); a
// .proto or protoset that exists in neither folder is the reader's own
// (orders.proto, etcd.protoset), and only that problem is let pass.
func loadSnippet(b block, sc string) error {
	var err error
	for _, dir := range []string{filepath.Dir(b.file), "../scenarios"} {
		if _, err = harness.LoadData(filepath.Join(dir, "doc.yaml"), []byte(sc), streambench.Catalogs()...); err == nil {
			return nil
		}
	}
	es, ok := scenario.AsErrors(err)
	if !ok {
		return err
	}
	for _, e := range es {
		own := (strings.HasSuffix(e.Field, ".call.proto") || strings.HasSuffix(e.Field, ".call.protoset")) &&
			strings.Contains(e.Msg, "no such file or directory")
		if !own {
			return err
		}
	}
	return nil
}

// Top-level and group-level keys, to tell what a fragment completes.
var (
	topKeys   = []string{"version", "name", "description", "seed", "duration", "graceful_stop", "target", "link", "groups", "faults", "assert", "explore"}
	groupKeys = []string{"stages", "arrival", "reconnect", "read", "keepalive", "idle", "stream_timeout", "buffers", "window"}
)

// TestYAMLSnippetsAreValid validates every ```yaml block of README.md and
// docs/*.md that is a scenario or a piece of one with harness.Load:
//   - a whole scenario (it has name and groups) as it is;
//   - top-level keys (faults:, assert:, target:, link:, ...) replace those
//     of a small base scenario whose groups and fault the docs' examples
//     name (a target: address: drops the base's network fault, which needs
//     the builtin target);
//   - group keys (stages:, arrival:, read:, ...) go into a group of that
//     base, of an RPC that takes them (Math/Pow for stages and arrival, a
//     subscriber otherwise), with 1,000 clients;
//   - a list is assertions: the base's assert list;
//   - a key written twice (two alternatives, one a line) is each line on
//     its own.
//
// GitHub Actions YAML (a workflow, steps using the action) is not a
// scenario; it is recognised by its keys and counted, and anything else
// unrecognised fails the test, so no block escapes unchecked.
func TestYAMLSnippetsAreValid(t *testing.T) {
	var checked, actions int
	for _, b := range blocks(t) {
		if b.lang != "yaml" {
			continue
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(b.text), &doc); err != nil || len(doc.Content) != 1 {
			t.Errorf("%s: not one YAML document: %v", b, err)
			continue
		}
		root := doc.Content[0]
		if isActions(root) {
			actions++
			continue
		}
		for _, alt := range alternatives(root) {
			sc, err := complete(alt)
			if err != nil {
				t.Errorf("%s: %v\n%s", b, err, b.text)
				continue
			}
			if err := loadSnippet(b, sc); err != nil {
				t.Errorf("%s: the block does not validate:\n%v\nblock:\n%s\nas the scenario:\n%s", b, err, b.text, sc)
			}
			checked++
		}
	}
	t.Logf("%d scenario blocks and fragments validated, %d GitHub Actions blocks skipped", checked, actions)
	if checked < 20 {
		t.Errorf("validated %d blocks; the docs hold more than 20", checked)
	}
}

// isActions tells a GitHub Actions workflow or a list of its steps.
func isActions(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode:
		return hasKey(n, "jobs") || hasKey(n, "on")
	case yaml.SequenceNode:
		return len(n.Content) > 0 && n.Content[0].Kind == yaml.MappingNode && hasKey(n.Content[0], "uses")
	}
	return false
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

// alternatives splits a mapping that writes a key twice into one mapping
// per key; anything else is its own single alternative.
func alternatives(n *yaml.Node) []*yaml.Node {
	if n.Kind != yaml.MappingNode {
		return []*yaml.Node{n}
	}
	seen := map[string]bool{}
	dup := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if seen[n.Content[i].Value] {
			dup = true
		}
		seen[n.Content[i].Value] = true
	}
	if !dup {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: n.Content[i : i+2]})
	}
	return out
}

// complete turns a block into a scenario's text (see TestYAMLSnippetsAreValid).
func complete(n *yaml.Node) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(base), &doc); err != nil {
		return "", err
	}
	sc := doc.Content[0]
	switch {
	case n.Kind == yaml.SequenceNode:
		set(sc, "assert", n)
	case n.Kind == yaml.MappingNode && hasKey(n, "name") && hasKey(n, "groups"):
		return encode(n)
	case n.Kind == yaml.MappingNode && keysIn(n, topKeys):
		for i := 0; i+1 < len(n.Content); i += 2 {
			set(sc, n.Content[i].Value, n.Content[i+1])
		}
		// The base's fault needs the builtin target; a fragment that
		// points the scenario at an address takes it out.
		if tg := get(n, "target"); tg != nil && hasKey(tg, "address") && !hasKey(n, "faults") {
			del(sc, "faults")
		}
	case n.Kind == yaml.MappingNode && keysIn(n, groupKeys):
		rpc := "Longlived/Subscribe"
		if hasKey(n, "stages") || hasKey(n, "arrival") {
			rpc = "Math/Pow"
		}
		var g yaml.Node
		if err := yaml.Unmarshal([]byte("{name: fragment, rpc: "+rpc+", clients: 1000}"), &g); err != nil {
			return "", err
		}
		group := g.Content[0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			set(group, n.Content[i].Value, n.Content[i+1])
		}
		groups := get(sc, "groups")
		groups.Content = append(groups.Content, group)
	default:
		return "", fmt.Errorf("a YAML block that is neither a scenario, a piece of one, nor GitHub Actions YAML: say what it is in docs/snippets_test.go")
	}
	return encode(sc)
}

func keysIn(m *yaml.Node, keys []string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !slices.Contains(keys, m.Content[i].Value) {
			return false
		}
	}
	return len(m.Content) > 0
}

func get(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// del removes key from mapping m.
func del(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = slices.Delete(m.Content, i, i+2)
			return
		}
	}
}

// set replaces key's value in mapping m, or adds the key.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

func encode(n *yaml.Node) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	return b.String(), enc.Close()
}

// TestTablesAreWhole: a markdown table ends at its first blank line, so a
// blank line between two rows splits it, and the rows after it render as
// a paragraph of pipes.
func TestTablesAreWhole(t *testing.T) {
	files, _ := filepath.Glob("*.md")
	files = append([]string{"../README.md"}, files...)
	sepRE := regexp.MustCompile(`^\|[\s:|-]+\|\s*$`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		inFence := false
		for i := 0; i+2 < len(lines); i++ {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "```") {
				inFence = !inFence
			}
			if inFence {
				continue
			}
			row := strings.HasPrefix(lines[i], "|")
			if row && strings.TrimSpace(lines[i+1]) == "" && strings.HasPrefix(lines[i+2], "|") &&
				!(i+3 < len(lines) && sepRE.MatchString(lines[i+3])) {
				t.Errorf("%s:%d: a blank line splits a table (the rows after it are not a table)", f, i+2)
			}
		}
	}
}

// TestCIRunsScenariosAtFullLength: docs/reports.md says CI runs every
// scenario at its full length; .github/workflows/ci.yml and .ci/run must
// not shorten them.
func TestCIRunsScenariosAtFullLength(t *testing.T) {
	doc, err := os.ReadFile("reports.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "every scenario at its full length") {
		t.Fatal("docs/reports.md no longer says how long CI runs the scenarios; update this test with it")
	}
	for _, f := range []string{"../.github/workflows/ci.yml", "../.ci/run"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		runs := 0
		for i, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "streambench run") || strings.Contains(l, "streambench\" run") || strings.Contains(l, "/streambench run") {
				runs++
				if strings.Contains(l, "--duration") {
					t.Errorf("%s:%d runs a scenario shortened, but docs/reports.md says full length: %s", f, i+1, strings.TrimSpace(l))
				}
			}
		}
		if runs == 0 {
			t.Errorf("%s: found no scenario run; update this test", f)
		}
	}
}
