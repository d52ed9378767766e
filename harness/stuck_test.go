package harness_test

import (
	"github.com/streambench/streambench"

	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
)

// stuckDriver ignores cancellation until release closes: a client that
// cannot be stopped.
type stuckDriver struct{ release chan struct{} }

func (d stuckDriver) Stream(ctx, stop context.Context) record.End {
	<-d.release
	return record.End{Class: record.Canceled}
}

// TestStuckRunEndsWithErrStuck: a client that ignores cancellation cannot
// hang the run. It ends at the hard deadline with ErrStuck (exit 3 in the
// CLI) and a report whose leak evidence names what did not stop.
func TestStuckRunEndsWithErrStuck(t *testing.T) {
	release := make(chan struct{})
	rpcs, err := rpc.New(rpc.Entry{Name: "Test/Stuck", Factory: func(grpc.ClientConnInterface, driver.Params, record.Sink) driver.Driver {
		return stuckDriver{release}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(release)
		time.Sleep(100 * time.Millisecond) // the stuck clients return
	}()
	sc, err := scenario.Decode("stuck.yaml", []byte(`name: stuck
duration: 300ms
graceful_stop: 200ms
groups:
  - {name: stuck, rpc: Test/Stuck, clients: 3}
assert:
  - leaks: {settle: 300ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := streambench.Run(context.Background(), sc, harness.WithRPCs(rpcs), harness.WithSettle(500*time.Millisecond))
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("a stuck run took %v to end", took)
	}
	if !errors.Is(err, harness.ErrStuck) {
		t.Fatalf("err = %v, want ErrStuck", err)
	}
	if rep == nil || rep.Passed || rep.Leaks == nil {
		t.Fatalf("want a failed report with leak evidence, got %+v", rep)
	}
	// The drain ran through the graceful stop (200ms) and the hard stop's
	// settle (500ms).
	if rep.DrainSeconds < 0.7 {
		t.Errorf("drain %.3fs, want the graceful stop and the settle, 0.7s or more", rep.DrainSeconds)
	}
	var named bool
	for _, f := range rep.Leaks.Goroutines.Leaked {
		named = named || strings.Contains(f.Function, "stuckDriver") && f.Count == 3
	}
	if !named {
		t.Fatalf("leak evidence does not name the 3 stuck clients: %+v", rep.Leaks.Goroutines.Leaked)
	}
}
