package reports

import (
	"testing"
)

func TestReplayCommand(t *testing.T) {
	tests := []struct {
		name string
		echo ScenarioEcho
		seed int64
		want string
	}{
		{"as written", ScenarioEcho{File: "scenarios/smoke.yaml", DurationSeconds: 10}, 1,
			"streambench run --seed 1 --duration 10s scenarios/smoke.yaml"},
		{"every override", ScenarioEcho{File: "scenarios/fanout.yaml", DurationSeconds: 3.5, ClientScale: 0.25, Target: "127.0.0.1:7070", Faulty: "pow_early_eof"}, -42,
			"streambench run --seed -42 --duration 3.5s --client-scale 0.25 --target 127.0.0.1:7070 --insecure --faulty pow_early_eof scenarios/fanout.yaml"},
		{"a TLS target", ScenarioEcho{File: "s.yaml", DurationSeconds: 2, Target: "localhost:7443", TargetTLS: &TargetTLS{CA: "ca.pem", Cert: "c.pem", Key: "k.pem", ServerName: "svc"}}, 5,
			"streambench run --seed 5 --duration 2s --target localhost:7443 --cacert ca.pem --cert c.pem --key k.pem --cname svc s.yaml"},
		{"a path with a space", ScenarioEcho{File: "my scenarios/it's.yaml", DurationSeconds: 60}, 7,
			`streambench run --seed 7 --duration 1m0s 'my scenarios/it'\''s.yaml'`},
		{"compressed in time", ScenarioEcho{File: "s.yaml", DurationSeconds: 6, Compress: 0.1}, 1,
			"streambench run --seed 1 --duration 6s s.yaml  # the run was compressed ×0.1 in time (harness.WithCompress), which the command line cannot do"},
		{"built in code", ScenarioEcho{DurationSeconds: 2}, 3, "streambench run --seed 3 --duration 2s SCENARIO.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Scenario: tt.echo, Seed: tt.seed}
			if got := r.ReplayCommand(); got != tt.want {
				t.Errorf("ReplayCommand() = %q\nwant               %q", got, tt.want)
			}
		})
	}
}
