package watchtest

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// KVProto is the absolute path of kv.proto.
func KVProto() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "kv.proto")
}

// Store serves watchtest.kv.v1's KV and Watch: every Put is a new
// revision of the store, acknowledged with it; a watch delivers every
// revision from its start in batches of up to three events, as etcd
// does. CutAfter and Restart end watch streams so that watchers resume;
// Restart(false) also loses every revision, as a server restarted on a
// fresh data directory does.
type Store struct {
	kv, watch protoreflect.ServiceDescriptor
	// CutAfter, when above 0, ends every watch stream with Unavailable
	// after that many responses with events (a watcher must resume).
	CutAfter int

	mu      sync.Mutex
	rev     int64
	changed chan struct{} // closed and replaced on every change
	epoch   int64
}

// NewStore returns a store serving the KV and Watch services of kv.proto
// (resolved from KVProto()).
func NewStore(kv, watch protoreflect.ServiceDescriptor) *Store {
	return &Store{kv: kv, watch: watch, changed: make(chan struct{})}
}

// Register adds both services to g.
func (s *Store) Register(g *grpc.Server) {
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: string(s.kv.FullName()),
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Put", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			return s.put(dec)
		}}},
	}, s)
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: string(s.watch.FullName()),
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Watch", ServerStreams: true, Handler: func(_ any, st grpc.ServerStream) error {
			return s.watchStream(st)
		}}},
	}, s)
}

// Revision is the store's revision now.
func (s *Store) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// Restart ends every watch stream (Unavailable); keep false also loses
// every revision: the next Put is revision 1 again.
func (s *Store) Restart(keep bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	if !keep {
		s.rev = 0
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Store) put(dec func(any) error) (any, error) {
	md := s.kv.Methods().ByName("Put")
	if err := dec(dynamicpb.NewMessage(md.Input())); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.rev++
	rev := s.rev
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	out := dynamicpb.NewMessage(md.Output())
	setHeader(out, rev)
	return out, nil
}

// setHeader sets m's header.revision.
func setHeader(m *dynamicpb.Message, rev int64) {
	hd := m.Descriptor().Fields().ByName("header")
	h := m.Mutable(hd).Message()
	h.Set(h.Descriptor().Fields().ByName("revision"), protoreflect.ValueOfInt64(rev))
}

// state is the store's revision, change signal and epoch.
func (s *Store) state() (int64, <-chan struct{}, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev, s.changed, s.epoch
}

func (s *Store) watchStream(st grpc.ServerStream) error {
	md := s.watch.Methods().ByName("Watch")
	req := dynamicpb.NewMessage(md.Input())
	if err := st.RecvMsg(req); err != nil {
		return err
	}
	rev, changed, epoch := s.state()
	next := req.Get(md.Input().Fields().ByName("start_revision")).Int()
	if next <= 0 {
		next = rev + 1
	}
	created := dynamicpb.NewMessage(md.Output())
	setHeader(created, rev) // as etcd: the store's revision, not the start
	created.Set(md.Output().Fields().ByName("created"), protoreflect.ValueOfBool(true))
	if err := st.SendMsg(created); err != nil {
		return ignoreEnd(err)
	}
	events := md.Output().Fields().ByName("events")
	sent := 0
	for {
		for next <= rev {
			out := dynamicpb.NewMessage(md.Output())
			list := out.Mutable(events).List()
			last := min(next+2, rev)
			for r := next; r <= last; r++ {
				ev := list.NewElement().Message()
				kv := ev.Mutable(ev.Descriptor().Fields().ByName("kv")).Message()
				kv.Set(kv.Descriptor().Fields().ByName("key"), protoreflect.ValueOfBytes([]byte("key")))
				kv.Set(kv.Descriptor().Fields().ByName("mod_revision"), protoreflect.ValueOfInt64(r))
				list.Append(protoreflect.ValueOfMessage(ev))
			}
			setHeader(out, last)
			if err := st.SendMsg(out); err != nil {
				return ignoreEnd(err)
			}
			next = last + 1
			if sent++; s.CutAfter > 0 && sent >= s.CutAfter {
				return status.Error(codes.Unavailable, fmt.Sprintf("planted: the watch ends after %d responses", sent))
			}
		}
		select {
		case <-st.Context().Done():
			return nil
		case <-changed:
		}
		var e int64
		rev, changed, e = s.state()
		if e != epoch {
			return status.Error(codes.Unavailable, "the store restarted")
		}
	}
}

// Services resolves kv.proto's KV and Watch services from a method of
// each, as found by a resolver (generic.Resolve in tests).
func Services(kvPut, watch protoreflect.MethodDescriptor) (kv, w protoreflect.ServiceDescriptor) {
	return kvPut.Parent().(protoreflect.ServiceDescriptor), watch.Parent().(protoreflect.ServiceDescriptor)
}
