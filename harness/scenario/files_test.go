package scenario

import (
	"path/filepath"
	"testing"
)

// TestScenarioFiles checks that every scenario shipped in scenarios/ parses
// and validates.
func TestScenarioFiles(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no scenarios in ../../scenarios yet")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Base(file); s.Name+".yaml" != want {
				t.Logf("note: scenario name %q differs from its file name %q", s.Name, want)
			}
		})
	}
}
