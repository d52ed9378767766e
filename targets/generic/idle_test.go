package generic

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/record"
	"github.com/streambench/streambench/internal/bufnet"
)

// pushServer serves Ads/Stream as a control plane: "push" sends a
// response every 20ms (well within the watchdog's 400ms, even on a
// loaded machine under -race), "silent" one and then nothing (the stream stays
// open, no error), "echo" one response per request.
func pushServer(md protoreflect.MethodDescriptor, mode string) func(*grpc.Server) {
	return func(g *grpc.Server) {
		g.RegisterService(&grpc.ServiceDesc{
			ServiceName: "adstest.v1.Ads",
			HandlerType: (*any)(nil),
			Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, ClientStreams: true,
				Handler: func(_ any, st grpc.ServerStream) error {
					send := func() error { return st.SendMsg(dynamicpb.NewMessage(md.Output())) }
					if mode == "echo" {
						for {
							if err := st.RecvMsg(dynamicpb.NewMessage(md.Input())); err != nil {
								if errors.Is(err, io.EOF) {
									return nil
								}
								return err
							}
							if err := send(); err != nil {
								return err
							}
						}
					}
					if err := send(); err != nil {
						return err
					}
					// A stream the client ended ends with the client's
					// error, never OK: an OK racing the cancel would
					// read as a complete stream.
					for mode == "push" {
						select {
						case <-st.Context().Done():
							return st.Context().Err()
						case <-time.After(20 * time.Millisecond):
						}
						if err := send(); err != nil {
							return err
						}
					}
					<-st.Context().Done()
					return st.Context().Err()
				}}},
		}, struct{}{})
	}
}

// TestIdleOnGenericStreams: groups[].idle ends a generic stream whose
// server went silent without an error as idle_timeout; a server that
// keeps pushing, the watchdog off, and a lockstep client's own pacing
// longer than idle do not.
func TestIdleOnGenericStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := Resolve(ctx, Source{Proto: []string{adsProto(t)}}, "adstest.v1.Ads/Stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		mode     string
		idle     time.Duration
		messages int
		lockstep bool
		interval time.Duration
		want     record.Class
	}{
		{"silent control plane", "silent", 150 * time.Millisecond, 1, false, 0, record.Idle},
		// Ended by the stream timeout (deadline, or canceled or a status
		// as grpc-go reports a reset it raced with): anything but idle
		// or complete.
		{"silent, watchdog off", "silent", 0, 1, false, 0, record.Deadline},
		{"pushing", "push", 400 * time.Millisecond, 1, false, 0, record.Deadline},
		{"own pacing is not silence", "echo", 100 * time.Millisecond, 3, true, 250 * time.Millisecond, record.Complete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := bufnet.Serve(t, pushServer(md, tc.mode), nil)
			g := adsGroup(t, "Stream", `{"type_url": "T"}`, tc.messages)
			g.Call.Lockstep = tc.lockstep
			call, err := setup(ctx, g, "", errAtField, cc)
			if err != nil {
				t.Fatal(err)
			}
			sink := &endSink{}
			d := NewDriver(cc, driver.Params{Setup: call, Idle: tc.idle, Interval: tc.interval, StreamTimeout: 1200 * time.Millisecond}, sink)
			start := time.Now()
			end := d.Stream(ctx, context.Background())
			timedOut := tc.want == record.Deadline && end.Class != record.Idle && end.Class != record.Complete
			if end.Class != tc.want && !timedOut {
				t.Errorf("ended %v (%s), want %v", end.Class, sink.detail, tc.want)
			}
			if tc.want == record.Idle && time.Since(start) > 600*time.Millisecond {
				t.Errorf("idle after %v, want about %v", time.Since(start), tc.idle)
			}
		})
	}
}
