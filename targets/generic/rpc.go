package generic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
)

// RPC is the generic entry of the RPC catalog: a group with a `call:` drives
// any method of any service with dynamic messages.
var RPC = rpc.Entry{
	Name:      "generic",
	Doc:       "any method of any service (call: {method, proto | protoset | reflection, data, expect}), driven with dynamic messages and checked against the call's expectations",
	Caps:      rpc.Caps{Messages: true, Arrival: true, Idle: true},
	Settings:  []string{"call"},
	ImpliedBy: "call",
	Defaults:  defaults,
	Check:     check,
	Setup:     setup,
	Verify:    verify,
	Factory:   NewDriver,
}

// checkWait bounds compiling a group's .proto files at validation.
const checkWait = 30 * time.Second

// check validates a group's call without the target: the method's form,
// the templates, the expectations, and the .proto files or protoset when
// the call names them (reflection waits for the target).
func check(g scenario.Group, has func(string) bool) (string, string) {
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
	reqs, err := templates(c)
	if err != nil {
		return "call.data", err.Error()
	}
	if field, problem := listAgainstMessages(g, len(reqs), has); problem != "" {
		return field, problem
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

// verify does at validation what setup does, when the call names its
// descriptors (.proto files or a protoset): the method, every template
// and expectation against its types. A method resolved over server
// reflection waits for the target, and verify says so.
func verify(ctx context.Context, g scenario.Group, dir string, errAt func(field, msg string) error) (string, error) {
	c := g.Call
	if c == nil {
		return "", nil
	}
	if (Source{Proto: c.Proto, Protoset: c.Protoset}).Reflection() {
		return fmt.Sprintf("call.method %s, call.data and call.expect against the method's types: resolved over the target's server reflection (give call.proto or call.protoset to check them here)", c.Method), nil
	}
	_, err := setup(ctx, g, dir, errAt, nil)
	return "", err
}

// defaults makes a request list's length the messages per stream when the
// group does not set messages (a list of 3 sends 3), rather than the
// catalog's default of 10.
func defaults(g *scenario.Group, has func(string) bool) {
	if g.Call == nil || g.Call.Data == nil || has("messages") || !isList(g.Call.Data.JSON) {
		return
	}
	if reqs, err := templates(g.Call); err == nil {
		g.Messages = len(reqs)
	}
}

// listAgainstMessages checks a request list against messages: a list may
// be shorter (its last entry repeats: an ACK loop), never longer — the
// entries past messages would never be sent. has is nil at setup (the
// group is then the plan's, its messages set either way).
func listAgainstMessages(g scenario.Group, n int, has func(string) bool) (field, problem string) {
	if g.Call.Data == nil || !isList(g.Call.Data.JSON) || n <= g.Messages {
		return "", ""
	}
	if has != nil && !has("messages") {
		return "", "" // defaults made messages the list's length
	}
	return "call.data", fmt.Sprintf("lists %d requests, but messages is %d: a stream sends messages requests, the list's entries in order and then its last entry again (an ACK loop); drop the entries past %d or raise messages to %d",
		n, g.Messages, g.Messages, n)
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
	clientStreams := md.IsStreamingClient()
	if c.Lockstep && !(clientStreams && md.IsStreamingServer()) {
		return nil, bad("lockstep", "applies to a bidirectional streaming method; %s is not one", c.Method)
	}
	if field, problem := listAgainstMessages(g, len(reqs), nil); problem != "" {
		return nil, errAt(field, problem)
	}
	if len(reqs) > 1 && !clientStreams {
		return nil, bad("data", "lists %d requests, but %s takes one request per stream (it is not client or bidirectional streaming): give one mapping", len(reqs), c.Method)
	}
	bd := &binder{out: md.Output()}
	codec := newDynamicCodec(md)
	list := c.Data != nil && isList(c.Data.JSON)
	builders := make([]builder, len(reqs))
	for i, t := range reqs {
		if err := bd.request(t, md.Input()); err != nil {
			return nil, dataError(bad, list, i, err)
		}
		b, err := newBuilder(t, md.Input())
		if err != nil {
			return nil, bad("data", "message %d: %v", i, err)
		}
		b.useWire(codec.plans[md.Input().FullName()])
		// Every request must fit the input type now, not mid-run: built
		// once with sample variables (before any response, and after).
		if err := tryBuild(b, md.Output(), len(bd.maxes)); err != nil {
			return nil, dataError(bad, list, i, err)
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
	for i := range x.fields {
		if t := x.fields[i].equals; t != nil {
			if err := bd.loose(t); err != nil {
				return nil, bad(fmt.Sprintf("expect.fields[%d].equals", i), "%v", err)
			}
		}
	}
	call := &Call{
		name:     "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		method:   md,
		desc:     grpc.StreamDesc{StreamName: string(md.Name()), ServerStreams: md.IsStreamingServer(), ClientStreams: clientStreams},
		reqs:     reqs,
		builders: builders,
		perMsg:   len(reqs) > 1 || list,
		expect:   x,
		message:  max(g.Messages, 1),
		codec:    grpc.ForceCodecV2(codec),
		maxes:    bd.maxes,
	}
	call.lockstep = c.Lockstep
	for _, t := range reqs {
		call.lockstep = call.lockstep || t.usesResponses()
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
			for _, ns := range resumeVars {
				call.resumes = call.resumes || t.Uses(ns+"."+c.Expect.Sequence.Path)
			}
		}
	}
	return call, nil
}

// dataError places a template's problem at its key in call.data (data[i]
// for a list's entry i), where the scenario says where that key stands.
func dataError(bad func(field, format string, args ...any) error, list bool, i int, err error) error {
	field := "data"
	if list {
		field = fmt.Sprintf("data[%d]", i)
	}
	var pe *pathError
	if errors.As(err, &pe) && pe.path != "" {
		sep := "."
		if strings.HasPrefix(pe.path, "[") {
			sep = ""
		}
		return bad(field+sep+pe.path, "%v", pe.err)
	}
	return bad(field, "%v", err)
}

// tryBuild builds a request with sample variables, before any response
// and after one of each (an empty response of type out): what cannot be
// built fails here, before the load, not on every message.
func tryBuild(b *builder, out protoreflect.MessageDescriptor, maxes int) error {
	v := &Vars{Now: time.Now, Rand: rand.New(rand.NewPCG(1, 2))}
	if err := b.try(v); err != nil {
		return err
	}
	empty := dynamicpb.NewMessage(out)
	v.Last, v.Accepted = empty, empty
	v.Max = make([]Highest, maxes)
	for i := range v.Max {
		v.Max[i] = Highest{V: 1, Seen: true}
	}
	return b.try(v)
}

// try builds a request for v both ways the builder may (as a message, and
// in its wire form when it has one).
func (b *builder) try(v *Vars) error {
	if _, err := b.build(v, protojson.UnmarshalOptions{}); err != nil {
		return err
	}
	if b.wire != nil {
		if _, err := b.buildWire(v); err != nil {
			return err
		}
	}
	return nil
}

func isList(raw string) bool {
	var list []json.RawMessage
	return json.Unmarshal([]byte(raw), &list) == nil
}
