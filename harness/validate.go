package harness

import (
	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/scenario"
)

// Load reads, validates and compiles the scenario at path: everything that
// can be checked without running it. Errors are scenario.Errors with
// file:line:column positions.
func Load(path string) (*scenario.Scenario, error) {
	sc, err := scenario.Load(path)
	if err != nil {
		return nil, err
	}
	_, aerr := assert.Compile(sc)
	_, ferr := compileFaults(sc)
	if aerr != nil || ferr != nil {
		var all scenario.Errors
		for _, err := range []error{ferr, aerr} {
			if es, ok := scenario.AsErrors(err); ok {
				all = append(all, es...)
			}
		}
		return nil, all
	}
	return sc, nil
}

// Validate checks the scenario at path without running it.
func Validate(path string) error {
	_, err := Load(path)
	return err
}
