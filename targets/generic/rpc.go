package generic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
)

// RPC is the generic entry of the RPC catalog: a group with a `call:` drives
// any method of any service with dynamic messages.
var RPC = rpc.Entry{
	Name:      "generic",
	Doc:       "any method of any service (call: {method, proto | protoset | reflection, data, expect}), driven with dynamic messages and checked against the call's expectations",
	Caps:      rpc.Caps{Messages: true, Arrival: true},
	Settings:  []string{"call"},
	ImpliedBy: "call",
	Check:     check,
	Setup:     setup,
	Factory:   NewDriver,
}

// checkWait bounds compiling a group's .proto files at validation.
const checkWait = 30 * time.Second

// check validates a group's call without the target: the method's form,
// the templates, the expectations, and the .proto files or protoset when
// the call names them (reflection waits for the target).
func check(g scenario.Group, _ func(string) bool) (string, string) {
	c := g.Call
	if c == nil {
		return "call", "must be set for the generic RPC: call: {method: package.Service/Method, ...}"
	}
	if c.Method == "" {
		return "call.method", "must be set: package.Service/Method"
	}
	if _, _, err := SplitMethod(c.Method); err != nil {
		return "call.method", err.Error()
	}
	if len(c.Proto) > 0 && c.Protoset != "" {
		return "call.protoset", "give proto files or a protoset, not both (or neither: server reflection)"
	}
	if len(c.ImportPaths) > 0 && len(c.Proto) == 0 {
		return "call.import_paths", "applies with proto files only"
	}
	if _, err := templates(c); err != nil {
		return "call.data", err.Error()
	}
	if _, err := parseExpect(c.Expect); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return fe.field, err.Error()
		}
		return "call.expect", err.Error()
	}
	return "", ""
}

// templates parses the call's data: one template, or one per message.
func templates(c *scenario.Call) ([]*Template, error) {
	raw := "{}"
	if c.Data != nil {
		raw = c.Data.JSON
	}
	var list []json.RawMessage
	if json.Unmarshal([]byte(raw), &list) == nil {
		if len(list) == 0 {
			return nil, fmt.Errorf("an empty list sends nothing; give at least one message")
		}
		out := make([]*Template, len(list))
		for i, m := range list {
			t, err := ParseTemplate(string(m))
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = t
		}
		return out, nil
	}
	t, err := ParseTemplate(raw)
	if err != nil {
		return nil, err
	}
	return []*Template{t}, nil
}

// setup resolves a group's method (over reflection through cc when the
// call names no descriptors), and binds its templates and expectations to
// the method's types. Problems that are the scenario's are *scenario.Error
// at the call's position.
func setup(ctx context.Context, g scenario.Group, dir string, errAt func(field, msg string) error, cc grpc.ClientConnInterface) (any, error) {
	c := g.Call
	bad := func(field, format string, args ...any) error {
		return errAt("call."+field, fmt.Sprintf(format, args...))
	}
	src := Source{Proto: c.Proto, ImportPaths: c.ImportPaths, Protoset: c.Protoset, Dir: dir}
	md, err := Resolve(ctx, src, c.Method, cc)
	var nf *NotFoundError
	if err != nil && src.Reflection() && !errors.As(err, &nf) {
		// The target did not answer reflection: the target's problem.
		return nil, fmt.Errorf("resolve %s: %w", c.Method, err)
	}
	if err != nil {
		field := "method"
		switch {
		case errors.As(err, &nf):
		case len(c.Proto) > 0:
			field = "proto"
		case c.Protoset != "":
			field = "protoset"
		}
		return nil, bad(field, "%v", err)
	}
	reqs, err := templates(c)
	if err != nil {
		return nil, bad("data", "%v", err)
	}
	builders := make([]builder, len(reqs))
	for i, t := range reqs {
		if err := t.CheckFields(md.Output()); err != nil {
			return nil, bad("data", "%v", err)
		}
		b, err := newBuilder(t, md.Input())
		if err != nil {
			return nil, bad("data", "message %d: %v", i, err)
		}
		// A static request must fit the input type now, not mid-run.
		if t.Static() && b.base == nil {
			if _, err := b.build(&Vars{}, protojson.UnmarshalOptions{}); err != nil {
				return nil, bad("data", "message %d: %v", i, err)
			}
		}
		builders[i] = *b
	}
	x, err := parseExpect(c.Expect)
	if err == nil {
		err = x.resolve(c.Expect, md.Output())
	}
	if err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return nil, errAt(fe.field, err.Error())
		}
		return nil, bad("expect", "%v", err)
	}
	call := &Call{
		name:     "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		method:   md,
		desc:     grpc.StreamDesc{StreamName: string(md.Name()), ServerStreams: md.IsStreamingServer(), ClientStreams: md.IsStreamingClient()},
		reqs:     reqs,
		builders: builders,
		perMsg:   len(reqs) > 1 || (c.Data != nil && isList(c.Data.JSON)),
		expect:   x,
		message:  max(g.Messages, 1),
		codec:    codecFor(md),
	}
	if call.perMsg {
		call.message = len(reqs)
	}
	if c.Lockstep && !(call.desc.ClientStreams && call.desc.ServerStreams) {
		return nil, bad("lockstep", "applies to a bidirectional streaming method; %s is not one", c.Method)
	}
	call.lockstep = c.Lockstep
	for _, t := range reqs {
		call.lockstep = call.lockstep || t.usesLast()
	}
	if cv := c.Expect.Covers; cv != nil {
		if call.coverEvent, call.coverFrom, err = resolveCovers(*cv, md.Output()); err != nil {
			var fe *fieldError
			errors.As(err, &fe)
			return nil, errAt(fe.field, err.Error())
		}
		call.covers = newCoverOracle(*cv)
	}
	if x.seq != nil {
		for _, t := range reqs {
			call.resumes = call.resumes || t.Uses("last."+c.Expect.Sequence.Path)
		}
	}
	return call, nil
}

func isList(raw string) bool {
	var list []json.RawMessage
	return json.Unmarshal([]byte(raw), &list) == nil
}
