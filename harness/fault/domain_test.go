package fault

import (
	"testing"
)

// TestEveryKindDeclaresDomains: every setting of every kind declares a
// domain, and a fault at each domain's min, max and typical value (the
// other settings at their typical or lowest values) passes the kind's own
// check — except where the declared bound is another setting's, which the
// check may tighten. So explore, which draws within the domains, draws
// faults that validation accepts.
func TestEveryKindDeclaresDomains(t *testing.T) {
	for _, k := range Kinds {
		settings := k.SettingsOf()
		if len(settings) != len(k.allowed) {
			t.Errorf("%s: %d settings with domains, %d allowed", k.Name, len(settings), len(k.allowed))
		}
		base := map[string]string{}
		for _, s := range settings {
			if s.Domain.Link != "" || s.Domain.Unit == NameUnit {
				continue // applies on one link only (its rule is link's); a name the target gives
			}
			base[s.Name] = pick(s.Domain, base, "typical")
		}
		if err := k.Check(base); err != nil {
			t.Errorf("%s with typical settings %v: %v", k.Name, base, err)
		}
		for _, s := range settings {
			if s.Domain.Link != "" || s.Domain.Unit == NameUnit {
				continue
			}
			for _, at := range []string{"min", "max"} {
				vals := map[string]string{}
				for n, v := range base {
					vals[n] = v
				}
				vals[s.Name] = pick(s.Domain, base, at)
				if s.Domain.Without != "" && vals[s.Name] != s.Domain.Values[0] {
					delete(vals, s.Domain.Without)
				}
				if err := k.Check(vals); err != nil && s.Domain.MaxOf == "" {
					t.Errorf("%s with %s at its %s (%v): %v", k.Name, s.Name, at, vals, err)
				}
			}
		}
	}
}

// pick is the domain's value at min, max or typical.
func pick(d Domain, others map[string]string, at string) string {
	if d.Unit == Enum {
		if at == "max" {
			return d.Values[len(d.Values)-1]
		}
		return d.Values[0]
	}
	switch at {
	case "max":
		if d.MaxOf != "" {
			return "" // bounded by another setting: left to the test above
		}
		return d.Format(d.Max)
	case "typical":
		if d.HasTypical {
			return d.Format(d.Typical)
		}
	}
	return d.Format(d.Min)
}

func TestParseDomain(t *testing.T) {
	k, _ := Lookup("latency")
	for _, s := range k.SettingsOf() {
		switch s.Name {
		case "latency":
			if s.Domain.Unit != DurationUnit || s.Domain.Min != 1e6 || s.Domain.Max != 1e9 || !s.Domain.HasTypical {
				t.Errorf("latency domain %+v", s.Domain)
			}
			if got := s.Domain.String(); got != "1ms..1s, typical 100ms" {
				t.Errorf("latency domain text %q", got)
			}
		case "jitter":
			if s.Domain.MaxOf != "latency" {
				t.Errorf("jitter domain %+v, want bounded by latency", s.Domain)
			}
		case "direction":
			if len(s.Domain.Values) != 3 {
				t.Errorf("direction domain %+v", s.Domain)
			}
		case "toxicity":
			if s.Domain.Link != "toxiproxy" || s.Domain.Max != 1 {
				t.Errorf("toxicity domain %+v", s.Domain)
			}
		}
	}
	for _, tc := range []struct{ tag, want string }{{"", "no domain tag"}, {"5", "want MIN..MAX"}, {"2s..1s", "max below min"}, {"1s..2", "missing unit"}} {
		if _, err := parseDomain(durationType, tc.tag); err == nil {
			t.Errorf("parseDomain(%q): no error, want %s", tc.tag, tc.want)
		}
	}
}
