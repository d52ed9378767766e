// Command etcd-server runs a single-member etcd (go.etcd.io/etcd/server/v3's
// embed) on loopback, with gRPC server reflection, as a command target of
// streambench (scenarios/etcd-watch.yaml). It lives in a module of its own
// so that etcd's dependencies never enter streambench's go.mod;
// build-server.sh builds it.
//
//	etcd-server --listen 127.0.0.1:{port} --data-dir DIR   # state kept across restarts
//	etcd-server --listen 127.0.0.1:{port}                  # a fresh, empty store every start
//
// Without --data-dir every start gets a new temporary data directory,
// removed when the process ends: a restart loses every key and revision,
// the "restart without persistence" bug a watch oracle must catch. It
// stops cleanly on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "etcd-server:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:2379", "the client address (gRPC): a loopback host:port")
	dataDir := flag.String("data-dir", "", "the data directory, kept across restarts; empty: a new temporary one every start, removed at exit (a restart loses everything)")
	protoset := flag.String("write-protoset", "", "write etcd's KV and Watch descriptors as a protoset to this file and exit")
	startWait := flag.Duration("start-timeout", 30*time.Second, "how long the server may take to be ready")
	flag.Parse()
	if *protoset != "" {
		return writeProtoset(*protoset)
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q: a loopback address only", *listen)
	}
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "etcd-server-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	peer, err := peerAddr(dir, host)
	if err != nil {
		return err
	}
	files, err := fixedFiles()
	if err != nil {
		return err
	}

	cfg := embed.NewConfig()
	cfg.Name = "streambench"
	cfg.Dir = filepath.Join(dir, "member-data")
	cfg.LogLevel = "error"
	client := url.URL{Scheme: "http", Host: *listen}
	peerURL := url.URL{Scheme: "http", Host: peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.Name + "=" + peerURL.String()
	cfg.ServiceRegister = func(s *grpc.Server) { registerReflection(s, files) }

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	stop := func() {
		done := make(chan struct{})
		go func() { e.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			fmt.Fprintln(os.Stderr, "etcd-server: close took over 10s; exiting")
		}
	}
	defer stop()
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(*startWait):
		e.Server.Stop()
		return fmt.Errorf("not ready within %s", *startWait)
	}
	fmt.Printf("etcd-server: serving on %s, data in %s\n", *listen, dir)

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	select {
	case <-ctx.Done():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("serving: %w", err)
	}
}

// peerAddr is the peer (raft) address: a free loopback port picked on the
// first start and kept in the data directory, so that a restart on the
// same data finds the member where it was.
func peerAddr(dir, host string) (string, error) {
	file := filepath.Join(dir, "peer-port")
	if b, err := os.ReadFile(file); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return net.JoinHostPort(host, strconv.Itoa(p)), nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if err := os.WriteFile(file, []byte(strconv.Itoa(port)+"\n"), 0o600); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}
