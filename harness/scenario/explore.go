package scenario

// Explore is the optional explore: block: it narrows the fault timelines
// `streambench explore` generates for the scenario. Every field is
// optional; the explore package checks the kinds against the fault registry
// (this package does not know the kinds).
type Explore struct {
	// Kinds are the fault kinds explore may draw (default: every kind the
	// scenario's target and link can take).
	Kinds []string `yaml:"kinds"`
	// MaxFaults is the most faults one generated timeline has (default 3).
	MaxFaults int `yaml:"max_faults"`
	// MaxWindow is the longest for: a generated fault gets (default: half
	// the run).
	MaxWindow Duration `yaml:"max_window"`
	// Duration is each explored run's duration (default: the scenario's,
	// at most 5s).
	Duration Duration `yaml:"duration"`
}
