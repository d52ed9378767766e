// Command xds-server runs an xDS control plane — go-control-plane's ADS
// server (server.NewServer over cache.NewSnapshotCache with ADS on) — on
// loopback, with gRPC server reflection, as a command target of
// streambench (scenarios/xds-ads.yaml). Every --interval it bumps the
// snapshot's version ("1", "2", …) and pushes it to every node: one
// Cluster whose connect timeout changes with the version. It lives in a
// module of its own so that go-control-plane's dependencies never enter
// streambench's go.mod; build-server.sh builds it.
//
//	xds-server --listen 127.0.0.1:{port} --state FILE   # the version resumes across restarts
//	xds-server --listen 127.0.0.1:{port}                # every start begins again at version 1
//
// Without --state every start serves version 1 again: after a restart
// the versions a client sees go back, the bug a control plane's gate
// must catch. With it the last version is written to FILE before it is
// served and a restart resumes after it, so a version is never served
// twice with different contents. Every node id shares the one snapshot.
// It stops cleanly on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/types/known/durationpb"
)

// snapshotKey is the one snapshot every node reads (oneNode maps every
// node id to it).
const snapshotKey = "streambench"

// oneNode is the cache's node hash: every node id, one snapshot.
type oneNode struct{}

func (oneNode) ID(*corev3.Node) string { return snapshotKey }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "xds-server:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:18000", "the ADS address (gRPC): a loopback host:port")
	interval := flag.Duration("interval", 500*time.Millisecond, "how often the snapshot's version is bumped and pushed")
	state := flag.String("state", "", "a file keeping the last version served, resumed after a restart; empty: every start begins again at version 1 (a restart sends versions back)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q: a loopback address only", *listen)
	}
	if *interval <= 0 {
		return fmt.Errorf("--interval %s: must be above 0", *interval)
	}
	version, err := readState(*state)
	if err != nil {
		return err
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	snapshots := cache.NewSnapshotCache(true, oneNode{}, quietLogger{})
	publish := func() error {
		version++
		if err := writeState(*state, version); err != nil { // before it is served
			return err
		}
		snap, err := snapshot(version)
		if err != nil {
			return err
		}
		return snapshots.SetSnapshot(ctx, snapshotKey, snap)
	}
	if err := publish(); err != nil {
		return err
	}

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(s, server.NewServer(ctx, snapshots, nil))
	reflection.Register(s)
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(l) }()
	fmt.Printf("xds-server: serving ADS on %s, version %d, bumped every %s (state: %s)\n", l.Addr(), version, *interval, orNone(*state))

	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			stop(s)
			return nil
		case err := <-serveErr:
			return fmt.Errorf("serving: %w", err)
		case <-tick.C:
			if err := publish(); err != nil {
				stop(s)
				return err
			}
		}
	}
}

// snapshot is version v of the configuration: one Cluster whose connect
// timeout (1 to 1000 ms) changes with the version, so every push carries
// a change.
func snapshot(v int64) (*cache.Snapshot, error) {
	c := &clusterv3.Cluster{
		Name:                 "streambench",
		ConnectTimeout:       durationpb.New(time.Duration(v%1000+1) * time.Millisecond),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
	}
	return cache.NewSnapshot(strconv.FormatInt(v, 10), map[resource.Type][]types.Resource{resource.ClusterType: {c}})
}

// stop ends the server: ADS streams never end by themselves, so a
// graceful stop gets 2 s before the remaining streams are cut.
func stop(s *grpc.Server) {
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		s.Stop()
	}
}

// readState is the last version served, from file; 0 without a file or
// before the first start.
func readState(file string) (int64, error) {
	if file == "" {
		return 0, nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("--state %s: %q is not a version", file, strings.TrimSpace(string(b)))
	}
	return v, nil
}

// writeState records v in file (nothing without one), replacing it
// whole: a crash leaves the old version or the new one.
func writeState(file string, v int64) error {
	if file == "" {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".xds-state-*")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(tmp, v)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// quietLogger keeps go-control-plane's debug and info lines (one per
// request) off the output; warnings and errors go to stderr.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "xds-server: warning: "+format+"\n", args...)
}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "xds-server: "+format+"\n", args...)
}
