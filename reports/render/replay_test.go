package render

import (
	"bytes"
	"html"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports/internal/reporttest"
)

// TestHTMLReplayLine: report.html shows the whole replay command, overrides
// included.
func TestHTMLReplayLine(t *testing.T) {
	r := reporttest.Fixture(t, 1)
	r.Scenario.File = "scenarios/smoke.yaml"
	r.Scenario.DurationSeconds = 3
	r.Scenario.Target = "127.0.0.1:7070"
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	want := "<code>" + html.EscapeString(r.ReplayCommand()) + "</code>"
	if !strings.Contains(b.String(), want) || !strings.Contains(want, "--duration 3s --target 127.0.0.1:7070") {
		t.Errorf("report.html lacks %s", want)
	}
}
