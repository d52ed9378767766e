package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/streambench/streambench/harness/scenario"
)

// transport is how the plan's clients (and the harness's own readiness
// and channelz calls) reach the target: the transport credentials — TLS
// built once from target.tls, plaintext otherwise — and the static
// metadata of every call. The links only route bytes; the credentials are
// decided here, once.
type transport struct {
	creds credentials.TransportCredentials
	tls   *tls.Config // nil: plaintext
	md    metadata.MD
	// perStream is the metadata whose values name {{client}}, {{group}}
	// or {{stream}}: the clients render it for every stream they open.
	perStream map[string]string
}

// transportOf builds the effective scenario's transport. Relative TLS file
// paths are relative to base (the scenario file's directory; "" for paths
// given on the command line or in code, which are relative to the working
// directory). A file that cannot be read or parsed is a scenario error at
// its field.
func transportOf(sc *scenario.Scenario, host, base string) (transport, scenario.Errors) {
	t := transport{creds: insecure.NewCredentials()}
	static := map[string]string{}
	for k, v := range sc.Target.Metadata {
		if strings.Contains(v, "{{") {
			if t.perStream == nil {
				t.perStream = map[string]string{}
			}
			t.perStream[k] = v
		} else {
			static[k] = v
		}
	}
	if len(static) > 0 {
		t.md = metadata.New(static)
	}
	c := sc.Target.TLS
	if c == nil {
		return t, nil
	}
	var errs scenario.Errors
	bad := func(field, format string, args ...any) {
		path := "target.tls" + field
		msg := fmt.Sprintf(format, args...)
		if base == "" && sc.OverrideNote("target") != "" {
			msg = "(set by the TLS override) " + msg
		}
		errs = append(errs, &scenario.Error{File: sc.File, Pos: sc.PosOf(path), Field: path, Msg: msg})
	}
	file := func(p string) string {
		if base != "" && !filepath.IsAbs(p) {
			return filepath.Join(base, p)
		}
		return p
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.SkipVerify} //nolint:gosec // asked for, and warned of in the report
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if c.CA != "" {
		pem, err := os.ReadFile(file(c.CA))
		if err != nil {
			bad(".ca", "cannot read the CA file: %v", err)
		} else {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				bad(".ca", "%s holds no PEM certificate", file(c.CA))
			}
			cfg.RootCAs = pool
		}
	}
	if c.Cert != "" && c.Key != "" {
		pair, err := tls.LoadX509KeyPair(file(c.Cert), file(c.Key))
		if err != nil {
			bad(".cert", "cannot load the client certificate and key: %v", err)
		} else {
			cfg.Certificates = []tls.Certificate{pair}
		}
	}
	if len(errs) > 0 {
		return t, errs
	}
	t.creds, t.tls = credentials.NewTLS(cfg), cfg
	return t, nil
}

// hostOf is the host part of a host:port ("" when addr has none).
func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return h
}

// dialOptions are the options every connection to the target carries:
// its credentials, the authority to present (the target's address, not
// the link's internal name; over TLS, the certificate's name) and the
// metadata interceptors.
func (t transport) dialOptions(authority string) []grpc.DialOption {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(t.creds)}
	if authority != "" && t.tls == nil {
		// Over TLS the authority is the name the certificate is checked
		// against (grpc-go refuses a different one).
		opts = append(opts, grpc.WithAuthority(authority))
	}
	if t.md.Len() > 0 {
		md := t.md
		opts = append(opts,
			grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
				return invoker(withMetadata(ctx, md), method, req, reply, cc, o...)
			}),
			grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, o ...grpc.CallOption) (grpc.ClientStream, error) {
				return streamer(withMetadata(ctx, md), desc, cc, method, o...)
			}),
		)
	}
	return opts
}

// withMetadata adds md to ctx's outgoing metadata, keeping what a driver
// set itself.
func withMetadata(ctx context.Context, md metadata.MD) context.Context {
	if out, ok := metadata.FromOutgoingContext(ctx); ok {
		return metadata.NewOutgoingContext(ctx, metadata.Join(md, out))
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// why says why a TLS target at addr gives no gRPC connection, from one
// bounded handshake of streambench's own (gRPC keeps its connection errors
// to itself): the handshake's error (an unknown authority, a name the
// certificate does not hold), or the server's alert right after it (a
// client certificate it requires). "" when neither shows a problem.
func (t transport) why(addr string) string {
	if t.tls == nil {
		return ""
	}
	d := &net.Dialer{Timeout: time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, t.tls.Clone())
	if err != nil {
		return "TLS handshake failed: " + err.Error()
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return "the server ended the TLS connection: " + err.Error()
	}
	return ""
}

// streamMetadata renders the per-stream metadata for a client's stream
// as key, value pairs (nil when there is none).
func (t transport) streamMetadata(client int32, group string, stream int) []string {
	if len(t.perStream) == 0 {
		return nil
	}
	r := strings.NewReplacer("{{client}}", strconv.Itoa(int(client)), "{{group}}", group, "{{stream}}", strconv.Itoa(stream),
		"{{ client }}", strconv.Itoa(int(client)), "{{ group }}", group, "{{ stream }}", strconv.Itoa(stream))
	kv := make([]string, 0, 2*len(t.perStream))
	for k, v := range t.perStream {
		kv = append(kv, k, r.Replace(v))
	}
	return kv
}
