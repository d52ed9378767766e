package harness

import (
	"fmt"
	"os"

	"github.com/streambench/streambench/harness/scenario"
)

// Load reads and decodes the scenario at path and checks everything that
// can be checked without running it, through NewPlan: every problem of the
// file at once, as scenario.Errors with file:line:column positions. The
// scenario comes back as written (NewPlan applies defaults and overrides
// to its own copy).
func Load(path string) (*scenario.Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
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
