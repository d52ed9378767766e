package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/version"
	"github.com/streambench/streambench/selfcheck"
	"github.com/streambench/streambench/targets/builtin"
)

// newVersionCmd prints what --version prints: the module version (or a
// release build's stamp), the commit and the Go version, from the same
// place the report's environment takes its version.
func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit and the Go version this binary was built from",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(stdout, "streambench %s\n", version.Read())
			return err
		},
	}
}

func newValidateCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:     "validate SCENARIO.yaml...",
		Short:   "Check scenarios without running them: every file, every problem (exit 2 if any is bad)",
		Example: "  streambench validate scenarios/*.yaml",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return exitf(ExitBadInput, "validate: name at least one scenario file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var bad []error
			for _, path := range args {
				unchecked, err := streambench.Check(path)
				if err != nil {
					bad = append(bad, err)
					continue
				}
				fmt.Fprintf(stdout, "%s: ok\n", path)
				for _, u := range unchecked {
					fmt.Fprintf(stdout, "%s: not checked without the server: %s\n", path, u)
				}
			}
			if len(bad) > 0 {
				return badInput(errors.Join(bad...))
			}
			return nil
		},
	}
}

type serveFlags struct {
	addr                 string
	rate, payload        string
	ring, queue          int
	maxStreams           uint32
	kaTime, kaTimeout    time.Duration
	kaMinTime, shutGrace time.Duration
	faulty               string
	remoteClients        bool
	// tlsCert, tlsKey and tlsClientCA serve TLS (mutual with a client CA).
	tlsCert, tlsKey, tlsClientCA string
	// pprof serves net/http/pprof on this loopback address.
	pprof string
	// maxAge and maxAgeGrace set gRPC's MaxConnectionAge(Grace); epoch
	// numbers the feed from a shared moment (unix nanoseconds).
	maxAge, maxAgeGrace time.Duration
	epoch               int64
}

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the reference servers over TCP (with reflection, health and channelz) until SIGINT/SIGTERM",
		Example: `  streambench serve --addr 127.0.0.1:7070
  streambench serve --addr 127.0.0.1:0 --rate 1000/s --payload 1KiB
  streambench serve --addr 127.0.0.1:7443 --tls-cert server.pem --tls-key server-key.pem --tls-client-ca ca.pem
  streambench serve --addr 127.0.0.1:7070 --pprof 127.0.0.1:6060
  streambench serve --addr 127.0.0.1:{port} --epoch {epoch} --max-connection-age 10s   # a replica of target.backends`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:7070", "loopback host:port to listen on (port 0 picks a free one)")
	fl.StringVar(&f.rate, "rate", scenario.DefaultFeedRate.String(), "feed updates per second (e.g. 200/s, 12000/m)")
	fl.StringVar(&f.payload, "payload", scenario.DefaultFeedPayload.String(), "feed update payload size (e.g. 256B, 1KiB)")
	fl.IntVar(&f.ring, "ring", scenario.DefaultFeedRing, "updates kept for resubscribers")
	fl.IntVar(&f.queue, "queue", scenario.DefaultFeedQueue, "per-subscriber send queue length")
	fl.Uint32Var(&f.maxStreams, "max-concurrent-streams", 0, "streams per connection (0 = grpc default)")
	fl.DurationVar(&f.kaTime, "keepalive-time", 0, "server keepalive ping interval (0 = grpc default)")
	fl.DurationVar(&f.kaTimeout, "keepalive-timeout", 0, "server keepalive ack timeout (0 = grpc default)")
	fl.DurationVar(&f.kaMinTime, "keepalive-min-time", 0, "least client ping interval allowed (0 = grpc default)")
	fl.DurationVar(&f.shutGrace, "graceful-stop", scenario.DefaultGracefulStop.D(), "on SIGINT/SIGTERM, how long streams may drain before a hard stop")
	fl.BoolVar(&f.remoteClients, "allow-remote-clients", false, "let --addr be a non-loopback address (0.0.0.0:7070), to serve clients in other pods of your cluster")
	fl.StringVar(&f.faulty, "faulty", "", "self-check: serve a planted bug by name (streambench list names them)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve TLS with this PEM certificate (with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	fl.StringVar(&f.tlsClientCA, "tls-client-ca", "", "mutual TLS: require client certificates signed by this PEM CA (with --tls-cert)")
	fl.StringVar(&f.pprof, "pprof", "", "also serve net/http/pprof (/debug/pprof/) on this loopback host:port, for a leak check's target.pprof")
	fl.DurationVar(&f.maxAge, "max-connection-age", 0, "send GOAWAY to connections older than this (0 = never): clients reconnect, and a balancer in front spreads them again")
	fl.DurationVar(&f.maxAgeGrace, "max-connection-age-grace", 5*time.Second, "how long an aged connection's streams may drain before it closes")
	fl.Int64Var(&f.epoch, "epoch", 0, "number the feed from this moment (unix nanoseconds; 0 = from the start): replicas given the same epoch publish the same seqs, as one log (target.backends passes {epoch})")
	return cmd
}

func serve(ctx context.Context, f serveFlags, stdout, stderr io.Writer) error {
	if err := scenario.CheckAddress(f.addr, f.remoteClients); err != nil {
		return exitf(ExitBadInput, "--addr: %v", err)
	}
	rate, err := scenario.ParseRate(f.rate)
	if err != nil {
		return exitf(ExitBadInput, "--rate: %v", err)
	}
	payload, err := scenario.ParseSize(f.payload)
	if err != nil {
		return exitf(ExitBadInput, "--payload: %v", err)
	}
	if f.ring < 1 || f.queue < 1 {
		return exitf(ExitBadInput, "--ring and --queue: must be at least 1")
	}
	b := &scenario.Builtin{
		Feed: scenario.Feed{Rate: rate, Payload: payload, Ring: f.ring, Queue: f.queue},
		Server: scenario.Server{MaxConcurrentStreams: f.maxStreams, Keepalive: scenario.Keepalive{
			Time: scenario.Duration(f.kaTime), Timeout: scenario.Duration(f.kaTimeout), MinTime: scenario.Duration(f.kaMinTime),
		}},
	}
	if f.maxAge < 0 || f.maxAgeGrace < 0 || f.epoch < 0 {
		return exitf(ExitBadInput, "--max-connection-age, --max-connection-age-grace and --epoch: must not be negative")
	}
	cfg := builtin.ConfigOf(b)
	cfg.Introspection = true
	cfg.MaxConnectionAge, cfg.MaxConnectionAgeGrace = f.maxAge, f.maxAgeGrace
	if f.epoch > 0 {
		cfg.Feed.Since = time.Unix(0, f.epoch)
	}
	if f.faulty != "" {
		bug, err := selfcheck.Lookup(f.faulty)
		if err != nil {
			return exitf(ExitBadInput, "--faulty: %v", err)
		}
		selfcheck.Plant(bug, &cfg)
	}
	creds, err := serveTLS(f)
	if err != nil {
		return err
	}
	if creds != nil {
		cfg.ServerOptions = append(cfg.ServerOptions, grpc.Creds(creds))
	}
	lis, err := net.Listen("tcp", f.addr)
	if err != nil {
		return exitf(ExitHarness, "listen: %v", err)
	}
	if f.pprof != "" {
		stopPprof, err := servePprof(f.pprof)
		if err != nil {
			lis.Close()
			return err
		}
		defer stopPprof()
	}
	t := builtin.New(cfg)
	if err := t.Serve(lis); err != nil {
		t.Close(0)
		return exitf(ExitHarness, "%v", err)
	}
	fmt.Fprintf(stdout, "streambench serve: listening on %s\n", lis.Addr())
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintf(stderr, "streambench serve: stopping (graceful stop up to %v)\n", f.shutGrace)
	t.Close(f.shutGrace)
	return nil
}

// serveTLS builds serve's TLS credentials from its flags (nil: plaintext).
func serveTLS(f serveFlags) (credentials.TransportCredentials, error) {
	if f.tlsCert == "" && f.tlsKey == "" {
		if f.tlsClientCA != "" {
			return nil, exitf(ExitBadInput, "--tls-client-ca needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	if f.tlsCert == "" || f.tlsKey == "" {
		return nil, exitf(ExitBadInput, "--tls-cert and --tls-key go together")
	}
	pair, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, exitf(ExitBadInput, "--tls-cert/--tls-key: %v", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if f.tlsClientCA != "" {
		pem, err := os.ReadFile(f.tlsClientCA)
		if err != nil {
			return nil, exitf(ExitBadInput, "--tls-client-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, exitf(ExitBadInput, "--tls-client-ca: %s holds no PEM certificate", f.tlsClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(cfg), nil
}

// servePprof serves net/http/pprof's handlers at addr (loopback) on a mux
// of its own, until the returned stop is called.
func servePprof(addr string) (stop func(), err error) {
	if err := scenario.CheckAddress(addr, false); err != nil {
		return nil, exitf(ExitBadInput, "--pprof: %v", err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, exitf(ExitHarness, "--pprof: listen: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	return func() {
		_ = srv.Close()
		<-done
	}, nil
}

// rpcCaps lists what an RPC's groups may set beyond the common fields.
func rpcCaps(e rpc.Entry) string {
	var out []string
	c := e.Caps
	for _, x := range []struct {
		on   bool
		name string
	}{{c.Messages, "messages"}, {c.Read, "read"}, {c.Idle, "idle"}, {c.Arrival, "arrival"}, {c.Resume, "resumes"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	out = append(out, e.Settings...)
	return strings.Join(out, ", ")
}
