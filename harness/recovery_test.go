package harness

import (
	"testing"
	"time"

	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
	"google.golang.org/grpc/codes"
)

// TestRecoveryMeansBackToLive drives one group's recorder with a
// synthetic stream, as the reconnect scenario's subscribers see a
// restart: 20ms updates, a break, then a replay of stale updates that
// starts 300ms after the break and only reaches live updates 8s later.
// The first message came back quickly, the client was seconds behind for
// 8s: recovery.first passes its bound, recovery (back to live) fails.
func TestRecoveryMeansBackToLive(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	tests := []struct {
		name      string
		staleFor  time.Duration // how long the replay stays seconds behind
		wantLive  bool          // subscribers.recovery.p99 < 4s passes
		wantFirst bool          // subscribers.recovery.first.p99 < 4s passes
	}{
		{"stale replay for 8s", 8 * time.Second, false, true},
		{"caught up at once", 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &group{spec: scenario.Group{Name: "subscribers", RPC: "Longlived/Subscribe", Clients: 10}, rec: record.New(2, clock), share: &share{clients: make([]int, 10), total: 10, totalConns: 1, conns: []int{0}}}
			start := now
			var clients []*record.Client
			for id := range 10 {
				clients = append(clients, g.rec.Client(id))
			}
			step := func(d time.Duration, latency time.Duration) {
				now = now.Add(d)
				for _, c := range clients {
					c.Received(latency)
				}
			}
			for range 250 { // 5s live at 50/s, 20ms behind
				step(20*time.Millisecond, 20*time.Millisecond)
			}
			for _, c := range clients {
				c.Ended(record.End{Class: record.Status, Code: codes.Unavailable}, 5*time.Second, "server stopped")
			}
			now = now.Add(300 * time.Millisecond)
			// The replay: each update as far behind as the backlog is.
			behind := 2 * time.Second
			for elapsed := time.Duration(0); elapsed < tt.staleFor; elapsed += 20 * time.Millisecond {
				step(20*time.Millisecond, behind)
			}
			for range 100 { // live again
				step(20*time.Millisecond, 20*time.Millisecond)
			}
			for _, c := range clients {
				c.Ended(record.End{Class: record.Canceled}, time.Second, "")
			}
			gr, err := groupReport(g, start)
			if err != nil {
				t.Fatal(err)
			}
			rep := oneGroupReport(gr)
			for expr, want := range map[string]bool{
				"subscribers.recovery.p99 < 4s":       tt.wantLive,
				"subscribers.recovery.first.p99 < 4s": tt.wantFirst,
				"recovered":                           true,
			} {
				a, err := assert.CompileOne(scenario.Assertion{Expr: expr}, []string{"subscribers"})
				if err != nil {
					t.Fatal(err)
				}
				if v := a.Check(rep); v.Pass != want {
					t.Errorf("%s: %+v, want pass=%v (recovery p99 %.0fms, first p99 %.0fms, freshness %+v)",
						expr, v, want, gr.Recovery.P99MS, gr.RecoveryFirst.P99MS, gr.Freshness)
				}
			}
		})
	}
}

func oneGroupReport(g reports.Group) *reports.Report {
	return &reports.Report{Elapsed: 20, Scenario: reports.ScenarioEcho{DurationSeconds: 20}, Groups: []reports.Group{g}}
}
