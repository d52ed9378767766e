// Package watchtest is a test server in the shapes of etcd's Watch and
// xDS's discovery stream (watch.proto), served with dynamic messages: a
// watch batches events per response, numbers them with a global revision
// and sends control responses (created, progress) that carry no event;
// discovery versions are strings. A request's behavior plants a bug.
// Tests only.
package watchtest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Proto is the absolute path of watch.proto.
func Proto() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "watch.proto")
}

// Behaviors a request may ask for.
const (
	// Skip: the watch skips 20 revisions once (a resume that lost them).
	Skip = "skip"
	// Repeat: one batch starts with the previous batch's last event again.
	Repeat = "repeat"
	// Back: discovery versions go back to "1" once (a restart).
	Back = "back"
	// FailThenControl: the first watch stream sends two batches and
	// fails (Unavailable); every later one sends control responses only
	// (a resumed watcher waiting for revisions that never come).
	FailThenControl = "fail_then_control"
)

// Server serves watchtest.v1.Watch.
type Server struct {
	svc protoreflect.ServiceDescriptor
	// Interval is the pause between responses (default 2ms).
	Interval time.Duration
	mu       sync.Mutex
	counts   map[string]*Counts
	streams  atomic.Int64
}

// Counts are the responses sent for one behavior.
type Counts struct {
	Data, Control atomic.Int64
}

// New returns a server of the Watch service svc (resolved from Proto()).
func New(svc protoreflect.ServiceDescriptor) *Server {
	return &Server{svc: svc, Interval: 2 * time.Millisecond, counts: map[string]*Counts{}}
}

// Counts returns the responses sent so far to requests with behavior b.
func (s *Server) Counts(b string) *Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts[b]
	if c == nil {
		c = &Counts{}
		s.counts[b] = c
	}
	return c
}

// Register adds the service to g.
func (s *Server) Register(g *grpc.Server) {
	desc := &grpc.ServiceDesc{
		ServiceName: string(s.svc.FullName()),
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{
			{StreamName: "Watch", ServerStreams: true, Handler: func(_ any, st grpc.ServerStream) error { return s.watch(st) }},
			{StreamName: "Discover", ServerStreams: true, Handler: func(_ any, st grpc.ServerStream) error { return s.discover(st) }},
		},
	}
	g.RegisterService(desc, s)
}

// sender sends responses of one type, written as JSON, paced.
type sender struct {
	st       grpc.ServerStream
	md       protoreflect.MessageDescriptor
	interval time.Duration
}

func (x sender) send(js string) error {
	m := dynamicpb.NewMessage(x.md)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		return status.Errorf(codes.Internal, "%s: %v", js, err)
	}
	if err := x.st.SendMsg(m); err != nil {
		return err
	}
	t := time.NewTimer(x.interval)
	defer t.Stop()
	select {
	case <-x.st.Context().Done():
		return x.st.Context().Err()
	case <-t.C:
		return nil
	}
}

func (s *Server) request(st grpc.ServerStream, name protoreflect.Name) (*dynamicpb.Message, sender, error) {
	md := s.svc.Methods().ByName(name)
	req := dynamicpb.NewMessage(md.Input())
	if err := st.RecvMsg(req); err != nil {
		return nil, sender{}, err
	}
	return req, sender{st: st, md: md.Output(), interval: s.Interval}, nil
}

func field(m *dynamicpb.Message, name string) protoreflect.Value {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
}

// watch: a created response, then batches of three events, every fourth
// response a progress notification (a header, no event).
func (s *Server) watch(st grpc.ServerStream) error {
	req, out, err := s.request(st, "Watch")
	if err != nil {
		return err
	}
	behavior := field(req, "behavior").String()
	step := max(field(req, "step").Int(), 1)
	rev := max(field(req, "start_revision").Int(), 1)
	c := s.Counts(behavior)
	control := func() error {
		c.Control.Add(1)
		return out.send(fmt.Sprintf(`{"header": {"revision": "%d"}}`, rev-1))
	}
	nth := s.streams.Add(1)
	if behavior == FailThenControl && nth > 1 {
		for {
			if err := control(); err != nil {
				return ignoreEnd(err)
			}
		}
	}
	c.Control.Add(1)
	if err := out.send(fmt.Sprintf(`{"created": true, "header": {"revision": "%d"}}`, rev-1)); err != nil {
		return ignoreEnd(err)
	}
	for n := 0; ; n++ {
		if n%4 == 3 {
			if err := control(); err != nil {
				return ignoreEnd(err)
			}
			continue
		}
		if behavior == FailThenControl && n == 2 {
			return status.Error(codes.Unavailable, "planted: the watch fails")
		}
		revs := []int64{rev, rev + step, rev + 2*step}
		switch {
		case behavior == Skip && n == 6:
			rev += 20 * step
			revs = []int64{rev, rev + step, rev + 2*step}
		case behavior == Repeat && n == 6:
			revs = []int64{rev - step, rev, rev + step}
		}
		rev = revs[2] + step
		js := fmt.Sprintf(`{"header": {"revision": "%d"}, "events": [`, revs[2])
		for i, r := range revs {
			if i > 0 {
				js += ", "
			}
			js += fmt.Sprintf(`{"kv": {"key": "a2V5", "modRevision": "%d"}}`, r)
		}
		c.Data.Add(1)
		if err := out.send(js + "]}"); err != nil {
			return ignoreEnd(err)
		}
	}
}

// discover: versions "1", "2", ...; every fifth response a control
// response without a version.
func (s *Server) discover(st grpc.ServerStream) error {
	req, out, err := s.request(st, "Discover")
	if err != nil {
		return err
	}
	behavior := field(req, "behavior").String()
	c := s.Counts(behavior)
	version := 1
	wentBack := false
	for n := 0; ; n++ {
		js := `{"nonce": "n` + strconv.Itoa(n) + `"}`
		if n%5 == 4 {
			c.Control.Add(1)
		} else {
			js = fmt.Sprintf(`{"versionInfo": "%d", "resources": ["r"], "nonce": "n%d"}`, version, n)
			version++
			if behavior == Back && version == 10 && !wentBack {
				version, wentBack = 1, true
			}
			c.Data.Add(1)
		}
		if err := out.send(js); err != nil {
			return ignoreEnd(err)
		}
	}
}

// ignoreEnd turns the client going away into a clean return.
func ignoreEnd(err error) error {
	if errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled {
		return nil
	}
	return err
}
