package harness

import (
	"fmt"
	"os"

	"github.com/streambench/streambench/harness/scenario"
)

// Load reads and decodes the scenario at path and checks everything that
// can be checked without running it, through NewPlan. Errors are
// scenario.Errors with file:line:column positions.
//
// A file that does not decode (YAML syntax, an unknown key, a value of the
// wrong type) stops at that first problem. Otherwise every problem comes
// back at once, in file order: the scenario's own rules, its RPCs', its
// faults', its assertions' and the leak check's settings are all checked
// even when an earlier one failed. The scenario comes back as written
// (NewPlan applies defaults and overrides to its own copy).
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
	if _, err := NewPlan(sc); err != nil {
		return nil, err
	}
	return sc, nil
}

// Validate checks the scenario at path without running it.
func Validate(path string) error {
	_, err := Load(path)
	return err
}
