package scenario

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is one problem with a scenario: where it is, which field, and what is
// wrong. Decoding, Validate and other packages (assert) report user mistakes
// as *Error so the CLI can tell bad input from a failed run.
type Error struct {
	// File is the scenario file ("" when built in code).
	File string
	// Pos is where the offending text starts (zero when unknown).
	Pos Pos
	// Field is the path of the field, e.g. "groups[1].clients" ("" for the
	// file as a whole).
	Field string
	// Msg says what is wrong and, where there is a fixed set, what is valid.
	Msg string
}

// Error renders "file:line:col: field: msg", leaving out the parts that are
// empty or unknown.
func (e *Error) Error() string {
	var b strings.Builder
	loc := e.File
	if e.Pos.Line > 0 {
		if loc != "" {
			loc += ":"
		}
		loc += strconv.Itoa(e.Pos.Line)
		if e.Pos.Column > 0 {
			loc += ":" + strconv.Itoa(e.Pos.Column)
		}
	}
	for _, part := range []string{loc, e.Field, e.Msg} {
		if part == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(part)
	}
	return b.String()
}

// Errors is a list of problems, in file order. Validate collects every
// problem it finds; decoding stops at the first structural one.
type Errors []*Error

// Error renders one problem a line.
func (es Errors) Error() string {
	lines := make([]string, 0, len(es))
	for _, e := range es {
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// AsErrors reports whether err is, or wraps, scenario input errors (Errors or
// a single *Error) and returns them. The CLI uses it to exit with "bad input"
// rather than "harness failure".
func AsErrors(err error) (Errors, bool) {
	var es Errors
	if errors.As(err, &es) && len(es) > 0 {
		return es, true
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return Errors{e}, true
	}
	return nil, false
}

// SortErrors orders errors by position; errors without one keep their
// relative order at the end.
func SortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// OneOf renders the valid choices of a fixed set: "a, b or c".
func OneOf(choices []string) string {
	switch len(choices) {
	case 0:
		return ""
	case 1:
		return choices[0]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

// UnknownChoice builds the message for a value outside a fixed set, with a
// "did you mean" when one choice is close.
func UnknownChoice(what, got string, choices []string) string {
	msg := fmt.Sprintf("unknown %s %s", what, quote(got))
	if s := suggest(got, choices); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + "; valid choices: " + OneOf(choices)
}

// Suggest is the choice closest to got, for a "did you mean": a
// case-insensitive match, a match of the part after the last "/", or the
// nearest choice within edit distance 2; "" when none is close.
func Suggest(got string, choices []string) string { return suggest(got, choices) }

// suggest returns the choice closest to got: a case-insensitive match, a
// match of the part after the last "/" ("pow" for "Math/Pow"), or the
// nearest choice within edit distance 2. It returns "" when none is close.
func suggest(got string, choices []string) string {
	if got == "" || len(got) > 64 {
		return ""
	}
	for _, c := range choices {
		if strings.EqualFold(got, c) {
			return c
		}
	}
	for _, c := range choices {
		if i := strings.LastIndexByte(c, '/'); i >= 0 && strings.EqualFold(got, c[i+1:]) {
			return c
		}
	}
	best, bestD := "", 3
	for _, c := range choices {
		if d := editDistance(got, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// maxQuote is how many runes of user text a message repeats.
const maxQuote = 60

// quote renders user text for a message: quoted, and cut short when long.
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxQuote {
		return strconv.Quote(string([]rune(s)[:maxQuote])) + "..."
	}
	return strconv.Quote(s)
}

// clip cuts user text short for a message, unquoted.
func clip(s string) string {
	if utf8.RuneCountInString(s) > maxQuote {
		return string([]rune(s)[:maxQuote]) + "..."
	}
	return s
}
