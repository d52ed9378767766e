package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki is a CA and the certificates it signed, written as PEM files.
type pki struct {
	dir                    string
	ca, otherCA            string
	server, serverKey      string
	client, clientKey      string
	caCert                 *x509.Certificate
	caKey, otherKey        *ecdsa.PrivateKey
	otherCert              *x509.Certificate
	serialNumber           int64
	notBefore, notAfter    time.Time
	serverDNS              []string
	serverIPs              []net.IP
	clientName, serverName string
}

// newPKI makes a CA, a server certificate for 127.0.0.1 and localhost, a
// client certificate, all ECDSA P-256, and a second CA that signed
// nothing of them.
func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(time.Hour)}
	p.caCert, p.caKey, p.ca = p.selfSigned(t, "ca")
	p.otherCert, p.otherKey, p.otherCA = p.selfSigned(t, "other-ca")
	p.server, p.serverKey = p.leaf(t, "server", x509.ExtKeyUsageServerAuth, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	p.client, p.clientKey = p.leaf(t, "client", x509.ExtKeyUsageClientAuth, nil, nil)
	return p
}

func (p *pki) key(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *pki) write(t *testing.T, name, kind string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *pki) selfSigned(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	k := p.key(t)
	p.serialNumber++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serialNumber), Subject: pkix.Name{CommonName: "streambench test " + name},
		NotBefore: p.notBefore, NotAfter: p.notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, k, p.write(t, name+".pem", "CERTIFICATE", der)
}

func (p *pki) leaf(t *testing.T, name string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (cert, key string) {
	k := p.key(t)
	p.serialNumber++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serialNumber), Subject: pkix.Name{CommonName: name},
		NotBefore: p.notBefore, NotAfter: p.notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
}

// TestTLSTarget runs against `streambench serve` over TLS: server-auth TLS
// and mutual TLS pass; a wrong CA, a name the certificate does not hold,
// plaintext against TLS, and a missing client certificate each fail the
// run as a target failure (exit 3) that says why; a target override with
// neither --insecure nor TLS is bad input (exit 2).
func TestTLSTarget(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := buildBinary(t)
	p := newPKI(t)
	tlsAddr := startServe(t, bin, "--rate", "50/s", "--tls-cert", p.server, "--tls-key", p.serverKey)
	mtlsAddr := startServe(t, bin, "--rate", "50/s", "--tls-cert", p.server, "--tls-key", p.serverKey, "--tls-client-ca", p.ca)
	run := func(t *testing.T, args ...string) (int, string) {
		code, out, errs := cli(t, append(append([]string{"run", "--no-progress", "--duration", "1s", "--out", t.TempDir()}, args...), "testdata/tls.yaml")...)
		return code, out + errs
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"server-auth TLS", []string{"--target", tlsAddr, "--cacert", p.ca}, ExitPass, "PASS"},
		{"server-auth TLS by name", []string{"--target", strings.Replace(tlsAddr, "127.0.0.1", "localhost", 1), "--cacert", p.ca}, ExitPass, "PASS"},
		{"mutual TLS", []string{"--target", mtlsAddr, "--cacert", p.ca, "--cert", p.client, "--key", p.clientKey}, ExitPass, "PASS"},
		{"wrong CA", []string{"--target", tlsAddr, "--cacert", p.otherCA}, ExitHarness, "TLS handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"unchecked certificate", []string{"--target", tlsAddr, "--skip-verify"}, ExitPass, "WARNING: TLS without checking the target's certificate"},
		{"unchecked and wrong CA", []string{"--target", tlsAddr, "--skip-verify", "--cacert", p.otherCA}, ExitPass, "WARNING TLS without checking the target's certificate (skip_verify)"},
		{"wrong name", []string{"--target", tlsAddr, "--cacert", p.ca, "--cname", "elsewhere.example"}, ExitHarness, "certificate is valid for localhost, not elsewhere.example"},
		{"plaintext against TLS", []string{"--target", tlsAddr, "--insecure"}, ExitHarness, "TLS expected: target.tls instead of insecure?"},
		{"no client certificate", []string{"--target", mtlsAddr, "--cacert", p.ca}, ExitHarness, "the server ended the TLS connection: remote error: tls: certificate required"},
		{"neither insecure nor TLS", []string{"--target", tlsAddr}, ExitBadInput, "--target: say how to dial " + tlsAddr + ": plaintext (run --insecure"},
		{"both", []string{"--target", tlsAddr, "--insecure", "--cacert", p.ca}, ExitBadInput, "not both"},
		{"unreadable CA", []string{"--target", tlsAddr, "--cacert", filepath.Join(p.dir, "missing.pem")}, ExitBadInput, "target.tls.ca: (set by --cacert/--cert/--key) cannot read the CA file"},
	} {
		// One at a time: the runs share the two servers, and the same
		// scenario's subscribers carry the same ids, so a run beside
		// another would replace its streams (Aborted).
		t.Run(tc.name, func(t *testing.T) {
			code, out := run(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}

// TestTLSCommandTarget: a command target serving mutual TLS, its files
// named relative to the scenario file: readiness (grpc.health.v1), the
// run and the channelz leak probe all go over TLS.
func TestTLSCommandTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a process")
	}
	bin := buildBinary(t)
	p := newPKI(t)
	src := `name: tlscmd
seed: 3
duration: 1s
target:
  command: [` + bin + `, serve, --addr, "127.0.0.1:{port}", --tls-cert, ` + p.server + `, --tls-key, ` + p.serverKey + `, --tls-client-ca, ` + p.ca + `]
  tls: {ca: ca.pem, cert: client.pem, key: client-key.pem}
  metadata: {x-tenant: acme}
groups:
  - {name: pow, rpc: Math/Pow, clients: 4, messages: 5, interval: 5ms}
  - {name: subscribe, rpc: Longlived/Subscribe, clients: 4}
assert:
  - eof: clean
  - correct
  - errors == 0
  - leaks: none
`
	path := filepath.Join(p.dir, "tlscmd.yaml") // next to the PEM files
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "run", "--no-progress", "--out", t.TempDir(), path)
	if code != ExitPass {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	// Without the client certificate the process never answers its
	// health check over TLS: a target failure, not a hang.
	bad := strings.Replace(src, ", cert: client.pem, key: client-key.pem", "", 1)
	bad = strings.Replace(bad, "target:\n", "target:\n  ready: {timeout: 3s}\n", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli(t, "run", "--no-progress", "--out", t.TempDir(), path)
	if code != ExitHarness || !strings.Contains(errs+out, "not ready (grpc.health.v1 SERVING at 127.0.0.1:") {
		t.Fatalf("exit %d, want %d with a readiness error\n%s\n%s", code, ExitHarness, out, errs)
	}
}
