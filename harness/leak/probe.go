package leak

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	channelzpb "google.golang.org/grpc/channelz/grpc_channelz_v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/reports"
)

// Probe is the target's own view of what is still running: live
// subscribers, in-flight calls, open sockets. Check polls every probe until
// each reports zero.
type Probe interface {
	Probe(ctx context.Context) (reports.ServerLeaks, error)
}

// ErrUnsupported is wrapped by a probe's error when the target cannot
// answer it at all (a server without the channelz service). Check leaves
// such a probe out instead of failing on it.
var ErrUnsupported = errors.New("probe not supported by the target")

// RegistryProbe reads the reference servers' own bookkeeping: it returns
// the number of Subscribe handlers still running (for the builtin target,
// the Subscribers method of the Longlived server actually registered, which
// is a planted bug's wrapper when one is set). Source "registry".
type RegistryProbe func() int

// Probe implements Probe.
func (f RegistryProbe) Probe(context.Context) (reports.ServerLeaks, error) {
	return reports.ServerLeaks{Source: "registry", Subscribers: f()}, nil
}

// ChannelzProbe asks a gRPC server that registers the channelz service
// (google.golang.org/grpc/channelz/service; `streambench serve` and the
// builtin target with Introspection do) how many calls are in flight and
// how many sockets are open. Source "channelz".
//
// Each Probe call dials a fresh connection, makes its calls and closes it,
// so the probe holds nothing between calls. Its own traffic is subtracted:
// the GetServers call it is making counts as one call in flight (it is
// asked first, so earlier probe calls have finished), and its connection is
// one open socket on the server it dialed. A connection of an earlier probe
// call can stay visible for a moment after it closed; polling absorbs it.
//
// Channelz is per process: every gRPC server of the target's process is
// counted, unless one of them listens on exactly the dialed host:port, in
// which case only those are. A server that was stopped leaves channelz with
// its counters: probe a target while it still serves.
type ChannelzProbe struct {
	// Target is the address to dial, e.g. "127.0.0.1:7070" or any
	// grpc.NewClient target ("passthrough:///..." is added when there is
	// no scheme).
	Target string
	// DialOptions replace the default (insecure transport credentials),
	// e.g. a bufconn dialer.
	DialOptions []grpc.DialOption
}

// Probe implements Probe.
func (p ChannelzProbe) Probe(ctx context.Context) (reports.ServerLeaks, error) {
	out := reports.ServerLeaks{Source: "channelz"}
	target := p.Target
	if !strings.Contains(target, ":///") {
		target = "passthrough:///" + target
	}
	opts := p.DialOptions
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		return out, fmt.Errorf("channelz probe: dial %s: %w", p.Target, err)
	}
	defer cc.Close()
	cz := channelzpb.NewChannelzClient(cc)

	servers, err := getServers(ctx, cz)
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			err = fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
		return out, fmt.Errorf("channelz probe %s: GetServers: %w", p.Target, err)
	}
	addr := target[strings.Index(target, ":///")+len(":///"):]
	servers = matchListen(servers, addr)
	for _, s := range servers {
		d := s.GetData()
		out.InFlightCalls += d.GetCallsStarted() - d.GetCallsSucceeded() - d.GetCallsFailed()
		n, err := countSockets(ctx, cz, s.GetRef().GetServerId())
		if err != nil {
			return out, fmt.Errorf("channelz probe %s: GetServerSockets(%d): %w", p.Target, s.GetRef().GetServerId(), err)
		}
		out.Sockets += n
	}
	// The inspecting GetServers call and the probe's own connection.
	out.InFlightCalls--
	out.Sockets--
	if out.InFlightCalls < 0 || out.Sockets < 0 {
		// The server we talk to was not among those counted: say so rather
		// than report a negative figure.
		return out, fmt.Errorf("channelz probe %s: the probe's own call or socket is missing from the counted servers (calls %d, sockets %d)",
			p.Target, out.InFlightCalls+1, out.Sockets+1)
	}
	return out, nil
}

// getServers pages through GetServers.
func getServers(ctx context.Context, cz channelzpb.ChannelzClient) ([]*channelzpb.Server, error) {
	var all []*channelzpb.Server
	var start int64
	for {
		resp, err := cz.GetServers(ctx, &channelzpb.GetServersRequest{StartServerId: start})
		if err != nil {
			return nil, err
		}
		all = append(all, resp.GetServer()...)
		n := len(resp.GetServer())
		if resp.GetEnd() || n == 0 {
			return all, nil
		}
		start = resp.GetServer()[n-1].GetRef().GetServerId() + 1
	}
}

// countSockets pages through GetServerSockets.
func countSockets(ctx context.Context, cz channelzpb.ChannelzClient, server int64) (int, error) {
	count := 0
	var start int64
	for {
		resp, err := cz.GetServerSockets(ctx, &channelzpb.GetServerSocketsRequest{ServerId: server, StartSocketId: start})
		if err != nil {
			return 0, err
		}
		refs := resp.GetSocketRef()
		count += len(refs)
		if resp.GetEnd() || len(refs) == 0 {
			return count, nil
		}
		start = refs[len(refs)-1].GetSocketId() + 1
	}
}

// matchListen keeps the servers listening on addr when there are any
// (channelz names a listen socket by its address), else all of them.
func matchListen(servers []*channelzpb.Server, addr string) []*channelzpb.Server {
	var match []*channelzpb.Server
	for _, s := range servers {
		for _, ls := range s.GetListenSocket() {
			if ls.GetName() == addr {
				match = append(match, s)
				break
			}
		}
	}
	if len(match) > 0 {
		return match
	}
	return servers
}
