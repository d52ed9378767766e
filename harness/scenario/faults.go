package scenario

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// faultCommon are the keys every fault entry may have; any other key is one
// of the kind's own settings (Params).
var faultCommon = func() map[string]int {
	m := map[string]int{}
	for _, f := range fieldsOf(reflect.TypeOf(Fault{})) {
		m[f.key] = f.index
	}
	return m
}()

// decodeNode reads one fault entry: the common keys into the struct, every
// other scalar key into Params (the fault registry decodes those strictly).
func (f *Fault) decodeNode(d *decoder, n *yaml.Node, path string) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "expected a fault (a mapping such as {at: 10s, kind: sever}), got %s", describe(n))
	}
	*f = Fault{Pos: posOf(n)}
	v := reflect.ValueOf(f).Elem()
	return d.entries(n, path, func(_, val *yaml.Node, key, fpath string) error {
		if idx, ok := faultCommon[key]; ok {
			return d.value(val, fpath, v.Field(idx))
		}
		if err := d.plain(val, fpath); err != nil {
			return err
		}
		if val.Kind != yaml.ScalarNode {
			return d.errorf(val, fpath, "a fault setting must be a single value, got %s", describe(val))
		}
		if f.Params == nil {
			f.Params = map[string]Param{}
		}
		d.pos[fpath] = posOf(val)
		f.Params[key] = Param{Value: val.Value, Pos: posOf(val), node: val}
		return nil
	})
}

// decodeNode reads a target kind's settings: a mapping of single values.
func (s *Settings) decodeNode(d *decoder, n *yaml.Node, path string) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "expected the target kind's settings (a mapping such as {size: 3}), got %s", describe(n))
	}
	*s = Settings{}
	return d.entries(n, path, func(_, val *yaml.Node, key, fpath string) error {
		if err := d.plain(val, fpath); err != nil {
			return err
		}
		if val.Kind != yaml.ScalarNode {
			return d.errorf(val, fpath, "a target setting must be a single value, got %s", describe(val))
		}
		d.pos[fpath] = posOf(val)
		(*s)[key] = Param{Value: val.Value, Pos: posOf(val), node: val}
		return nil
	})
}

// Names returns the settings' names, sorted.
func (s Settings) Names() []string {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// ParamNames returns the fault's setting names, sorted.
func (f Fault) ParamNames() []string {
	names := make([]string, 0, len(f.Params))
	for k := range f.Params {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// DecodeParams decodes a fault's kind-specific settings strictly into the
// struct pointed to by into (fields by yaml tag, as the scenario itself): an
// unknown setting lists the valid ones, a bad value names its position.
// path is the fault's field path ("faults[2]") for error messages.
func DecodeParams(file, path string, params map[string]Param, into any) error {
	v := reflect.ValueOf(into)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("DecodeParams: into must point to a struct, got %T", into)
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: mapTag}
	for _, name := range sortedKeys(params) {
		p := params[name]
		val := p.node
		if val == nil { // built in code: let YAML resolve the value's type
			val = &yaml.Node{Kind: yaml.ScalarNode, Value: p.Value, Line: p.Pos.Line, Column: p.Pos.Column}
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: strTag, Value: name, Line: val.Line, Column: val.Column}
		m.Content = append(m.Content, key, val)
	}
	d := &decoder{file: file, pos: map[string]Pos{}}
	if err := d.mapping(m, path, v.Elem()); err != nil {
		var e *Error
		if ae, ok := err.(*Error); ok {
			e = ae
		} else {
			e = &Error{File: file, Field: path, Msg: err.Error()}
		}
		d.errs = append(d.errs, e)
	}
	if len(d.errs) == 0 {
		return nil
	}
	for _, e := range d.errs {
		if strings.Contains(e.Msg, "unknown key") {
			e.Msg = strings.Replace(e.Msg, "valid keys:", "settings of this kind: at, for, every, until, kind, scope and", 1)
		}
	}
	SortErrors(d.errs)
	return d.errs
}

func sortedKeys(m map[string]Param) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
