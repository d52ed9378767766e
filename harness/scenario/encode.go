package scenario

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Marshal renders s as scenario YAML that Parse reads back to the same
// scenario. Fields left at their zero value are omitted unless the file s
// was decoded from set them explicitly ("graceful_stop: 0"), so the output
// of a defaulted scenario shows the effective settings.
func Marshal(s *Scenario) ([]byte, error) {
	e := encoder{s: s}
	n, err := e.value(reflect.ValueOf(s).Elem(), "")
	if err != nil {
		return nil, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	return b.Bytes(), nil
}

// encoder builds the YAML node tree of a scenario.
type encoder struct {
	s *Scenario
}

// scalarNode is a plain scalar; strings are tagged so that "10" or "true"
// stay strings.
func scalarNode(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// value returns the node for v, the field at path.
func (e encoder) value(v reflect.Value, path string) (*yaml.Node, error) {
	switch x := v.Interface().(type) {
	case Duration:
		return scalarNode(strTag, x.String()), nil
	case Size:
		return scalarNode(strTag, x.String()), nil
	case Rate:
		return scalarNode(strTag, x.String()), nil
	case Queue:
		if x == QueueUnbounded {
			return scalarNode(strTag, x.String()), nil
		}
		return scalarNode(intTag, x.String()), nil
	case Link:
		if x.Kind == "" {
			return scalarNode(nullTag, ""), nil
		}
		if x.Toxiproxy != nil {
			settings, err := e.value(reflect.ValueOf(*x.Toxiproxy), joinPath(path, x.Kind))
			if err != nil {
				return nil, err
			}
			return &yaml.Node{Kind: yaml.MappingNode, Tag: mapTag, Content: []*yaml.Node{scalarNode(strTag, x.Kind), settings}}, nil
		}
		return scalarNode(strTag, x.Kind), nil
	case Fault:
		type common Fault // the struct fields, without this case
		m, err := e.fields(reflect.ValueOf(common(x)), path)
		if err != nil {
			return nil, err
		}
		for _, name := range x.ParamNames() {
			p := x.Params[name]
			val := &yaml.Node{Kind: yaml.ScalarNode, Value: p.Value}
			if p.node != nil {
				val.Tag = p.node.ShortTag()
			}
			m.Content = append(m.Content, scalarNode(strTag, name), val)
		}
		return m, nil
	case Settings:
		if len(x) == 0 {
			return scalarNode(nullTag, ""), nil
		}
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: mapTag}
		for _, name := range x.Names() {
			p := x[name]
			val := &yaml.Node{Kind: yaml.ScalarNode, Value: p.Value}
			if p.node != nil {
				val.Tag = p.node.ShortTag()
			}
			m.Content = append(m.Content, scalarNode(strTag, name), val)
		}
		return m, nil
	case Data:
		return x.node()
	case Sequence:
		return x.node(e, path)
	case Assertion:
		if x.Key == "" {
			return scalarNode(strTag, x.Expr), nil
		}
		if len(x.Args) > 0 {
			m := &yaml.Node{Kind: yaml.MappingNode, Tag: mapTag}
			keys := make([]string, 0, len(x.Args))
			for k := range x.Args {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				m.Content = append(m.Content, scalarNode(strTag, k), &yaml.Node{Kind: yaml.ScalarNode, Value: x.Args[k]})
			}
			return &yaml.Node{Kind: yaml.MappingNode, Tag: mapTag, Content: []*yaml.Node{scalarNode(strTag, x.Key), m}}, nil
		}
		val := scalarNode(strTag, x.Value)
		if x.Value == "" {
			val = scalarNode(nullTag, "")
		}
		return &yaml.Node{Kind: yaml.MappingNode, Tag: mapTag, Content: []*yaml.Node{scalarNode(strTag, x.Key), val}}, nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return scalarNode(nullTag, ""), nil
		}
		return e.value(v.Elem(), path)
	case reflect.Struct:
		return e.fields(v, path)
	case reflect.Slice:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: seqTag}
		for i := range v.Len() {
			n, err := e.value(v.Index(i), indexPath(path, i))
			if err != nil {
				return nil, err
			}
			seq.Content = append(seq.Content, n)
		}
		return seq, nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
			break
		}
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: mapTag}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		for _, k := range keys {
			m.Content = append(m.Content, scalarNode(strTag, k), scalarNode(strTag, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())).String()))
		}
		return m, nil
	case reflect.String:
		return scalarNode(strTag, v.String()), nil
	case reflect.Bool:
		return scalarNode(boolTag, strconv.FormatBool(v.Bool())), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalarNode(intTag, strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return scalarNode(intTag, strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		return scalarNode(floatTag, strconv.FormatFloat(v.Float(), 'g', -1, 64)), nil
	}
	return nil, fmt.Errorf("%s: cannot encode %s", path, v.Type())
}

// fields returns the mapping node of struct v's yaml-tagged fields.
func (e encoder) fields(v reflect.Value, path string) (*yaml.Node, error) {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: mapTag}
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		fpath := joinPath(path, f.key)
		if fv.IsZero() && !e.s.Has(fpath) {
			continue
		}
		n, err := e.value(fv, fpath)
		if err != nil {
			return nil, err
		}
		m.Content = append(m.Content, scalarNode(strTag, f.key), n)
	}
	return m, nil
}
