package reports_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestImportsPointOneWay: the schema imports neither the statistics nor
// the renderers, and the statistics do not import the renderers (which
// may import both), so that the package of the types stays a leaf.
func TestImportsPointOneWay(t *testing.T) {
	const mod = "github.com/streambench/streambench/reports"
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, tc := range []struct {
		pkg    string
		banned []string
	}{
		{mod, []string{mod + "/compare", mod + "/render"}},
		{mod + "/compare", []string{mod + "/render"}},
	} {
		out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		deps := strings.Fields(string(out))
		if !slices.Contains(deps, tc.pkg) {
			t.Fatalf("go list -deps %s does not list the package itself:\n%s", tc.pkg, out)
		}
		for _, b := range tc.banned {
			if slices.Contains(deps, b) {
				t.Errorf("%s imports %s: imports must point from the renderers to the statistics to the schema, never back", tc.pkg, b)
			}
		}
	}
}
