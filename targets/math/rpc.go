package math

import (
	"fmt"
	stdmath "math"

	"github.com/streambench/streambench/harness/driver"
	"github.com/streambench/streambench/harness/rpc"
	"github.com/streambench/streambench/harness/scenario"
)

// DefaultBase is Pow's base when a group sets none.
const DefaultBase = int64(2)

// PowRPC is Math/Pow's catalog entry: server streaming, base^0 ..
// base^(messages-1).
var PowRPC = rpc.Entry{
	Name:     "Math/Pow",
	Short:    "pow",
	Doc:      "server streaming: the server sends base^0 .. base^(messages-1), interval apart",
	Caps:     rpc.Caps{Messages: true, Arrival: true},
	Settings: []string{"base"},
	Defaults: func(g *scenario.Group, _ func(string) bool) {
		if g.Base == nil {
			b := DefaultBase
			g.Base = &b
		}
	},
	Check: func(g scenario.Group, has func(string) bool) (string, string) {
		b := baseOf(g)
		if !powOverflows(b, g.Messages-1) {
			return "", ""
		}
		field := "messages"
		if has("base") {
			field = "base"
		}
		return field, fmt.Sprintf("Pow's last result base^(messages-1) = %d^%d overflows int64; with base %d, messages may be at most %d",
			b, g.Messages-1, b, maxPowMessages(b))
	},
	Configure: func(g scenario.Group, p *driver.Params) { p.Base = baseOf(g) },
	Factory:   NewPowDriver,
}

// SumRPC is Math/Sum's catalog entry: client streaming.
var SumRPC = rpc.Entry{
	Name:    "Math/Sum",
	Short:   "sum",
	Doc:     "client streaming: the client sends messages numbers, interval apart, and the server answers their sum",
	Caps:    rpc.Caps{Messages: true, Arrival: true},
	Factory: NewSumDriver,
}

// SqrtRPC is Math/Sqrt's catalog entry: bidirectional streaming.
var SqrtRPC = rpc.Entry{
	Name:    "Math/Sqrt",
	Short:   "sqrt",
	Doc:     "bidirectional streaming: each of the client's messages numbers is answered with its square root",
	Caps:    rpc.Caps{Messages: true, Arrival: true},
	Factory: NewSqrtDriver,
}

func baseOf(g scenario.Group) int64 {
	if g.Base == nil {
		return DefaultBase
	}
	return *g.Base
}

// absU is |b| as an unsigned number (exact for math.MinInt64).
func absU(b int64) uint64 {
	if b < 0 {
		return uint64(-(b + 1)) + 1
	}
	return uint64(b)
}

// powOverflows reports whether |b|^e exceeds math.MaxInt64.
func powOverflows(b int64, e int) bool {
	a := absU(b)
	if a <= 1 {
		return false
	}
	r := uint64(1)
	for range e {
		if r > stdmath.MaxInt64/a {
			return true
		}
		r *= a
	}
	return false
}

// maxPowMessages is the largest message count whose last Pow result,
// |b|^(messages-1), fits an int64 (|b| >= 2).
func maxPowMessages(b int64) int {
	a := absU(b)
	e := 0
	for r := uint64(1); r <= stdmath.MaxInt64/a; r *= a {
		e++
	}
	return e + 1
}
