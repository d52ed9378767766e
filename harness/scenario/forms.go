package scenario

import (
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// linkSettings decodes the settings of link's mapping form, by link kind:
//
//	link: {toxiproxy: {address: 127.0.0.1:8474}}
//
// No kind takes settings yet. Supporting one is an entry here (decoding n
// into new fields of l, e.g. with d.value(n, path, reflect.ValueOf(&l.Toxiproxy).Elem()))
// plus the kind in LinkKinds.
var linkSettings = map[string]func(d *decoder, n *yaml.Node, path string, l *Link) error{
	LinkToxiproxy: func(d *decoder, n *yaml.Node, path string, l *Link) error {
		l.Toxiproxy = &Toxiproxy{}
		return d.value(n, path, reflect.ValueOf(l.Toxiproxy).Elem())
	},
}

// decodeNode reads a link: a kind ("tcp"), or a one-key mapping from a kind to
// its settings.
func (l *Link) decodeNode(d *decoder, n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == nullTag {
			*l = Link{}
			return nil
		}
		if !slices.Contains(LinkKinds, n.Value) || n.ShortTag() != strTag {
			return d.errorf(n, path, "%s", UnknownChoice("link", n.Value, LinkKinds))
		}
		*l = Link{Kind: n.Value}
		return nil
	case yaml.MappingNode:
		return l.decodeMapping(d, n, path)
	}
	return d.errorf(n, path, "expected a link kind (%s), got %s", OneOf(LinkKinds), describe(n))
}

// decodeMapping reads link's mapping form, {kind: settings}.
func (l *Link) decodeMapping(d *decoder, n *yaml.Node, path string) error {
	if len(n.Content) != 2 {
		return d.errorf(n, path, "the mapping form of link has exactly one key, the link kind; got %d keys", len(n.Content)/2)
	}
	k, v := n.Content[0], n.Content[1]
	kind, err := d.key(k, path)
	if err != nil {
		return err
	}
	kpath := joinPath(path, kind)
	decode, ok := linkSettings[kind]
	if !ok {
		if slices.Contains(LinkKinds, kind) {
			return d.errorf(k, kpath, "link %s takes no settings; write link: %s", kind, kind)
		}
		return d.errorf(k, kpath, "%s", UnknownChoice("link", kind, LinkKinds))
	}
	if err := d.plain(v, kpath); err != nil {
		return err
	}
	d.pos[kpath] = posOf(v)
	*l = Link{Kind: kind}
	return decode(d, v, kpath, l)
}

const assertionForms = "write an expression (pow.latency.p99 < 20ms) or a one-key mapping (eof: clean)"

// decodeNode reads one entry of the assert list: an expression, or a mapping
// with exactly one key whose value is a scalar. Neither is interpreted here.
func (a *Assertion) decodeNode(d *decoder, n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == nullTag || strings.TrimSpace(n.Value) == "" {
			return d.errorf(n, path, "empty assertion; %s", assertionForms)
		}
		*a = Assertion{Expr: n.Value, Pos: posOf(n)}
		return nil
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return d.errorf(n, path, "an assertion mapping has exactly one key, got %d; put each check in its own list item (- eof: clean)", len(n.Content)/2)
		}
		k, v := n.Content[0], n.Content[1]
		key, err := d.key(k, path)
		if err != nil {
			return err
		}
		if err := d.plain(v, path); err != nil {
			return err
		}
		if v.Kind == yaml.MappingNode {
			args := map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				ak, av := v.Content[i], v.Content[i+1]
				name, err := d.key(ak, path)
				if err != nil {
					return err
				}
				if err := d.plain(av, path); err != nil {
					return err
				}
				if av.Kind != yaml.ScalarNode {
					return d.errorf(av, path, "setting %s of %s must be a single value, got %s", quote(name), quote(key), describe(av))
				}
				if _, dup := args[name]; dup {
					return d.errorf(ak, path, "duplicate setting %s", quote(name))
				}
				args[name] = av.Value
			}
			if len(args) == 0 {
				args = nil // `leaks: {}` means what `leaks:` means
			}
			*a = Assertion{Key: key, Args: args, Pos: posOf(n)}
			return nil
		}
		if v.Kind != yaml.ScalarNode {
			return d.errorf(v, path, "the value of %s must be a single word, a number or a mapping of settings, got %s", quote(key), describe(v))
		}
		value := v.Value
		if v.ShortTag() == nullTag {
			value = ""
		}
		*a = Assertion{Key: key, Value: value, Pos: posOf(n)}
		return nil
	}
	return d.errorf(n, path, "expected an assertion, got %s; %s", describe(n), assertionForms)
}
