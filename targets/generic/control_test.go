package generic

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/internal/bufnet"
	"github.com/streambench/streambench/internal/watchtest"
)

// TestControlResponsesAreNotData: control responses (no value at the
// sequence's lists, or data_field unset) are not messages received, not
// checked, and not back to live: a watch whose first stream fails and
// whose resumed stream carries only progress notifications stays in its
// outage.
func TestControlResponsesAreNotData(t *testing.T) {
	md := watchMethod(t, "Watch")
	srv := watchtest.New(md.Parent().(protoreflect.ServiceDescriptor))
	cc := bufnet.Serve(t, srv.Register, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errAt := func(field, msg string) error { return errors.New(field + ": " + msg) }
	for _, tc := range []struct {
		name, method, behavior string
		expect                 scenario.Expect
	}{
		{"watch: empty events", "Watch", "", scenario.Expect{Sequence: scenario.Sequence{Path: "events[].kv.mod_revision"}}},
		{"watch: data_field", "Watch", "", scenario.Expect{Sequence: scenario.Sequence{Path: "events[].kv.mod_revision"}, DataField: "events",
			// checked on data only: a control response has no events
			Fields: []scenario.FieldCheck{{Path: "events", Size: ptr(3)}}}},
		{"discovery: data_field", "Discover", "", scenario.Expect{Sequence: scenario.Sequence{Path: "version_info", Mode: scenario.SeqIncreasing}, DataField: "version_info"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := scenario.Group{Name: "g", Call: &scenario.Call{
				Method: "watchtest.v1.Watch/" + tc.method, Proto: []string{watchtest.Proto()},
				Data:   &scenario.Data{JSON: `{"behavior": "` + tc.behavior + `"}`},
				Expect: tc.expect,
			}}
			call, err := setup(ctx, g, "", errAt, cc)
			if err != nil {
				t.Fatal(err)
			}
			rec := record.New(1, time.Now)
			sink := rec.Client(0)
			before := srv.Counts(tc.behavior)
			data0, control0 := before.Data.Load(), before.Control.Load()
			d := NewDriver(cc, driver.Params{Setup: call, StreamTimeout: 150 * time.Millisecond}, sink)
			d.Stream(ctx, context.Background())
			data, control := before.Data.Load()-data0, before.Control.Load()-control0
			tally := rec.Tally()
			got := rec.Snapshot().Counters.Received
			if control == 0 || data == 0 || got == 0 || got > uint64(data) {
				t.Errorf("received %d; server sent %d data and %d control responses", got, data, control)
			}
			if v := tally.Violations; v != ([len(v)]uint64{}) {
				t.Errorf("violations %v", v)
			}
		})
	}

	// Back to live is data after the outage, not a control response.
	g := scenario.Group{Name: "g", Call: &scenario.Call{
		Method: "watchtest.v1.Watch/Watch", Proto: []string{watchtest.Proto()},
		Data:   &scenario.Data{JSON: `{"behavior": "` + watchtest.FailThenControl + `"}`},
		Expect: scenario.Expect{Sequence: scenario.Sequence{Path: "events[].kv.mod_revision"}},
	}}
	call, err := setup(ctx, g, "", errAt, cc)
	if err != nil {
		t.Fatal(err)
	}
	rec := record.New(1, time.Now)
	sink := rec.Client(0)
	d := NewDriver(cc, driver.Params{Setup: call, StreamTimeout: 150 * time.Millisecond}, sink)
	if end := d.Stream(ctx, context.Background()); end.Class == record.Complete {
		t.Fatalf("the first stream did not fail: %v", end)
	}
	received := rec.Snapshot().Counters.Received
	d.Stream(ctx, context.Background())
	c := srv.Counts(watchtest.FailThenControl)
	if !sink.Broken() || rec.Tally().Recovered != 0 {
		t.Errorf("back to live on control responses (broken %v, tally %+v)", sink.Broken(), rec.Tally())
	}
	if now := rec.Snapshot().Counters.Received; now != received || c.Control.Load() < 5 {
		t.Errorf("received %d then %d over %d control responses", received, now, c.Control.Load())
	}
}

func ptr[T any](v T) *T { return &v }
