package render

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/streambench/streambench/reports/compare"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// regressedScale scales a fixture's "subs" latency past the single-run
// noise floor, so that a single-run compare calls it a regression.
const regressedScale = (1 + compare.NoiseFloorLatency) * 1.25
