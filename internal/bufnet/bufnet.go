// Package bufnet runs a gRPC server on an in-memory bufconn listener for
// tests: one call gives a connected ClientConn, and the test's cleanup
// closes the client, stops the server and waits for it.
package bufnet

import (
	"context"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// Serve starts a gRPC server with opts on a bufconn listener, lets register
// add its services, and returns a ClientConn to it (with dial added to the
// dial options).
func Serve(t testing.TB, register func(*grpc.Server), opts []grpc.ServerOption, dial ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(opts...)
	register(s)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = s.Serve(lis)
	}()
	all := append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, dial...)
	cc, err := grpc.NewClient("passthrough:///bufnet", all...)
	if err != nil {
		s.Stop()
		wg.Wait()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		s.Stop()
		wg.Wait()
	})
	return cc
}
