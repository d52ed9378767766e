package main

import (
	"net"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/streambench/streambench/targets/longlived"
	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExitCodes(t *testing.T) {
	feed := longlived.New(longlived.Config{Rate: 100})
	feed.Start()
	defer feed.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterLonglivedServer(gs, feed)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	defer func() {
		gs.Stop()
		<-done
	}()
	addr := lis.Addr().String()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "runs for its duration", args: []string{"--addr", addr, "--duration", "200ms", "--backoff-base", "20ms", "--quiet"}, want: 0},
		{name: "unknown flag", args: []string{"--nope"}, want: 2},
		{name: "unknown bug", args: []string{"--addr", addr, "--faulty", "flaky"}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.args); got != tt.want {
				t.Errorf("run(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}
