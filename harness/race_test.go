//go:build race

package harness_test

// raceEnabled is true under -race, whose instrumentation slows grpc-go
// several times over: latency thresholds mean nothing there.
const raceEnabled = true
