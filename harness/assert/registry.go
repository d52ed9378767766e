package assert

import (
	"github.com/streambench/streambench/harness/scenario"

	"fmt"
	"sort"
	"strings"
)

// Check describes one named check: what `streambench list`, the parser and
// the docs test (docs/assertions.md) read. Adding a check is one file
// holding its Check value and compile function, one line in registry, and
// its test.
type Check struct {
	// Name is the key written in a scenario (eof, no_loss, isolation).
	Name string
	// Doc is one line: what the check requires.
	Doc string
	// Arg says what the short form (`name: ARG`) takes: "group" (an
	// optional group name or all), a fixed word ("clean", "none"), or ""
	// when the check is written only with settings.
	Arg string
	// Example is the check as a scenario would write it.
	Example string
	// Settings are the keys of the mapping form (`name: {k: v}`), with
	// their meaning; evidence settings (min_messages...) are included.
	Settings []Setting
	// compile builds the assertion from what was written.
	compile func(in input) (Assertion, error)
}

// Setting is one key a check accepts in its mapping form.
type Setting struct {
	Name    string
	Default string
	Doc     string
}

// input is one assertion as written, handed to a check's compile function.
type input struct {
	// text is the assertion as written (the verdict's name).
	text string
	// value is the short form's argument ("" when absent or mapping form).
	value string
	// args is the mapping form's settings (nil for the short form).
	args map[string]string
	// groups are the scenario's group names.
	groups []string
}

// registry lists every named check, in the order `streambench list` prints
// them.
var registry = []*Check{
	&eofCheck,
	&correctCheck,
	&noLossCheck,
	&noDuplicatesCheck,
	&recoveredCheck,
	&isolationCheck,
	&latencyShiftCheck,
	&leaksCheck,
	&balanceCheck,
	&rebalanceTimeCheck,
	&coversCheck,
}

// Checks returns every named check, sorted by name.
func Checks() []Check {
	out := make([]Check, len(registry))
	for i, c := range registry {
		out[i] = *c
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func lookupCheck(name string) (*Check, bool) {
	for _, c := range registry {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

func checkNames() []string {
	names := make([]string, len(registry))
	for i, c := range registry {
		names[i] = c.Name
	}
	sort.Strings(names)
	return names
}

// SettingNames returns the setting keys of c, in its order.
func (c Check) SettingNames() []string {
	out := make([]string, len(c.Settings))
	for i, s := range c.Settings {
		out[i] = s.Name
	}
	return out
}

// didYouMean is ` (did you mean "s"?)`, or "" without a suggestion.
func didYouMean(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", s)
}

// compileNamed compiles the named check key: its short form (value) or
// its mapping form (args != nil).
func compileNamed(text, key, value string, args map[string]string, groups []string) (Assertion, error) {
	c, ok := lookupCheck(key)
	if !ok {
		return nil, fmt.Errorf("unknown check %q%s (checks: %s; or write a threshold like %q)",
			key, didYouMean(scenario.Suggest(key, checkNames())), strings.Join(checkNames(), ", "), "latency.p99 < 20ms")
	}
	if args != nil {
		names := c.SettingNames()
		for k := range args {
			if !contains(names, k) {
				return nil, fmt.Errorf("%s: unknown setting %q (settings: %s)", key, k, strings.Join(names, ", "))
			}
		}
	} else if c.Arg == "" {
		return nil, fmt.Errorf("%s takes settings: write %s", key, c.Example)
	}
	a, err := c.compile(input{text: text, value: value, args: args, groups: groups})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return a, nil
}
