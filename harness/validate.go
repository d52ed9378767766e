package harness

import (
	"fmt"
	"os"

	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/scenario"
)

// Load reads, validates and compiles the scenario at path: everything that
// can be checked without running it. Errors are scenario.Errors with
// file:line:column positions.
//
// A file that does not decode (YAML syntax, an unknown key, a value of the
// wrong type) stops at that first problem. Otherwise every problem comes
// back at once, in file order: the scenario's own rules (Validate), its
// faults, its assertions and the leak check's settings are all checked
// even when an earlier one failed.
func Load(path string) (*scenario.Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return loadData(path, data)
}

// loadData is Load of data read from path.
func loadData(path string, data []byte) (*scenario.Scenario, error) {
	sc, err := scenario.Decode(path, data)
	if err != nil {
		return nil, err
	}
	sc.Defaults()
	verr := sc.Validate()
	_, aerr := assert.Compile(sc)
	_, ferr := compileFaults(sc)
	_, lerr := leakOptions(sc)
	if verr == nil && aerr == nil && ferr == nil && lerr == nil {
		return sc, nil
	}
	var all scenario.Errors
	seen := map[string]bool{}
	for i, err := range []error{verr, ferr, aerr, lerr} {
		es, ok := scenario.AsErrors(err)
		if !ok && err != nil {
			return nil, err
		}
		for _, e := range es {
			// A field Validate already refused (a fault without a kind)
			// is not refused again by the compiler.
			if i > 0 && seen[e.Field] && e.Field != "" {
				continue
			}
			if i == 0 {
				seen[e.Field] = true
			}
			all = append(all, e)
		}
	}
	all.Sort()
	return nil, all
}

// Validate checks the scenario at path without running it.
func Validate(path string) error {
	_, err := Load(path)
	return err
}
