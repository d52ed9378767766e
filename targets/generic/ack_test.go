package generic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/bufnet"
	"github.com/streambench/streambench/internal/watchtest"
)

// adsServer answers each request of an Ads/Stream with the next version
// ("1", "2", ...) and nonce ("n1", ...); the responses listed in invalid
// (by index) are not valid (an xDS client would NACK them). It keeps every
// request it received, as JSON.
type adsServer struct {
	md      protoreflect.MethodDescriptor
	invalid map[int]bool
	version func(i int) string

	mu   sync.Mutex
	reqs []string
}

func (s *adsServer) register(g *grpc.Server) {
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: "adstest.v1.Ads",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, ClientStreams: true,
			Handler: func(_ any, st grpc.ServerStream) error { return s.stream(st) }}},
	}, struct{}{})
}

func (s *adsServer) stream(st grpc.ServerStream) error {
	for i := 0; ; i++ {
		req := dynamicpb.NewMessage(s.md.Input())
		if err := st.RecvMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		js, _ := protojson.Marshal(req)
		s.mu.Lock()
		s.reqs = append(s.reqs, string(js))
		s.mu.Unlock()
		version := fmt.Sprint(i + 1)
		if s.version != nil {
			version = s.version(i)
		}
		res := dynamicpb.NewMessage(s.md.Output())
		if err := protojson.Unmarshal([]byte(fmt.Sprintf(`{"version_info": %q, "nonce": "n%d", "valid": %v}`, version, i+1, !s.invalid[i])), res); err != nil {
			return err
		}
		if err := st.SendMsg(res); err != nil {
			return err
		}
	}
}

// requests returns the requests received so far, compacted JSON.
func (s *adsServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = strings.ReplaceAll(r, " ", "")
	}
	return out
}

// TestACKLoop: an xDS-shaped ACK loop. The first request carries no
// version and no nonce (there is nothing to acknowledge: the fields are
// left out, where {{last.F}} once gave the number 0 and failed the
// request); each later one the last accepted version and the last seen
// nonce, so after the invalid third response the client acknowledges
// version "2" with nonce "n3". A request list shorter than messages
// repeats its last entry.
func TestACKLoop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := Resolve(ctx, Source{Proto: []string{adsProto(t)}}, "adstest.v1.Ads/Stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	ack := `{"version_info": "{{accepted.version_info}}", "response_nonce": "{{last.nonce}}"}`
	for _, tc := range []struct {
		name string
		data string
		want []string
	}{
		{"one template", `{"type_url": "T", "version_info": "{{accepted.version_info}}", "response_nonce": "{{last.nonce}}"}`, []string{
			`{"typeUrl":"T"}`,
			`{"versionInfo":"1","responseNonce":"n1","typeUrl":"T"}`,
			`{"versionInfo":"2","responseNonce":"n2","typeUrl":"T"}`,
			`{"versionInfo":"2","responseNonce":"n3","typeUrl":"T"}`, // "3" was invalid: not accepted
			`{"versionInfo":"4","responseNonce":"n4","typeUrl":"T"}`,
		}},
		{"subscribe, then an ACK loop", `[{"type_url": "T", "resource_names": ["a"]}, ` + ack + `]`, []string{
			`{"typeUrl":"T","resourceNames":["a"]}`,
			`{"versionInfo":"1","responseNonce":"n1"}`,
			`{"versionInfo":"2","responseNonce":"n2"}`,
			`{"versionInfo":"2","responseNonce":"n3"}`,
			`{"versionInfo":"4","responseNonce":"n4"}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &adsServer{md: md, invalid: map[int]bool{2: true}}
			cc := bufnet.Serve(t, srv.register, nil)
			g := adsGroup(t, "Stream", tc.data, 5)
			g.Call.Expect.Fields = []scenario.FieldCheck{{Path: "valid", Equals: &scenario.Data{JSON: "true"}}}
			call, err := setup(ctx, g, "", errAtField, cc)
			if err != nil {
				t.Fatal(err)
			}
			rec := record.New(1, time.Now)
			d := NewDriver(cc, driver.Params{Setup: call, StreamTimeout: 5 * time.Second}, rec.Client(0))
			d.Stream(ctx, context.Background())
			got := srv.requests()
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if v := rec.Tally().Violations[record.WrongValue]; v != 1 {
				t.Errorf("%d wrong values, want the invalid response's 1", v)
			}
			if errs := call.(*Call).RunErrors(); errs != nil {
				t.Errorf("run errors: %v", errs)
			}
		})
	}
}

// TestUnbuiltRequestIsARunError: a request that cannot be built mid-run
// (text written into an integer field, from a response whose version is
// not a number) ends its stream and is counted as a run error naming it.
func TestUnbuiltRequestIsARunError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := Resolve(ctx, Source{Proto: []string{adsProto(t)}}, "adstest.v1.Ads/Stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version string
		want    string
	}{
		{"7", ""},
		{"v7", "1 request(s) of /adstest.v1.Ads/Stream could not be built (each ended its stream as a violation); first: request 1: "},
	} {
		srv := &adsServer{md: md, version: func(int) string { return tc.version }}
		cc := bufnet.Serve(t, srv.register, nil)
		call, err := setup(ctx, adsGroup(t, "Stream", `{"start_revision": "1{{last.version_info}}"}`, 2), "", errAtField, cc)
		if err != nil {
			t.Fatal(err)
		}
		rec := record.New(1, time.Now)
		d := NewDriver(cc, driver.Params{Setup: call, StreamTimeout: 5 * time.Second}, rec.Client(0))
		d.Stream(ctx, context.Background())
		errs := call.(*Call).RunErrors()
		switch {
		case tc.want == "" && errs != nil:
			t.Errorf("version %s: %v", tc.version, errs)
		case tc.want != "" && (len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tc.want)):
			t.Errorf("version %s: %v, want %q...", tc.version, errs, tc.want)
		}
	}
}

// TestWatchResumesFromMax: a watch resumed with start_revision = the
// highest revision seen + 1 loses and repeats nothing across its streams;
// resuming from the highest itself (a planted off-by-one) repeats it, and
// the first stream, with nothing to resume from, leaves start_revision
// out (the server starts from its first revision, not from 1 + 0).
func TestWatchResumesFromMax(t *testing.T) {
	md := watchMethod(t, "Watch")
	srv := watchtest.New(md.Parent().(protoreflect.ServiceDescriptor))
	cc := bufnet.Serve(t, srv.Register, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		resume string
		dups   bool
	}{
		{"{{max.events[].kv.mod_revision + 1}}", false},
		{"{{max.events[].kv.mod_revision}}", true},
	} {
		g := scenario.Group{Name: "g", Call: &scenario.Call{
			Method: "watchtest.v1.Watch/Watch", Proto: []string{watchtest.Proto()},
			Data:   &scenario.Data{JSON: `{"start_revision": "` + tc.resume + `"}`},
			Expect: scenario.Expect{Sequence: scenario.Sequence{Path: "events[].kv.mod_revision"}, DataField: "events"},
		}}
		call, err := setup(ctx, g, "", errAtField, cc)
		if err != nil {
			t.Fatal(err)
		}
		if !call.(*Call).resumes {
			t.Errorf("%s: the sequence does not run across streams", tc.resume)
		}
		rec := record.New(1, time.Now)
		d := NewDriver(cc, driver.Params{Setup: call, StreamTimeout: 100 * time.Millisecond}, rec.Client(0))
		for range 3 {
			d.Stream(ctx, context.Background())
		}
		v := rec.Tally().Violations
		if v[record.Gap] != 0 || (v[record.Duplicate]+v[record.Reorder] > 0) != tc.dups {
			t.Errorf("%s: violations %v (duplicates wanted: %v)", tc.resume, v, tc.dups)
		}
		if got := d.(*gdriver).vars.Max[0]; !got.Seen || got.V < 3 {
			t.Errorf("%s: highest %+v", tc.resume, got)
		}
	}
}
