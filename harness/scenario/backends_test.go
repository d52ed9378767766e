package scenario

import (
	"strings"
	"testing"
)

func TestBackendsValidation(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   []wantErr // nil: valid
	}{
		{"builtin replicas", "  builtin: {}\n  backends: {replicas: 3}\n", nil},
		{"replicas alone are builtin's", "  backends: {replicas: 2, balancer: client, policy: pick_first}\n", nil},
		{"command replicas", "  command: [srv, \"{port}\", \"{epoch}\"]\n  backends: {replicas: 3}\n", nil},
		{"addresses", "  insecure: true\n  backends: {addresses: [\"127.0.0.1:1\", \"127.0.0.1:2\"], balancer: client}\n", nil},
		{"no replicas", "  builtin: {}\n  backends: {balancer: l4}\n",
			[]wantErr{{"f.yaml:3:13", "target.backends.replicas", []string{"must be set (1 to 32)"}}}},
		{"unknown balancer", "  builtin: {}\n  backends: {replicas: 2, balancer: l7}\n",
			[]wantErr{{"f.yaml:3:37", "target.backends.balancer", []string{`unknown balancer "l7"`, "l4 or client"}}}},
		{"policy with l4", "  builtin: {}\n  backends: {replicas: 2, policy: round_robin}\n",
			[]wantErr{{"f.yaml:3:35", "target.backends.policy", []string{"balancer: client only"}}}},
		{"unknown policy", "  builtin: {}\n  backends: {replicas: 2, balancer: client, policy: random}\n",
			[]wantErr{{"f.yaml:3:53", "target.backends.policy", []string{`"random"`, "round_robin or pick_first"}}}},
		{"replicas and addresses", "  insecure: true\n  backends: {replicas: 2, addresses: [\"127.0.0.1:1\"]}\n",
			[]wantErr{{"f.yaml:3:24", "target.backends.replicas", []string{"not both"}}}},
		{"addresses without transport", "  backends: {addresses: [\"127.0.0.1:1\"]}\n",
			[]wantErr{{"f.yaml:2:25", "target.backends.addresses", []string{"target.insecure: true"}}}},
		{"address twice", "  insecure: true\n  backends: {addresses: [\"127.0.0.1:1\", \"127.0.0.1:1\"]}\n",
			[]wantErr{{"f.yaml:3:41", "target.backends.addresses[1]", []string{"listed twice"}}}},
		{"address and backends", "  address: 127.0.0.1:1\n  insecure: true\n  backends: {replicas: 2}\n",
			[]wantErr{{"f.yaml:2:12", "target.address", []string{"target.backends.addresses"}}}},
		{"max age on addresses", "  insecure: true\n  backends: {addresses: [\"127.0.0.1:1\"], max_connection_age: 5s}\n",
			[]wantErr{{"f.yaml:3:62", "target.backends.max_connection_age", []string{"a running server sets its own"}}}},
		{"epoch without replicas", "  command: [srv, \"{port}\", --epoch, \"{epoch}\"]\n",
			[]wantErr{{"f.yaml:2:12", "target.command", []string{"{epoch} is the shared epoch of command replicas"}}}},
		{"max age on a command", "  command: [srv, \"{port}\"]\n  backends: {replicas: 2, max_connection_age: 5s}\n",
			[]wantErr{{"f.yaml:3:47", "target.backends.max_connection_age", []string{"--max-connection-age"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "target:\n" + tt.target + minimal
			src = strings.Replace(src, "name: v\n", "", 1) + "name: v\n"
			sc, err := Parse("f.yaml", []byte(src))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("valid target refused: %v\n%s", err, src)
				}
				if sc.Target.Kind() != "backends" {
					t.Errorf("kind %q, want backends", sc.Target.Kind())
				}
				return
			}
			checkErrs(t, err, tt.want...)
		})
	}
}
