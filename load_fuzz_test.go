package streambench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/scenario"
)

// FuzzLoad: whatever the file holds, Load returns a scenario or scenario
// errors, never panics, even though it now compiles faults, assertions and
// leak settings of a scenario that failed Validate.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("scenarios/*.yaml")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("name: x\nduration: -1s\ngroups:\n  - {rpc: Math/Pow, clients: -3, connections: 0}\nfaults:\n  - {at: -1s, every: -2s, for: 5s, kind: latency, latency: -1ms}\n  - {kind: sever, scope: {fraction: 7, group: nope}}\nassert:\n  - leaks: {settle: 0s, heap: -1}\n  - isolation: {group: nope, factor: -1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := harness.LoadData("f.yaml", data, Catalogs()...)
		if err != nil {
			if _, ok := scenario.AsErrors(err); !ok {
				t.Fatalf("error %T %v is not scenario errors", err, err)
			}
			return
		}
		if sc == nil {
			t.Fatal("no scenario and no error")
		}
	})
}
