package harness

import (
	"fmt"
	"os"

	"github.com/streambench/streambench/harness/scenario"
)

// Load reads and decodes the scenario at path and checks everything that
// can be checked without running it, through NewPlan with opts (the
// catalogs: package streambench's Load gives the reference ones). Errors are
// scenario.Errors with file:line:column positions.
//
// A file that is not YAML stops at that problem; a file that does not
// decode (unknown keys, values of the wrong type) says every such problem
// and goes no further. Otherwise every problem comes back at once, in file
// order: the scenario's own rules, its RPCs', its
// faults', its assertions' and the leak check's settings are all checked
// even when an earlier one failed. The scenario comes back as written
// (NewPlan applies defaults and overrides to its own copy).
func Load(path string, opts ...PlanOption) (*scenario.Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return LoadData(path, data, opts...)
}

// LoadData is Load of data read from path.
func LoadData(path string, data []byte, opts ...PlanOption) (*scenario.Scenario, error) {
	sc, err := scenario.Decode(path, data)
	if err != nil {
		return nil, err
	}
	if _, err := NewPlan(sc, opts...); err != nil {
		return nil, err
	}
	return sc, nil
}

// Check is Load that also says what could not be checked without the
// target (Plan.Unchecked): a generic call resolved over server reflection
// has its method, templates and expectations checked by run alone. With
// .proto files or a protoset named in the scenario, Check decides what
// run decides.
func Check(path string, opts ...PlanOption) (unchecked []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	sc, err := scenario.Decode(path, data)
	if err != nil {
		return nil, err
	}
	p, err := NewPlan(sc, opts...)
	if err != nil {
		return nil, err
	}
	return p.Unchecked(), nil
}
