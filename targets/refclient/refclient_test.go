package refclient

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/targets/longlived"
	pb "github.com/streambench/streambench/targets/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server serves the builtin feed over loopback TCP and keeps the client
// ids the Subscribe calls carried.
type server struct {
	addr string
	gs   *grpc.Server
	mu   sync.Mutex
	ids  []string
}

func newServer(t *testing.T) *server {
	t.Helper()
	feed := longlived.New(longlived.Config{Rate: 200})
	feed.Start()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: lis.Addr().String()}
	s.gs = grpc.NewServer(grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		md, _ := metadata.FromIncomingContext(ss.Context())
		s.mu.Lock()
		s.ids = append(s.ids, strings.Join(md.Get(DefaultHeader), ","))
		s.mu.Unlock()
		return h(srv, ss)
	}))
	pb.RegisterLonglivedServer(s.gs, feed)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.gs.Serve(lis)
	}()
	t.Cleanup(func() {
		s.gs.Stop()
		<-served
		feed.Close()
	})
	return s
}

func TestOptionsRejected(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{name: "no address", o: Options{}, want: "no address"},
		{name: "unknown bug", o: Options{Addr: "127.0.0.1:1", Faulty: "flaky"}, want: `unknown faulty "flaky"`},
		{name: "bad backoff", o: Options{Addr: "127.0.0.1:1", Backoff: driver.Backoff{Base: time.Second, Max: time.Millisecond}}, want: "backoff: max 1ms is below base 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// TestRun: the client follows the feed without loss or duplicates,
// carries its id, and returns when its context ends; a planted bug that
// changes nothing while all is well changes nothing either.
func TestRun(t *testing.T) {
	for _, bug := range []string{"", NoJitter, ResumeFromLast, IgnoreGoAway} {
		t.Run("faulty="+bug, func(t *testing.T) {
			s := newServer(t)
			// A cancel, not a deadline: a deadline travels to the server,
			// which may end the stream first (a failure, to the client).
			ctx, cancel := context.WithCancel(context.Background())
			defer time.AfterFunc(300*time.Millisecond, cancel).Stop()
			st, err := Run(ctx, Options{Addr: s.addr, Replica: 4, Faulty: bug, Backoff: driver.Backoff{Base: 20 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			if st.Received == 0 || st.Lost != 0 || st.Duplicates != 0 || st.Streams != 1 || st.Failures != 0 {
				t.Errorf("stats %+v", st)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.ids) != 1 || s.ids[0] != "refclient-4" {
				t.Errorf("client ids seen %q", s.ids)
			}
		})
	}
}

// TestResumesAfterRestart: the server restarts on the same port; the
// client resumes with nothing lost or duplicated (as it counts them).
func TestResumesAfterRestart(t *testing.T) {
	tests := []struct {
		bug  string
		want func(Stats) bool
	}{
		{bug: "", want: func(s Stats) bool { return s.Lost == 0 && s.Duplicates == 0 }},
		{bug: ResumeFromLast, want: func(s Stats) bool { return s.Duplicates > 0 }},
		{bug: ResumeFromZero, want: func(s Stats) bool { return s.Lost > 0 }},
	}
	for _, tt := range tests {
		t.Run("faulty="+tt.bug, func(t *testing.T) {
			feed := longlived.New(longlived.Config{Rate: 200})
			feed.Start()
			defer feed.Close()
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := lis.Addr().String()
			serve := func(lis net.Listener) (*grpc.Server, chan struct{}) {
				gs := grpc.NewServer()
				pb.RegisterLonglivedServer(gs, feed)
				done := make(chan struct{})
				go func() {
					defer close(done)
					_ = gs.Serve(lis)
				}()
				return gs, done
			}
			gs, done := serve(lis)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				st  Stats
				err error
			}
			res := make(chan result, 1)
			go func() {
				st, err := Run(ctx, Options{Addr: addr, Faulty: tt.bug, Backoff: driver.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}})
				res <- result{st, err}
			}()
			time.Sleep(200 * time.Millisecond)
			gs.Stop()
			<-done
			time.Sleep(150 * time.Millisecond)
			lis, err = net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			gs, done = serve(lis)
			defer func() {
				gs.Stop()
				<-done
			}()
			time.Sleep(400 * time.Millisecond)
			cancel()
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.st.Streams < 2 || !tt.want(r.st) {
				t.Errorf("stats %+v", r.st)
			}
		})
	}
}
