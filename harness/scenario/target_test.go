package scenario

import (
	"strings"
	"testing"
)

func TestTargetTransportValidation(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   []wantErr // nil: valid
	}{
		{"address with insecure", "  address: 127.0.0.1:50051\n  insecure: true\n", nil},
		{"address with tls", "  address: 127.0.0.1:50051\n  tls: {ca: ca.pem, server_name: localhost}\n", nil},
		{"address with mtls", "  address: 127.0.0.1:50051\n  tls: {ca: ca.pem, cert: c.pem, key: k.pem}\n", nil},
		{"address with neither", "  address: 127.0.0.1:50051\n",
			[]wantErr{{"f.yaml:2:12", "target.address", []string{"target.tls: {ca: FILE} for TLS, or target.insecure: true for plaintext"}}}},
		{"both", "  address: 127.0.0.1:50051\n  insecure: true\n  tls: {ca: ca.pem}\n",
			[]wantErr{{"f.yaml:3:13", "target.insecure", []string{"set tls or insecure: true, not both"}}}},
		{"cert without key", "  address: 127.0.0.1:50051\n  tls: {cert: c.pem}\n",
			[]wantErr{{"f.yaml:3:8", "target.tls", []string{"give both cert and key"}}}},
		{"command plaintext by default", "  command: [srv, \"{port}\"]\n", nil},
		{"command with tls", "  command: [srv, \"{port}\"]\n  tls: {ca: ca.pem}\n", nil},
		{"builtin with tls", "  builtin: {}\n  tls: {ca: ca.pem}\n",
			[]wantErr{{"f.yaml:3:8", "target.tls", []string{"applies to an address or command target only"}}}},
		{"builtin with insecure and pprof", "  builtin: {}\n  insecure: true\n  pprof: http://127.0.0.1:6060\n",
			[]wantErr{{"f.yaml:3:13", "target.insecure", []string{"address or command target only"}},
				{"f.yaml:4:10", "target.pprof", []string{"address or command target only"}}}},
		{"metadata on any target", "  builtin: {}\n  metadata: {x-tenant: acme, x-n: 7}\n", nil},
		{"bad metadata keys and value", "  address: 127.0.0.1:1\n  insecure: true\n  metadata:\n    X-Up: a\n    grpc-timeout: 1S\n    x-bin: b\n    x-ok: \"caf\u00e9\"\n",
			[]wantErr{
				{"f.yaml:5:5", "target.metadata.X-Up", []string{`"X-Up" is not a gRPC metadata key: use lowercase`}},
				{"f.yaml:6:5", "target.metadata.grpc-timeout", []string{`reserved for gRPC itself`}},
				{"f.yaml:7:5", "target.metadata.x-bin", []string{`binary metadata`}},
				{"f.yaml:8:5", "target.metadata.x-ok", []string{"printable ASCII; it holds U+00E9"}},
			}},
		{"pprof not loopback", "  address: 127.0.0.1:1\n  insecure: true\n  pprof: http://10.0.0.1:6060\n",
			[]wantErr{{"f.yaml:4:10", "target.pprof", []string{"not a loopback address"}}}},
		{"pprof not a URL", "  address: 127.0.0.1:1\n  insecure: true\n  pprof: 127.0.0.1:6060\n",
			[]wantErr{{"f.yaml:4:10", "target.pprof", []string{"is not a base URL such as http://127.0.0.1:6060"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "target:\n" + tt.target + strings.TrimPrefix(minimal, "")
			src = strings.Replace(src, "name: v\n", "", 1) + "name: v\n"
			_, err := Parse("f.yaml", []byte(src))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("valid target refused: %v\n%s", err, src)
				}
				return
			}
			checkErrs(t, err, tt.want...)
		})
	}
}

func TestMetadataDecodeErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      wantErr
	}{
		{"not a mapping", "target:\n  metadata: [a]\n", wantErr{"f.yaml:2:13", "target.metadata", []string{"expected a mapping of key: value, got a list"}}},
		{"value is a mapping", "target:\n  metadata: {a: {b: c}}\n", wantErr{"f.yaml:2:17", "target.metadata.a", []string{"expected a string, got a mapping"}}},
		{"null value", "target:\n  metadata:\n    a:\n", wantErr{"f.yaml:3:5", "target.metadata.a", []string{"got null"}}},
		{"duplicate key", "target:\n  metadata: {a: x, a: y}\n", wantErr{"f.yaml:2:20", "target.metadata.a", []string{`duplicate key "a"`}}},
		{"alias value", "name: &n v\ntarget:\n  metadata: {a: *n}\n", wantErr{"f.yaml:1:7", "name", []string{"anchors (&n) are not supported"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode("f.yaml", []byte(tt.src))
			checkErrs(t, err, tt.want)
		})
	}
}

func TestTargetTransportRoundTrip(t *testing.T) {
	src := `name: rt
duration: 2s
target:
  address: 127.0.0.1:50051
  tls: {ca: ca.pem, server_name: localhost, cert: c.pem, key: k.pem}
  metadata: {x-tenant: acme, x-n: "7", authorization: Bearer t0k}
  pprof: http://127.0.0.1:6060
link: tcp
groups:
  - {rpc: Math/Pow, clients: 1}
`
	s, err := Parse("rt.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.Metadata["x-n"] != "7" || s.Target.TLS.Key != "k.pem" || s.PosOf("target.metadata.x-n") != (Pos{Line: 6, Column: 30}) {
		t.Fatalf("decoded %+v %+v at %v", s.Target, s.Target.TLS, s.PosOf("target.metadata.x-n"))
	}
	out, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("again.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !sameScenario(s, again) {
		t.Errorf("round trip differs:\n%s", out)
	}
	c := s.Clone()
	c.Target.Metadata["x-n"], c.Target.TLS.CA = "8", "other.pem"
	if s.Target.Metadata["x-n"] != "7" || s.Target.TLS.CA != "ca.pem" {
		t.Error("Clone shares the target's metadata or tls with the original")
	}
}
