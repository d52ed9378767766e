package fault

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streambench/streambench/harness/scenario"
)

// StreamParams are the settings of stream kinds.
type StreamParams struct {
	Status      string            `yaml:"status" doc:"gRPC code name, e.g. Unavailable" domain:"Unavailable|Internal|Aborted|ResourceExhausted|DeadlineExceeded|Canceled|Unknown"`
	After       int               `yaml:"after" doc:"messages into the stream" domain:"0..50 ~5"`
	Probability float64           `yaml:"probability" doc:"0..1 of streams (stream_delay: of messages); default 1" domain:"0..1 ~0.3"`
	Delay       scenario.Duration `yaml:"delay" doc:"duration" domain:"1ms..500ms ~50ms"`
	Jitter      scenario.Duration `yaml:"jitter" doc:"duration" domain:"0s..delay"`
	Stall       scenario.Duration `yaml:"stall" doc:"duration" domain:"100ms..5s ~1s"`
}

// StreamHost is a target whose gRPC server runs streambench's stream
// interceptor (Streams.Interceptor), or a proxy in front of it does (see
// StreamProxy), so stream kinds can act on its individual streams: the
// builtin target, and address and command targets without TLS. The engine
// hands it the run's Streams before the target starts.
type StreamHost interface {
	// HostStreams installs s's interceptor on the target's server.
	HostStreams(s *Streams)
}

// StreamProxy is a StreamHost that hosts the stream faults through a
// proxy of streambench's in front of its server (an address or a command
// target, whose server is not streambench's own): the frame relay, or the
// gRPC proxy for a stream kind the relay cannot act out (see
// Streams.Relayable). An extra hop, so the engine hands it the run's
// Streams only when the plan has stream faults, and a run without them
// reaches the server directly.
type StreamProxy interface {
	StreamHost
	// ProxiesStreams names the proxy carrying the run's stream faults
	// once the target started ("frame relay" or "grpc proxy"), "" when
	// none does.
	ProxiesStreams() string
}

func isStreamHost(t any) bool { _, ok := t.(StreamHost); return ok }

// streamKinds act at the gRPC layer of a StreamHost target, on individual
// streams (the stream interceptor in stream.go calls their onMessage).
var streamKinds = []Kind{
	{Name: "stream_abort", Layer: Stream, can: isStreamHost, needs: "a server running streambench's stream interceptor", Doc: "end a probability of streams with status after `after` messages", allowed: []string{"status", "after", "probability"},
		params: func() any { return &StreamParams{Probability: 1} }, check: checkStream("stream_abort"), onMessage: abortStream, relays: true},
	{Name: "stream_delay", Layer: Stream, can: isStreamHost, needs: "a server running streambench's stream interceptor", Slows: true, Doc: "delay a probability of the server's messages by delay ± jitter", allowed: []string{"delay", "jitter", "probability"},
		params: func() any { return &StreamParams{Probability: 1} }, check: checkStream("stream_delay"), onMessage: delayMessage, relays: true},
	{Name: "stream_stall", Layer: Stream, can: isStreamHost, needs: "a server running streambench's stream interceptor", Slows: true, Doc: "stall a probability of streams for stall after `after` messages, then resume", allowed: []string{"stall", "after", "probability"},
		params: func() any { return &StreamParams{Probability: 1} }, check: checkStream("stream_stall"), onMessage: stallStream, relays: true},
}

func abortStream(w *streamState, a *activeStream, n int, _ bool) verdict {
	p := a.params
	if n > p.After && roll(a.salt, w.id, w.stream) < p.Probability && w.once(a, true) {
		return verdict{abort: status.Errorf(a.code, "streambench fault %s", a.occ.Name())}
	}
	return verdict{}
}

func delayMessage(w *streamState, a *activeStream, n int, send bool) verdict {
	p := a.params
	if send && roll(a.salt, w.id, w.stream<<20^uint64(n)) < p.Probability {
		d := p.Delay.D()
		if j := p.Jitter.D(); j > 0 {
			d += time.Duration((2*roll(a.salt+1, w.id, w.stream<<20^uint64(n)) - 1) * float64(j))
		}
		return verdict{delay: max(d, time.Nanosecond)}
	}
	return verdict{}
}

func stallStream(w *streamState, a *activeStream, n int, _ bool) verdict {
	p := a.params
	if n > p.After && roll(a.salt, w.id, w.stream) < p.Probability && w.once(a, false) {
		return verdict{stall: p.Stall.D()}
	}
	return verdict{}
}

func checkStream(kind string) func(any) error {
	return func(p any) error {
		sp := p.(*StreamParams)
		if sp.Probability < 0 || sp.Probability > 1 {
			return fmt.Errorf("probability must be between 0 and 1, got %v", sp.Probability)
		}
		if sp.After < 0 || sp.Delay < 0 || sp.Jitter < 0 || sp.Stall < 0 {
			return fmt.Errorf("after, delay, jitter and stall must not be negative")
		}
		switch kind {
		case "stream_abort":
			if _, err := ParseCode(sp.Status); err != nil {
				return err
			}
			if sp.Delay != 0 || sp.Jitter != 0 || sp.Stall != 0 {
				return fmt.Errorf("stream_abort takes status, after and probability")
			}
		case "stream_delay":
			if sp.Delay <= 0 {
				return fmt.Errorf("delay: must be set and > 0")
			}
			if sp.Status != "" || sp.After != 0 || sp.Stall != 0 {
				return fmt.Errorf("stream_delay takes delay, jitter and probability")
			}
		case "stream_stall":
			if sp.Stall <= 0 {
				return fmt.Errorf("stall: must be set and > 0")
			}
			if sp.Status != "" || sp.Delay != 0 || sp.Jitter != 0 {
				return fmt.Errorf("stream_stall takes stall, after and probability")
			}
		}
		return nil
	}
}

// codeNames maps gRPC code names to codes (OK excluded: a fault ends a
// stream with an error).
var codeNames = func() map[string]codes.Code {
	m := map[string]codes.Code{}
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		m[c.String()] = c
	}
	return m
}()

// ParseCode reads a gRPC status code name other than OK.
func ParseCode(name string) (codes.Code, error) {
	if c, ok := codeNames[name]; ok {
		return c, nil
	}
	names := make([]string, 0, len(codeNames))
	for n := range codeNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("status %q: valid choices: %s", name, strings.Join(names, ", "))
}
