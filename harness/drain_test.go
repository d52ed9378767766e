package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

// TestDrainIsApartFromTheLoad: slow subscribers still hold a backlog at
// the stop and drain it during the graceful stop; the report keeps those
// messages apart (drain_received), and the load's rate leaves them and the
// drain's seconds out.
func TestDrainIsApartFromTheLoad(t *testing.T) {
	src := `name: drain
seed: 3
duration: 1s
graceful_stop: 5s
target:
  builtin:
    feed: {rate: 2000/s, payload: 64B}
groups:
  - {name: slow, rpc: Longlived/Subscribe, clients: 2, read: {delay: 2ms}}
`
	sc, err := scenario.Decode("drain.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := streambench.Run(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	g := rep.Group("slow")
	m := g.Messages
	if m.DrainReceived == 0 || m.DrainReceived >= m.Received || rep.DrainSeconds <= 0 {
		t.Fatalf("drain received %d of %d in %.3fs: the backlog was not told apart", m.DrainReceived, m.Received, rep.DrainSeconds)
	}
	if load := rep.LoadSeconds(); load < 0.9 || load > 1.5 {
		t.Errorf("load %.3fs for a 1s duration (elapsed %.3fs, drain %.3fs)", load, rep.Elapsed, rep.DrainSeconds)
	}
	rate, ok := rep.LoadRate(g)
	want := float64(m.Received-m.DrainReceived) / rep.LoadSeconds()
	if !ok || rate != want {
		t.Errorf("load rate %v, want %v", rate, want)
	}
	t.Logf("received %d (%d in the %.2fs drain); %.0f/s over the load, %.0f/s over the elapsed time", m.Received, m.DrainReceived, rep.DrainSeconds, rate, float64(m.Received)/rep.Elapsed)
}

// TestJudgingNeedsNoDescriptors: a report is judged again (report,
// merge) where the run's .proto files may not be: judging checks no
// template against them, while loading the same scenario to run it does.
func TestJudgingNeedsNoDescriptors(t *testing.T) {
	src := `name: judged
duration: 1s
groups:
  - name: g
    clients: 1
    call:
      method: streambench.v1.Math/Pow
      proto: [gone.proto]
      data: {base: 2}
assert:
  - eof: clean
`
	rep := &reports.Report{Schema: reports.Schema, Seed: 1, Elapsed: 1,
		Scenario: reports.ScenarioEcho{Name: "judged", File: "/nowhere/judged.yaml", Source: src, DurationSeconds: 1},
		Groups:   []reports.Group{{Name: "g", RPC: "generic", Streams: reports.StreamCounts{Opened: 1, Ended: 1}, Ends: map[string]uint64{"complete": 1}}}}
	if err := streambench.Judge(rep); err != nil {
		t.Errorf("judging: %v", err)
	}
	sc, err := scenario.Decode("/nowhere/judged.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streambench.NewPlan(sc); err == nil {
		t.Error("a plan to run it found its missing .proto fine")
	}
}
