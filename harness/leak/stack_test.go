package leak

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Samples copied from runtime.Stack output (go1.26, grpc-go v1.85.0).
const (
	sampleReader = `goroutine 38 [IO wait]:
internal/poll.runtime_pollWait(0x7f24e6a1ac00, 0x72)
	/usr/local/go/src/runtime/netpoll.go:351 +0x85
internal/poll.(*pollDesc).wait(0x8?, 0xa92969?, 0x0)
	/usr/local/go/src/internal/poll/fd_poll_runtime.go:84 +0x27
internal/poll.(*pollDesc).waitRead(...)
	/usr/local/go/src/internal/poll/fd_poll_runtime.go:89
internal/poll.(*FD).RawRead(0x3bfb879a3680, 0x3bfb879c8300)
	/usr/local/go/src/internal/poll/fd_unix.go:710 +0x125
net.(*rawConn).Read(0x3bfb87710258, 0x3bfb87779c70?)
	/usr/local/go/src/net/rawconn.go:44 +0x36
google.golang.org/grpc/internal/transport/readyreader.(*nonBlockingReader).ReadOnReady(0x3bfb879bcbe0, 0x3bfb87779cd0?, {0xad8050, 0x3bfb878fdec0})
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/transport/readyreader/ready_reader.go:114 +0xa7
google.golang.org/grpc/internal/transport/readyreader.(*bufReadyReader).Read(0x3bfb87799c00, {0x3bfb877b23c4, 0x9, 0xa3c560?})
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/transport/readyreader/ready_reader.go:221 +0x174
io.ReadAtLeast({0xad59e0, 0x3bfb87799c00}, {0x3bfb877b23c4, 0x9, 0x9}, 0x9)
	/usr/local/go/src/io/io.go:335 +0x8e
io.ReadFull(...)
	/usr/local/go/src/io/io.go:354
golang.org/x/net/http2.readFrameHeader({0x3bfb877b23c4, 0x9, 0x0?}, {0xad59e0?, 0x3bfb87799c00?})
	/root/go/pkg/mod/golang.org/x/net@v0.60.0/http2/frame.go:250 +0x65
golang.org/x/net/http2.(*Framer).ReadFrameHeader(0x3bfb877b2380)
	/root/go/pkg/mod/golang.org/x/net@v0.60.0/http2/frame.go:513 +0x6b
google.golang.org/grpc/internal/transport.(*framer).readFrame(0x3bfb879a3700)
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/transport/http_util.go:504 +0x45
google.golang.org/grpc/internal/transport.(*http2Client).reader(0x3bfb877fd448, 0x3bfb87799c70)
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/transport/http2_client.go:1757 +0x186
created by google.golang.org/grpc/internal/transport.NewHTTP2Client in goroutine 36
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/transport/http2_client.go:434 +0x1e1e`

	sampleHandler = `goroutine 45 [select]:
github.com/streambench/streambench/targets/longlived.(*Server).Subscribe(0x3bfb8784dd90, 0x3bfb87797c80, {0xae0f20, 0x3bfb879c8790})
	/work/main/targets/longlived/server.go:318 +0x869
github.com/streambench/streambench/targets/proto._Longlived_Subscribe_Handler({0xa618a0, 0x3bfb8784dd90}, {0xadfa30, 0x3bfb8770af00})
	/work/main/targets/proto/streambench_grpc.pb.go:134 +0x110
google.golang.org/grpc.(*Server).processRPC(0x3bfb87821b08, {0xada720, 0x3bfb879d4630}, 0x3bfb87986540, 0x3bfb878fcc90, 0xfd7940, 0x0)
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/server.go:1450 +0x122b
google.golang.org/grpc.(*Server).handleStream(0x3bfb87821b08, {0xadaa38, 0x3bfb879ae340}, 0x3bfb87986540)
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/server.go:1595 +0xa70
google.golang.org/grpc.(*Server).serveStreams.func2.1()
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/server.go:1096 +0x7f
created by google.golang.org/grpc.(*Server).serveStreams.func2 in goroutine 42
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/server.go:1107 +0x11d`

	sampleSerializer = `goroutine 16 [chan receive, 2 minutes]:
google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run(0x3bfb87755d60, {0xada758, 0x3bfb879bc320})
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/grpcsync/callback_serializer.go:114 +0xfd
created by google.golang.org/grpc/internal/grpcsync.NewCallbackSerializer in goroutine 21
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/grpcsync/callback_serializer.go:57 +0x11a`

	sampleLoopy = `goroutine 43 [select]:
google.golang.org/grpc/internal/transport.(*controlBuffer).get(0x3bfb877979c0, 0x1)
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/transport/controlbuf.go:496 +0x10a
google.golang.org/grpc/internal/transport.(*loopyWriter).run(0x3bfb877b5cc0)
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/transport/controlbuf.go:672 +0x78
google.golang.org/grpc/internal/transport.NewHTTP2Client.func6()
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/transport/http2_client.go:492 +0xd2
created by google.golang.org/grpc/internal/transport.NewHTTP2Client in goroutine 36
	/root/go/pkg/mod/google.golang.org/grpc@v1.85.0/internal/transport/http2_client.go:490 +0x23db`

	sampleMain = `goroutine 1 [chan receive]:
testing.(*T).Run(0x3bfb87821688, {0xa98824?, 0x0?}, 0xacb8e0)
	/usr/local/go/src/testing/testing.go:2109 +0x4e5
testing.runTests.func1(0x3bfb87821688)
	/usr/local/go/src/testing/testing.go:2585 +0x3e
main.main()
	_testmain.go:46 +0x9b`

	// GOTRACEBACK=system adds gp/m fields and runtime frames; a locked
	// goroutine says so; generic functions print [...].
	sampleSystem = `goroutine 7 gp=0xc000007180 m=nil [GC worker (idle), locked to thread]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	/usr/local/go/src/runtime/proc.go:435 +0xce fp=0xc00005ef38 sp=0xc00005ef18 pc=0x43f0ae
runtime.gcBgMarkWorker(0xc000080000)
	/usr/local/go/src/runtime/mgc.go:1423 +0xe9 fp=0xc00005efc8 sp=0xc00005ef38 pc=0x41c3c9
runtime.goexit({})
	/usr/local/go/src/runtime/asm_amd64.s:1700 +0x1 fp=0xc00005efe8 sp=0xc00005efe0 pc=0x446c21
created by runtime.gcBgMarkStartWorkers in goroutine 1
	/usr/local/go/src/runtime/mgc.go:1339 +0x105`

	sampleGeneric = `goroutine 99 [sync.WaitGroup.Wait]:
sync.runtime_SemacquireWaitGroup(0xc0001a2000?, 0x0?)
	/usr/local/go/src/runtime/sema.go:114 +0x2e
sync.(*WaitGroup).Wait(0xc0001a2000)
	/usr/local/go/src/sync/waitgroup.go:206 +0x85
example.com/app/pool.Drain[...](0xc0001a2000, {0xc0001b4000, 0x2, 0x2})
	/src/app/pool/pool.go:40 +0x1d
...additional frames elided...
created by example.com/app.Start in goroutine 1
	/src/app/app.go:12 +0x66`
)

func TestParseStacks(t *testing.T) {
	dump := strings.Join([]string{sampleReader, sampleHandler, sampleSerializer, sampleLoopy, sampleMain, sampleSystem, sampleGeneric}, "\n\n") + "\n"
	gs := ParseStacks([]byte(dump))
	want := []struct {
		id        int64
		state     string
		frames    int
		createdBy string
		function  string
	}{
		{38, "IO wait", 13, "google.golang.org/grpc/internal/transport.NewHTTP2Client", "google.golang.org/grpc/internal/transport.(*http2Client).reader"},
		{45, "select", 5, "google.golang.org/grpc.(*Server).serveStreams.func2", "github.com/streambench/streambench/targets/longlived.(*Server).Subscribe"},
		{16, "chan receive, 2 minutes", 1, "google.golang.org/grpc/internal/grpcsync.NewCallbackSerializer", "google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"},
		{43, "select", 3, "google.golang.org/grpc/internal/transport.NewHTTP2Client", "google.golang.org/grpc/internal/transport.(*loopyWriter).run"},
		{1, "chan receive", 3, "", "main.main"},
		{7, "GC worker (idle), locked to thread", 3, "runtime.gcBgMarkStartWorkers", "runtime.gopark"},
		{99, "sync.WaitGroup.Wait", 3, "example.com/app.Start", "example.com/app/pool.Drain[...]"},
	}
	if len(gs) != len(want) {
		t.Fatalf("parsed %d goroutines, want %d", len(gs), len(want))
	}
	for i, w := range want {
		g := gs[i]
		if g.ID != w.id || g.State != w.state || len(g.Frames) != w.frames || g.CreatedBy != w.createdBy || g.Function != w.function {
			t.Errorf("goroutine %d: got id %d state %q frames %d created by %q function %q; want %+v",
				i, g.ID, g.State, len(g.Frames), g.CreatedBy, g.Function, w)
		}
		if !strings.HasPrefix(g.Stack, "goroutine ") || strings.HasSuffix(g.Stack, "\n") {
			t.Errorf("goroutine %d: stack %q is not the block", i, g.Stack)
		}
	}
	if got := gs[0].Frames[0]; got != "internal/poll.runtime_pollWait" {
		t.Errorf("first frame %q", got)
	}
}

func TestParseStacksOddInput(t *testing.T) {
	for _, in := range []string{
		"",
		"\n\n\n",
		"goroutine",
		"goroutine x [running]:\nmain.main()",
		"goroutine 12",
		"goroutine 12 [",
		"goroutine 12 [running",
		"goroutine 12 ]running[:\n(\n)\n((()\n)(",
		"created by \n\t",
		"goroutine 3 [running]:\ncreated by",
		"goroutine 3 [running]:\n\n\ngoroutine 4 [select]:\nx.y(",
	} {
		gs := ParseStacks([]byte(in)) // must not panic
		for _, g := range gs {
			if g.Function == "" {
				t.Errorf("%q: empty identifying function", in)
			}
		}
	}
	if gs := ParseStacks([]byte("goroutine 3 [running]:\n\n\ngoroutine 4 [select]:\nx.y(")); len(gs) != 2 || gs[1].ID != 4 {
		t.Errorf("blank lines between goroutines: %+v", gs)
	}
}

func TestIdentify(t *testing.T) {
	for _, tt := range []struct {
		frames []string
		want   string
	}{
		{nil, "unknown"},
		{[]string{"runtime.gopark", "runtime.goexit"}, "runtime.gopark"},
		{[]string{"runtime.gopark", "time.Sleep", "runtime.goexit"}, "time.Sleep"},
		{[]string{"sync.(*WaitGroup).Wait", "net/http.(*Server).Serve"}, "sync.(*WaitGroup).Wait"},
		{[]string{"google.golang.org/grpc/internal/transport.(*writeQuota).get", "google.golang.org/grpc.(*serverStream).SendMsg",
			"example.com/srv.(*S).Feed", "google.golang.org/grpc.(*Server).processRPC"}, "example.com/srv.(*S).Feed"},
		{[]string{"internal/poll.runtime_pollWait", "google.golang.org/grpc/test/bufconn.(*pipe).Read",
			"golang.org/x/net/http2.(*Framer).ReadFrameHeader", "google.golang.org/grpc/internal/transport.(*http2Server).HandleStreams",
			"google.golang.org/grpc.(*Server).serveStreams"}, "google.golang.org/grpc/internal/transport.(*http2Server).HandleStreams"},
		{[]string{"golang.org/x/net/http2.(*Framer).ReadFrame"}, "golang.org/x/net/http2.(*Framer).ReadFrame"},
		{[]string{"main.main"}, "main.main"},
	} {
		if got := Identify(tt.frames); got != tt.want {
			t.Errorf("Identify(%v) = %q, want %q", tt.frames, got, tt.want)
		}
	}
}

// The live process parses completely: every goroutine runtime.NumGoroutine
// counts (the test's own ones at least) has an id and a function.
func TestGoroutinesLive(t *testing.T) {
	block := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); parkedForTest(block) }()
	defer func() { close(block); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		gs := Goroutines()
		i := slices.IndexFunc(gs, func(g Goroutine) bool { return strings.HasSuffix(g.Function, "leak.parkedForTest") })
		// The goroutine may be seen in parkedForTest before it has parked on
		// the channel (state "runnable" or "running"): look again until it
		// is parked, within a deadline.
		if i < 0 && time.Now().After(deadline) {
			t.Fatal("the parked goroutine never appeared in the dump")
		}
		if i < 0 || (gs[i].State == "runnable" || gs[i].State == "running") && time.Now().Before(deadline) {
			runtime.Gosched()
			continue
		}
		if gs[i].State != "chan receive" || !strings.Contains(gs[i].CreatedBy, "TestGoroutinesLive") {
			t.Errorf("parked goroutine: %+v", gs[i])
		}
		if !slices.ContainsFunc(gs[0].Frames, func(f string) bool { return strings.HasSuffix(f, "TestGoroutinesLive") }) {
			t.Errorf("first goroutine is %v, want the caller", gs[0].Frames)
		}
		return
	}
}

//go:noinline
func parkedForTest(c chan struct{}) { <-c }

func FuzzParseStacks(f *testing.F) {
	for _, s := range []string{sampleReader, sampleHandler, sampleSerializer, sampleLoopy, sampleMain, sampleSystem, sampleGeneric} {
		f.Add([]byte(s))
	}
	f.Add(allStacks())
	f.Fuzz(func(t *testing.T, dump []byte) {
		for _, g := range ParseStacks(dump) {
			if g.Function == "" || !strings.HasPrefix(g.Stack, "goroutine ") {
				t.Fatalf("bad goroutine %+v", g)
			}
		}
	})
}
