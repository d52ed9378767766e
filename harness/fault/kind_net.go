package fault

import (
	"github.com/streambench/streambench/harness/link"
)

// Network kinds are link's: its table (link.NetKinds) names them, documents
// them and lists their settings, each kind's settings type holds its rules
// and the links implement them. The fault registry adapts each row.

// netKind is the registry entry of a network kind: link owns the kind's
// description, settings and rules; its settings decode into the kind's
// Params.
func netKind(k link.NetKind) Kind {
	return Kind{Name: k.Name, Layer: Network, Doc: k.Doc, Instant: k.Instant, Slows: k.Slows, allowed: k.Settings,
		params: k.Params,
		check: func(p any) error {
			// The kind's rules are link's (Fault.Validate); seed and
			// toxicity pick do not matter to them.
			return k.Fault(p, 1).Validate()
		},
		net: k.Fault}
}

func netKinds() []Kind {
	var out []Kind
	for _, k := range link.NetKinds() {
		out = append(out, netKind(k))
	}
	return out
}
