package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxSource bounds the size of a scenario file. Scenarios are small; the bound
// keeps a wrong path (a log, a binary) from being parsed at length.
const maxSource = 1 << 20

// YAML tags the decoder understands.
const (
	nullTag      = "!!null"
	boolTag      = "!!bool"
	strTag       = "!!str"
	intTag       = "!!int"
	floatTag     = "!!float"
	timestampTag = "!!timestamp"
	mapTag       = "!!map"
	seqTag       = "!!seq"
	mergeTag     = "!!merge"
)

// Load reads the scenario file at path, decodes it strictly, applies
// Defaults and validates it. File and Source are set. Problems with the
// content are returned as Errors (see AsErrors); a file that cannot be read
// gives the wrapped os error.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named file in errors) strictly, applies Defaults and
// validates the result. Every error is an Errors.
func Parse(file string, data []byte) (*Scenario, error) {
	s, err := Decode(file, data)
	if err != nil {
		return nil, err
	}
	s.Defaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Decode decodes data (named file in errors) strictly into a Scenario,
// without defaults or validation. Invalid YAML, more than one document or
// a document that is not a mapping stop it at once; otherwise it goes on
// past a field it cannot decode — an unknown or duplicate key, a value of
// the wrong type, a bad duration, size or rate — and returns every such
// problem (up to maxDecodeErrors), in file order. Anchors, aliases, merge
// keys and custom tags are refused. The error is an Errors of *Error with
// file, line and column.
func Decode(file string, data []byte) (s *Scenario, err error) {
	defer func() {
		// The YAML parser is third-party code; a panic in it must not take
		// the harness down.
		if r := recover(); r != nil {
			s, err = nil, Errors{{File: file, Pos: Pos{Line: 1, Column: 1}, Msg: fmt.Sprintf("cannot parse YAML (parser failure: %v)", r)}}
		}
	}()
	root, e := parseYAML(file, data)
	if e != nil {
		return nil, Errors{e}
	}
	s = &Scenario{File: file, Source: string(data), pos: map[string]Pos{}}
	d := &decoder{file: file, pos: s.pos}
	if err := d.root(root, reflect.ValueOf(s).Elem()); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{File: file, Pos: posOf(root), Msg: err.Error()}
		}
		if len(d.errs) < maxDecodeErrors {
			d.errs = append(d.errs, e)
		}
	}
	if len(d.errs) > 0 {
		SortErrors(d.errs)
		return nil, d.errs
	}
	return s, nil
}

// fatalError is a problem decoding cannot go on past: an anchor or an
// alias (what follows may refer to it).
type fatalError struct{ e *Error }

func (f fatalError) Error() string { return f.e.Error() }
func (f fatalError) Unwrap() error { return f.e }

// maxDecodeErrors bounds how many problems one Decode reports.
const maxDecodeErrors = 50

// PosOf returns where the field at path ("groups[0].clients",
// "target.builtin.feed.rate", "assert[2]") stands in the file. For a field the
// file does not set it returns the position of its nearest enclosing field
// that the file sets (ultimately the top-level mapping), so an error about a
// missing field points at the mapping that lacks it. It returns the zero Pos
// for a Scenario built in code.
func (s *Scenario) PosOf(path string) Pos {
	for {
		if p, ok := s.pos[path]; ok {
			return p
		}
		if path == "" {
			return Pos{}
		}
		path = parentPath(path)
	}
}

// Has reports whether the file set the field at path, even to a zero value
// or null. Defaults uses it so that an explicit "graceful_stop: 0" is kept.
func (s *Scenario) Has(path string) bool {
	_, ok := s.pos[path]
	return ok
}

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// joinPath appends key to the field path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends a list index to the field path.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// parseYAML parses data into the node of its only document.
func parseYAML(file string, data []byte) (*yaml.Node, *Error) {
	if len(data) > maxSource {
		return nil, &Error{File: file, Msg: fmt.Sprintf("file is %d bytes; a scenario file may hold at most %d", len(data), maxSource)}
	}
	if e := checkText(file, data); e != nil {
		return nil, e
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Pos: Pos{Line: 1, Column: 1}, Msg: "empty file; " + scenarioShape}
		}
		return nil, yamlError(file, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(file, data, err)
	default:
		return nil, &Error{File: file, Pos: posOf(&next), Msg: "a scenario file holds one YAML document; remove the second one (or its \"---\")"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Error{File: file, Pos: Pos{Line: 1, Column: 1}, Msg: "empty document; " + scenarioShape}
	}
	return doc.Content[0], nil
}

const scenarioShape = "a scenario is a mapping with at least name, duration and groups"

// yamlError converts a YAML syntax error. The parser reports lines only,
// and not always; syntaxPos finds the position.
func yamlError(file string, data []byte, err error) *Error {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
			line = n
		}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{File: file, Pos: syntaxPos(data, line, err.Error()), Msg: "invalid YAML: " + msg}
}

// syntaxPos finds the line and column of a YAML syntax error whose text is
// msg; line is the line the text names (0 when it names none).
//
// yaml.v3 keeps the position in its parser, but its error text carries a
// line only (for the parser's errors, the line where the enclosing
// construct began, counted from 0; none when that is the first line), and
// it exports no error type with the position. So syntaxPos cuts the source
// short and parses what comes before the cut: the parser reads in order and
// stops at its first problem, so every cut past the problem fails with the
// very same text and every cut before it does not. A binary search over the
// cut, from the start of the named line to the end of the file, finds the
// first cut that fails the same way: about log2(size) parses (20 for the
// largest file Decode accepts). That is exact for the scanner's errors (a
// stray ":", a tab, a character that cannot start a token), which stop at
// the offending character; for the parser's it is the first token that
// cannot belong where it stands (a key indented too far, the end of the
// file inside an unclosed "["). A cut can change what the parser sees
// ahead of it (a ":" at the cut reads as a mapping value), so in rare cases
// the position is a little off; when no cut reproduces the text at all,
// the position is the named line's first non-blank character.
func syntaxPos(data []byte, line int, msg string) Pos {
	lines := bytes.SplitAfter(data, []byte("\n"))
	firstNonBlank := func(l int) Pos {
		text := bytes.TrimRight(lines[l-1], "\r\n")
		for i, r := range string(text) {
			if r != ' ' && r != '\t' {
				return Pos{Line: l, Column: utf8.RuneCount(text[:i]) + 1}
			}
		}
		return Pos{Line: l, Column: 1}
	}
	if line > len(lines) {
		return Pos{Line: line}
	}
	from := 0
	for _, l := range lines[:max(line, 1)-1] {
		from += len(l)
	}
	cut := make([]byte, 0, len(data)+1)
	fails := func(end int) bool {
		cut = append(append(cut[:0], data[:end]...), '\n')
		return yamlFailure(cut) == msg
	}
	if !fails(len(data)) {
		return firstNonBlank(max(line, 1))
	}
	// The first end (a rune boundary after from) whose cut fails as the
	// whole file does; the problem is the rune just before it.
	n := len(data) - from
	end := from + sort.Search(n, func(k int) bool {
		e := from + k + 1
		for e < len(data) && !utf8.RuneStart(data[e]) {
			e++
		}
		return fails(e)
	}) + 1
	for end < len(data) && !utf8.RuneStart(data[end]) {
		end++
	}
	at := end - 1
	for at > 0 && !utf8.RuneStart(data[at]) {
		at--
	}
	l := 1 + bytes.Count(data[:at], []byte("\n"))
	start := bytes.LastIndexByte(data[:at], '\n') + 1
	if data[at] == '\n' {
		// The end of a line: the column after its last character.
		return Pos{Line: l, Column: utf8.RuneCount(bytes.TrimRight(data[start:at], "\r")) + 1}
	}
	return Pos{Line: l, Column: utf8.RuneCount(data[start:at]) + 1}
}

// yamlFailure is the text of the first error parsing data's documents
// ("" when they parse).
func yamlFailure(data []byte) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = ""
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return ""
			}
			return err.Error()
		}
	}
}

// checkText refuses what YAML forbids in a stream with a precise position:
// invalid UTF-8 and control characters.
func checkText(file string, data []byte) *Error {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return &Error{File: file, Pos: Pos{Line: line, Column: col}, Msg: "file is not valid UTF-8"}
		case r == '\n':
			line, col = line+1, 1
			i += size
			continue
		case r == '\t' || r == '\r' || r == 0x85:
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffe || r == 0xffff:
			return &Error{File: file, Pos: Pos{Line: line, Column: col}, Msg: fmt.Sprintf("control character %U is not allowed", r)}
		}
		col++
		i += size
	}
	return nil
}

// decoder walks a YAML node tree against the schema structs, by their yaml
// tags, and records the position of every field it sets.
type decoder struct {
	file string
	pos  map[string]Pos
	// errs are the problems of fields decoding went on past.
	errs Errors
}

// keep notes err, a problem of one field, so that decoding goes on with
// the next; it reports false for an error that is not a field's (decoding
// stops with it) or once maxDecodeErrors are kept.
func (d *decoder) keep(err error) bool {
	var e *Error
	var f fatalError
	if !errors.As(err, &e) || errors.As(err, &f) || len(d.errs) >= maxDecodeErrors {
		return false
	}
	d.errs = append(d.errs, e)
	return true
}

// nodeDecoder is implemented by schema types with a YAML form of their own
// (Duration, Size, Rate, Link, Assertion). decodeNode is called for every
// node, null included, after the anchor/alias checks.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string) error
}

// errorf returns an *Error at n for the field at path.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: d.file, Pos: posOf(n), Field: path, Msg: fmt.Sprintf(format, args...)}
}

// root decodes the top-level node into the Scenario v.
func (d *decoder) root(n *yaml.Node, v reflect.Value) error {
	if err := d.plain(n, ""); err != nil {
		return err
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag {
		return d.errorf(n, "", "empty document; %s", scenarioShape)
	}
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, "", "%s; got %s", scenarioShape, describe(n))
	}
	return d.value(n, "", v)
}

// plain refuses anchors, aliases and tags the schema has no use for. Aliases
// are refused outright rather than expanded, so no input can blow up.
func (d *decoder) plain(n *yaml.Node, path string) error {
	fatal := func(format string, args ...any) error {
		return fatalError{&Error{File: d.file, Pos: posOf(n), Field: path, Msg: fmt.Sprintf(format, args...)}}
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return fatal("aliases (*%s) are not supported; write the value out", n.Value)
	case n.Anchor != "":
		return fatal("anchors (&%s) are not supported; write the value out", n.Anchor)
	}
	switch tag := n.ShortTag(); tag {
	case nullTag, boolTag, strTag, intTag, floatTag, timestampTag, mapTag, seqTag:
		return nil
	case mergeTag:
		return d.errorf(n, path, "merge keys (<<) are not supported; write the fields out")
	default:
		return d.errorf(n, path, "tag %s is not supported", quote(tag))
	}
}

// value decodes n into v, the field at path.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) error {
	if err := d.plain(n, path); err != nil {
		return err
	}
	d.pos[path] = posOf(n)
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			return nd.decodeNode(d, n, path)
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag {
		v.SetZero()
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := d.value(n, path, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return d.mapping(n, path, v)
	case reflect.Slice:
		return d.sequence(n, path, v)
	case reflect.Map:
		return d.stringMap(n, path, v)
	case reflect.String:
		s, _, err := d.scalar(n, path, "a string")
		if err != nil {
			return err
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		return d.boolean(n, path, v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return d.integer(n, path, v)
	case reflect.Float32, reflect.Float64:
		return d.float(n, path, v)
	}
	return d.errorf(n, path, "internal error: cannot decode into %s", v.Type())
}

// scalar returns the text of a scalar node, or reports null.
func (d *decoder) scalar(n *yaml.Node, path, what string) (text string, null bool, err error) {
	if n.Kind != yaml.ScalarNode {
		return "", false, d.errorf(n, path, "expected %s, got %s", what, describe(n))
	}
	if n.ShortTag() == nullTag {
		return "", true, nil
	}
	return n.Value, false, nil
}

func (d *decoder) boolean(n *yaml.Node, path string, v reflect.Value) error {
	s, _, err := d.scalar(n, path, "true or false")
	if err != nil {
		return err
	}
	switch {
	case n.ShortTag() == boolTag && strings.EqualFold(s, "true"):
		v.SetBool(true)
	case n.ShortTag() == boolTag && strings.EqualFold(s, "false"):
		v.SetBool(false)
	default:
		return d.errorf(n, path, "expected true or false, got %s", describe(n))
	}
	return nil
}

func (d *decoder) integer(n *yaml.Node, path string, v reflect.Value) error {
	s, _, err := d.scalar(n, path, "an integer")
	if err != nil {
		return err
	}
	if n.ShortTag() != intTag {
		// YAML resolves a run of digits too long for 64 bits as a float.
		if n.ShortTag() == floatTag && n.Style&yaml.TaggedStyle == 0 && digitsRE.MatchString(s) {
			return d.errorf(n, path, "integer %s is out of range (%s)", clip(s), intRange(v))
		}
		return d.errorf(n, path, "expected an integer, got %s", describe(n))
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return d.errorf(n, path, "integer %s is out of range (%s)", clip(s), intRange(v))
		}
		return d.errorf(n, path, "expected an integer, got %s", describe(n))
	}
	switch v.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if i < 0 || v.OverflowUint(uint64(i)) {
			return d.errorf(n, path, "integer %s is out of range (%s)", s, intRange(v))
		}
		v.SetUint(uint64(i))
	default:
		if v.OverflowInt(i) {
			return d.errorf(n, path, "integer %s is out of range (%s)", s, intRange(v))
		}
		v.SetInt(i)
	}
	return nil
}

// digitsRE matches a decimal integer as YAML writes one.
var digitsRE = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)

// intRange says which integers v holds: "0 to 255", "-9223372036854775808
// to 9223372036854775807".
func intRange(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("0 to %d", maxUint(v))
	}
	bits := v.Type().Bits()
	return fmt.Sprintf("%d to %d", int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
}

// maxUint is the largest value an unsigned v holds.
func maxUint(v reflect.Value) uint64 {
	return math.MaxUint64 >> (64 - v.Type().Bits())
}

func (d *decoder) float(n *yaml.Node, path string, v reflect.Value) error {
	s, _, err := d.scalar(n, path, "a number")
	if err != nil {
		return err
	}
	if tag := n.ShortTag(); tag != intTag && tag != floatTag {
		return d.errorf(n, path, "expected a number, got %s", describe(n))
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || v.OverflowFloat(f) {
		return d.errorf(n, path, "expected a finite number, got %s", describe(n))
	}
	v.SetFloat(f)
	return nil
}

// key returns the text of a mapping key.
func (d *decoder) key(k *yaml.Node, path string) (string, error) {
	if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == mergeTag {
		return "", d.errorf(k, path, "merge keys (<<) are not supported; write the fields out")
	}
	if err := d.plain(k, path); err != nil {
		return "", err
	}
	if k.Kind != yaml.ScalarNode {
		return "", d.errorf(k, path, "a key must be a plain word, got %s", describe(k))
	}
	if k.ShortTag() == nullTag || k.Value == "" {
		return "", d.errorf(k, path, "empty key")
	}
	return k.Value, nil
}

// field is a struct field the decoder fills, by its yaml tag.
type field struct {
	key   string
	index int
}

// fieldsOf lists the decodable fields of struct type t, in declaration
// order: exported fields with a yaml tag other than "-".
func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fs = append(fs, field{key: name, index: i})
	}
	return fs
}

// mapping decodes a mapping into the struct v: every key must name a field,
// once.
func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "expected a mapping, got %s", describe(n))
	}
	fs := fieldsOf(v.Type())
	return d.entries(n, path, func(k, val *yaml.Node, key, fpath string) error {
		idx := -1
		for _, f := range fs {
			if f.key == key {
				idx = f.index
				break
			}
		}
		if idx < 0 {
			keys := make([]string, len(fs))
			for j, f := range fs {
				keys[j] = f.key
			}
			msg := "unknown key " + quote(key)
			if s := suggest(key, keys); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return d.errorf(k, fpath, "%s; valid keys: %s", msg, strings.Join(keys, ", "))
		}
		if err := d.value(val, fpath, v.Field(idx)); err != nil {
			return err
		}
		if val.Kind == yaml.ScalarNode && val.Value == "" && val.ShortTag() == nullTag {
			// "key:" with nothing after it: point at the key.
			d.pos[fpath] = posOf(k)
		}
		return nil
	})
}

// entries calls each for every key of the mapping n, in order, refusing a
// key that is not a plain word or that repeats an earlier one.
func (d *decoder) entries(n *yaml.Node, path string, each func(k, val *yaml.Node, key, fpath string) error) error {
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, err := d.key(k, path)
		if err != nil {
			if d.keep(err) {
				continue
			}
			return err
		}
		fpath := joinPath(path, key)
		if first, dup := seen[key]; dup {
			if err := d.errorf(k, fpath, "duplicate key %s (first set at line %d, column %d)", quote(key), first.Line, first.Column); !d.keep(err) {
				return err
			}
			continue
		}
		seen[key] = k
		if err := each(k, val, key, fpath); err != nil && !d.keep(err) {
			return err
		}
	}
	return nil
}

// stringMap decodes a mapping of strings (target.metadata) into the
// map[string]string v: every key once, every value a string scalar (a
// number or boolean is taken as its text, as YAML wrote it). The position
// of each entry is recorded at path.KEY.
func (d *decoder) stringMap(n *yaml.Node, path string, v reflect.Value) error {
	if v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
		return d.errorf(n, path, "internal error: cannot decode into %s", v.Type())
	}
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "expected a mapping of key: value, got %s", describe(n))
	}
	out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	err := d.entries(n, path, func(k, val *yaml.Node, key, fpath string) error {
		if err := d.plain(val, fpath); err != nil {
			return err
		}
		text, null, err := d.scalar(val, fpath, "a string")
		if err != nil {
			return err
		}
		if null {
			return d.errorf(k, fpath, "expected a string, got null; write \"\" for an empty value")
		}
		d.pos[fpath] = posOf(k)
		out.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), reflect.ValueOf(text).Convert(v.Type().Elem()))
		return nil
	})
	if err != nil {
		return err
	}
	v.Set(out)
	return nil
}

// sequence decodes a list into the slice v.
func (d *decoder) sequence(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind != yaml.SequenceNode {
		return d.errorf(n, path, "expected a list, got %s", describe(n))
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		if err := d.value(c, indexPath(path, i), out.Index(i)); err != nil && !d.keep(err) {
			return err
		}
	}
	v.Set(out)
	return nil
}

// posOf is the position of a node.
func posOf(n *yaml.Node) Pos {
	return Pos{Line: n.Line, Column: n.Column}
}

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	if n.Style&yaml.TaggedStyle != 0 {
		return n.ShortTag() + " " + quote(n.Value)
	}
	switch n.ShortTag() {
	case nullTag:
		return "null"
	case strTag:
		return "the string " + quote(n.Value)
	case intTag:
		return "the integer " + clip(n.Value)
	case floatTag:
		return "the number " + clip(n.Value)
	case boolTag:
		return "the boolean " + clip(n.Value)
	case timestampTag:
		return "the timestamp " + clip(n.Value)
	}
	return quote(n.Value)
}
