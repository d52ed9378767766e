package metrics

import (
	"fmt"
	"strings"
)

// Table is the metric set as the markdown table docs/metrics.md carries
// between its generated-table markers (a test keeps the two equal).
func Table() string {
	var b strings.Builder
	b.WriteString("| Metric | Type | Unit | Labels | Help |\n|---|---|---|---|---|\n")
	for _, d := range Defs {
		labels := make([]string, len(d.Labels))
		for i, l := range d.Labels {
			labels[i] = "`" + l + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", d.Name, d.Type, d.Unit, strings.Join(labels, ", "), d.Help)
	}
	return b.String()
}
