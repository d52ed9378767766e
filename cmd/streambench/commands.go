package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench/harness"
	"github.com/streambench/streambench/harness/assert"
	"github.com/streambench/streambench/harness/fault"
	"github.com/streambench/streambench/harness/link"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/selfcheck"
	"github.com/streambench/streambench/targets/builtin"
	"github.com/streambench/streambench/targets/faulty"
)

func versionString() string { return harness.Version() }

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
				if err := harness.Validate(path); err != nil {
					bad = append(bad, err)
					continue
				}
				fmt.Fprintf(stdout, "%s: ok\n", path)
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
}

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the reference servers over TCP (with reflection, health and channelz) until SIGINT/SIGTERM",
		Example: `  streambench serve --addr 127.0.0.1:7070
  streambench serve --addr 127.0.0.1:0 --rate 1000/s --payload 1KiB`,
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
	cfg := builtin.ConfigOf(b)
	cfg.Introspection = true
	if f.faulty != "" {
		bug, err := selfcheck.Lookup(f.faulty)
		if err != nil {
			return exitf(ExitBadInput, "--faulty: %v", err)
		}
		selfcheck.Plant(bug, &cfg)
	}
	lis, err := net.Listen("tcp", f.addr)
	if err != nil {
		return exitf(ExitHarness, "listen: %v", err)
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

func newListCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List RPCs, links, assertions and planted bugs",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "RPCS (group rpc:)")
			for _, e := range harness.RPCs().Entries() {
				fmt.Fprintf(w, "  %s\t%s\t%s\n", e.Name, rpcCaps(e), e.Doc)
			}
			fmt.Fprintln(w, "\nLINKS (link:)")
			for _, l := range scenario.LinkKinds {
				fmt.Fprintf(w, "  %s\n", l)
			}
			fmt.Fprintln(w, "\nCHECKS (assert: - NAME: ARG, or - NAME: {settings})")
			for _, c := range assert.Checks() {
				fmt.Fprintf(w, "  %s\t%s\t%s\n", c.Name, c.Arg, c.Doc)
				fmt.Fprintf(w, "  \t\tsettings: %s\n", strings.Join(c.SettingNames(), ", "))
			}
			fmt.Fprintln(w, "\nMETRICS (assert: - [group.]METRIC OP VALUE, or - [group.]METRIC OP VALUE: {min_messages: N, min_streams: N})")
			for _, m := range assert.Metrics() {
				fmt.Fprintf(w, "  %s\t%s\t%s\n", m.Name, m.Unit, m.Doc)
			}
			fmt.Fprintln(w, "\nFAULT KINDS (faults: - {at: 10s, kind: NAME, ...settings})")
			for _, k := range fault.Kinds {
				fmt.Fprintf(w, "  %s\t%s\t%s\n", k.Name, k.Layer, k.Doc)
				if ss := k.Settings(); len(ss) > 0 {
					fmt.Fprintf(w, "  \t\tsettings: %s\n", strings.Join(ss, ", "))
				}
			}
			fmt.Fprintln(w, "\nNETWORK FAULTS BY LINK")
			for _, l := range scenario.LinkKinds {
				fmt.Fprintf(w, "  %s\t%s\n", l, strings.Join(link.KindsOf(l), ", "))
			}
			fmt.Fprintln(w, "\nPLANTED BUGS (--faulty NAME, self-checks only)")
			for _, b := range faulty.All() {
				fmt.Fprintf(w, "  %s\t%s\n", b.Name, b.Description)
			}
			return w.Flush()
		},
	}
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
