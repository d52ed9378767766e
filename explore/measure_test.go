package explore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/internal/testenv"
)

// TableEnv turns on TestMeasurePlantedBugs: a measurement (about 15
// minutes a seed on two cores), too long even for .ci/run's long pass,
// which runs TestFindsPlantedBugs instead.
const TableEnv = "STREAMBENCH_EXPLORE_TABLE"

// TestMeasurePlantedBugs is docs/explore.md's table: against each planted
// bug that needs a fault to show, explore from a scenario without faults
// finds it within the budget and shrinks it to at most two faults; the
// same budget finds nothing against the correct servers.
func TestMeasurePlantedBugs(t *testing.T) {
	if os.Getenv(TableEnv) != "1" {
		t.Skipf("a measurement of minutes: %s=1 runs it", TableEnv)
	}
	const budget = 40 // runs
	var table strings.Builder
	fmt.Fprintf(&table, "| bug | scenario | seed | runs to first failure | failing check | shrink steps (runs) | final faults | reproduced | wall time |\n|---|---|---|---|---|---|---|---|---|\n")
	type row struct {
		bug, scenario string
		seed          int64
	}
	var rows []row
	for _, b := range []row{
		{"subscribe_ignores_from_seq", "subscribe", 0},
		{"subscribe_replays_previous", "subscribe", 0},
		{"client_reset_as_eof", "subscribe", 0},
		{"pow_nil_on_cancel", "subscribe", 0},
		{"subscribe_strands_on_resubscribe", "leaks", 0},
	} {
		for seed := int64(1); seed <= 3; seed++ {
			b.seed = seed
			rows = append(rows, b)
		}
	}
	rows = append(rows, row{"", "subscribe", 1}, row{"", "leaks", 1})
	for _, tc := range rows {
		name := tc.bug
		if name == "" {
			name = "(correct servers)"
		}
		t.Run(fmt.Sprintf("%s/%s/seed=%d", name, tc.scenario, tc.seed), func(t *testing.T) {
			sc := load(t, tc.scenario)
			opts := Options{Runs: budget, Seed: tc.seed}
			if tc.bug != "" {
				withBug(t, &opts, tc.bug)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			start := time.Now()
			res, err := Explore(ctx, sc, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res.Summary())
			if tc.bug == "" {
				for _, f := range res.Failures {
					t.Errorf("the correct servers fail %s:\n%s", f.Check, f.YAML)
				}
				fmt.Fprintf(&table, "| %s | %s | %d | none in %d | | | | | %v |\n", name, tc.scenario, tc.seed, res.Explored, time.Since(start).Round(time.Second))
				return
			}
			if len(res.Failures) == 0 {
				t.Fatalf("%s not found in %d runs", tc.bug, budget)
			}
			f := res.Failures[0]
			if n := len(f.Minimal.Faults); n > 2 {
				t.Errorf("shrunk to %d faults, want at most 2:\n%s", n, f.YAML)
			}
			t.Logf("minimal:\n%s", f.YAML)
			fmt.Fprintf(&table, "| %s | %s | %d | %d | %s | %d (%d) | %d | %d/%d | %v |\n", name, tc.scenario, tc.seed, f.FoundAt, f.Check, f.ShrinkSteps, f.ShrinkRuns, len(f.Minimal.Faults), f.Reproduced, f.Reruns, time.Since(start).Round(time.Second))
		})
	}
	t.Logf("\n%s", table.String())
}

// TestFindsPlantedBugs: the planted bugs TestFindsPlantedBug does not
// cover, each found from a scenario without faults within 10 runs and
// shrunk to at most two faults that still fail.
func TestFindsPlantedBugs(t *testing.T) {
	testenv.Long(t)
	for _, bug := range []string{"subscribe_replays_previous", "client_reset_as_eof", "pow_nil_on_cancel"} {
		t.Run(bug, func(t *testing.T) {
			opts := Options{Runs: 10, Seed: 1, Reruns: 2, ShrinkRuns: 30}
			withBug(t, &opts, bug)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			res, err := Explore(ctx, load(t, "subscribe"), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failures) == 0 {
				t.Fatalf("%s not found in 10 runs: %s", bug, res.Summary())
			}
			f := res.Failures[0]
			if n := len(f.Minimal.Faults); n > 2 || f.Reproduced == 0 {
				t.Errorf("shrunk to %d faults, reproduced %d of %d:\n%s", n, f.Reproduced, f.Reruns, f.YAML)
			}
		})
	}
}
