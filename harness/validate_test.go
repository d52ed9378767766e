package harness_test

import (
	"github.com/streambench/streambench"

	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streambench/streambench/harness/scenario"
)

func writeScenario(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadReportsEveryProblem: harness.Load reports the scenario's own
// errors, fault errors, assertion errors and the leak check's settings
// together, each at its line:column, in file order.
func TestLoadReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line:col: field: message fragment", in order
	}{
		{"every kind at once", `name: all
duration: 10s
target:
  builtin:
    feed: {rate: 10/s}
link: toxiproxy
groups:
  - {name: subs, rpc: Longlived/Subscribe, clients: 0}
faults:
  - {at: 1s, kind: latency, latency: 1500us}
  - {at: 2s, kind: nope}
assert:
  - subs.latency.p150 < 1s
  - leaks: {settle: soon}
  - nobody.latency.p99 < 1s
`, []string{
			"8:53: groups[0].clients: must be 1 to 1000000, got 0",
			"10:5: faults[0]: latency 1.5ms: toxiproxy counts whole milliseconds",
			"11:20: faults[1].kind: unknown fault kind \"nope\"",
			"13:5: assert[0]: latency.p150: percentile p150",
			"14:5: assert[1]: leaks: settle \"soon\" is not a positive duration",
			"15:5: assert[2]: unknown metric",
		}},
		{"a bad leaks setting alone has its position", `name: l
duration: 10s
groups:
  - {rpc: Math/Pow, clients: 1}
assert:
  - eof: clean
  - leaks: {heap: lots, settle: -1s}
`, []string{
			"7:5: assert[1]: leaks: settle \"-1s\" is not a positive duration (write it like 5s or 500ms); heap \"lots\" is not a size > 0 such as 64MiB",
		}},
		{"a fault without a kind is refused once", `name: k
duration: 10s
groups:
  - {rpc: Math/Pow, clients: 1}
faults:
  - {at: 1s}
`, []string{
			"6:5: faults[0].kind: must be set",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeScenario(t, tt.src)
			_, err := streambench.Load(path)
			es, ok := scenario.AsErrors(err)
			if !ok {
				t.Fatalf("Load: %v, want scenario errors", err)
			}
			if len(es) != len(tt.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(es), len(tt.want), err)
			}
			for i, w := range tt.want {
				if got := es[i].Error(); !strings.HasPrefix(got, path+":"+w) {
					t.Errorf("error %d = %q, want it to start with %q", i, got, path+":"+w)
				}
			}
		})
	}
}
