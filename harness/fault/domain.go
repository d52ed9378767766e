package fault

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// A kind's settings declare their domain where the kind declares them: a
// `domain` tag on each yaml-tagged field of its settings struct (this
// package's ServerParams and StreamParams, link's settings of each network
// kind). `streambench list`, docs/faults.md and `streambench explore` read
// the same declaration. The tag is one of
//
//	domain:"a|b|c"             an enum: the values a setting may take
//	domain:"MIN..MAX ~TYPICAL" a duration, size or number between MIN and MAX
//	                           (inclusive); TYPICAL is optional
//	domain:"MIN..other"        the upper bound is another setting's value
//	                           (jitter <= latency)
//	domain:"name"              a name the target defines at run time (a
//	                           backend's); explore leaves it to its default
//	domain:"false|true without:other"
//	                           any value but the first excludes setting
//	                           other (hard takes no grace)
//
// followed, optionally, by the one link kind the setting applies on
// (toxicity: "0..1 toxiproxy").

// Unit is the type of a setting's values.
type Unit int

// Units of settings.
const (
	// Enum settings take one of Domain.Values.
	Enum Unit = iota
	// DurationUnit settings are Go durations (nanoseconds in Min/Max).
	DurationUnit
	// SizeUnit settings are byte counts.
	SizeUnit
	// IntUnit settings are whole numbers.
	IntUnit
	// FloatUnit settings are real numbers.
	FloatUnit
	// NameUnit settings name something the target defines when it runs
	// (a backend: b1, or an address); no value can be drawn in advance.
	NameUnit
)

// Domain is the declared range of one setting's values.
type Domain struct {
	// Unit is the type of the values.
	Unit Unit
	// Values are an Enum's values.
	Values []string
	// Min and Max bound a number (durations in nanoseconds, sizes in
	// bytes), inclusive; MaxOf, when set, names the setting whose value is
	// the upper bound instead of Max.
	Min, Max float64
	MaxOf    string
	// Typical is a usual value (0 with HasTypical false: none declared).
	Typical    float64
	HasTypical bool
	// Link, when set, is the one link kind the setting applies on.
	Link string
	// Without, on an Enum, names a setting that any value but the first
	// excludes.
	Without string
}

// Setting is one setting of a kind: its YAML name, what its doc tag says,
// and its declared domain.
type Setting struct {
	Name   string
	Doc    string
	Domain Domain
}

// Format writes v as the setting's YAML value ("150ms", "4KiB", "3", "0.25").
func (d Domain) Format(v float64) string {
	switch d.Unit {
	case DurationUnit:
		return time.Duration(v).String()
	case SizeUnit, IntUnit:
		return strconv.FormatInt(int64(v), 10)
	default:
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
}

// String renders the domain as declared, for `streambench list` and docs.
func (d Domain) String() string {
	switch d.Unit {
	case Enum:
		return strings.Join(d.Values, " | ")
	case NameUnit:
		return "a name the target gives"
	}
	hi := d.Format(d.Max)
	if d.MaxOf != "" {
		hi = d.MaxOf
	}
	s := d.Format(d.Min) + ".." + hi
	if d.HasTypical {
		s += ", typical " + d.Format(d.Typical)
	}
	if d.Link != "" {
		s += ", " + d.Link + " link only"
	}
	return s
}

// SettingsOf returns the kind's settings (those a scenario may write for
// it), in declaration order, with their domains.
func (k Kind) SettingsOf() []Setting {
	t := reflect.TypeOf(k.params()).Elem()
	var out []Setting
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !contains(k.allowed, name) {
			continue
		}
		d, err := parseDomain(f.Type, f.Tag.Get("domain"))
		if err != nil {
			// The tags are this module's code; a test reads every one.
			panic(fmt.Sprintf("fault kind %s: setting %s: %v", k.Name, name, err))
		}
		out = append(out, Setting{Name: name, Doc: f.Tag.Get("doc"), Domain: d})
	}
	return out
}

var (
	durationType = reflect.TypeFor[scenario.Duration]()
	sizeType     = reflect.TypeFor[scenario.Size]()
)

// parseDomain reads a domain tag for a field of type t.
func parseDomain(t reflect.Type, tag string) (Domain, error) {
	words := strings.Fields(tag)
	if len(words) == 0 {
		return Domain{}, fmt.Errorf("no domain tag")
	}
	var d Domain
	switch {
	case words[0] == "name" && t.Kind() == reflect.String:
		if len(words) > 1 {
			return Domain{}, fmt.Errorf("domain %q: unexpected %q", tag, words[1])
		}
		return Domain{Unit: NameUnit}, nil
	case t.Kind() == reflect.Bool:
		d.Unit = Enum
		if words[0] != "false|true" {
			return Domain{}, fmt.Errorf("domain %q: a bool's domain is false|true", tag)
		}
	case t == durationType:
		d.Unit = DurationUnit
	case t == sizeType:
		d.Unit = SizeUnit
	case t.Kind() == reflect.String:
		d.Unit = Enum
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		d.Unit = IntUnit
	case t.Kind() == reflect.Float64:
		d.Unit = FloatUnit
	default:
		return Domain{}, fmt.Errorf("no domain for values of type %v", t)
	}
	rest := words[1:]
	if d.Unit == Enum {
		d.Values = strings.Split(words[0], "|")
	} else {
		lo, hi, ok := strings.Cut(words[0], "..")
		if !ok {
			return Domain{}, fmt.Errorf("domain %q: want MIN..MAX", tag)
		}
		var err error
		if d.Min, err = parseValue(d.Unit, lo); err != nil {
			return Domain{}, err
		}
		if hi != "" && (hi[0] >= 'a' && hi[0] <= 'z') {
			d.MaxOf = hi
		} else if d.Max, err = parseValue(d.Unit, hi); err != nil {
			return Domain{}, err
		} else if d.Max < d.Min {
			return Domain{}, fmt.Errorf("domain %q: max below min", tag)
		}
	}
	for _, w := range rest {
		if other, ok := strings.CutPrefix(w, "without:"); ok && d.Unit == Enum && other != "" {
			d.Without = other
			continue
		}
		if typ, ok := strings.CutPrefix(w, "~"); ok && d.Unit != Enum {
			v, err := parseValue(d.Unit, typ)
			if err != nil {
				return Domain{}, err
			}
			d.Typical, d.HasTypical = v, true
			continue
		}
		if d.Link != "" {
			return Domain{}, fmt.Errorf("domain %q: unexpected %q", tag, w)
		}
		d.Link = w
	}
	return d, nil
}

func parseValue(u Unit, s string) (float64, error) {
	switch u {
	case DurationUnit:
		v, err := time.ParseDuration(s)
		return float64(v), err
	case SizeUnit:
		v, err := scenario.ParseSize(s)
		return float64(v), err
	default:
		return strconv.ParseFloat(s, 64)
	}
}

// Check runs the kind's own rules on settings given as YAML values by name,
// the way a scenario's fault entry gives them (unset ones keep the kind's
// defaults): nil when a fault of this kind with these settings is valid on
// some link and target.
func (k Kind) Check(settings map[string]string) error {
	params := map[string]scenario.Param{}
	for name, v := range settings {
		params[name] = scenario.Param{Value: v}
	}
	p, err := k.decode("", "faults[0]", params)
	if err != nil {
		return err
	}
	return k.check(p)
}
