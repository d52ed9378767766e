package link

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// TestNetKindRows: each row's settings type is a struct of documented YAML
// fields that does what the row says: bufconn and tcp fold every kind but
// sever, half_open (both act on the connection itself, in conn.go and
// halfopen.go) and the toxiproxy-only ones, toxiproxy has a toxic for every
// kind but sever and the wrapped-only ones, and Params decodes into what
// Fault reads back.
func TestNetKindRows(t *testing.T) {
	for _, k := range NetKinds() {
		typ := reflect.TypeOf(k.zero)
		if typ.Kind() != reflect.Struct {
			t.Errorf("%s: settings %v is not a struct", k.Name, typ)
			continue
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Tag.Get("yaml") == "" || f.Tag.Get("doc") == "" {
				t.Errorf("%s: setting %s lacks a yaml or doc tag", k.Name, f.Name)
			}
		}
		_, folds := k.zero.(wrapped)
		_, toxic := k.zero.(toxic)
		if want := k.Name != Sever && k.Name != HalfOpen && !k.ToxiproxyOnly; folds != want {
			t.Errorf("%s: folds onto a wrapped connection = %v, want %v", k.Name, folds, want)
		}
		if want := k.Name != Sever && !k.WrappedOnly; toxic != want {
			t.Errorf("%s: has a toxiproxy toxic = %v, want %v", k.Name, toxic, want)
		}
		p := reflect.ValueOf(k.Params()).Elem()
		var names []string
		for i := range p.NumField() {
			name, _, _ := strings.Cut(p.Type().Field(i).Tag.Get("yaml"), ",")
			names = append(names, name)
		}
		slices.Sort(names)
		if want := slices.Sorted(slices.Values(k.Settings)); !slices.Equal(names, want) {
			t.Errorf("%s: Params fields %v, Settings %v", k.Name, names, want)
		}
		// Every field set to something non-zero comes back in the Fault.
		for i := range p.NumField() {
			switch f := p.Field(i); f.Kind() {
			case reflect.String:
				if p.Type().Field(i).Name == "Hold" {
					f.SetString(HoldClient)
					continue
				}
				f.SetString(Downstream)
			case reflect.Float64:
				f.SetFloat(0.5)
			case reflect.Int64:
				f.SetInt(int64(i + 1))
			}
		}
		f := k.Fault(p.Addr().Interface(), 9)
		if f.Kind != k.Name || f.Seed != 9 || reflect.TypeOf(f.Settings) != typ {
			t.Errorf("%s: Fault = %+v", k.Name, f)
		}
		got := reflect.ValueOf(f.Settings)
		for i := range got.NumField() {
			if got.Field(i).Kind() == reflect.String {
				if got.Field(i).String() != p.FieldByName(typ.Field(i).Name).String() {
					t.Errorf("%s: setting %s did not come back from Params", k.Name, typ.Field(i).Name)
				}
				continue
			}
			if got.Field(i).Int() != p.FieldByName(typ.Field(i).Name).Int() {
				t.Errorf("%s: setting %s did not come back from Params", k.Name, typ.Field(i).Name)
			}
		}
		if slices.Contains(k.Settings, "direction") && f.Direction != Downstream ||
			slices.Contains(k.Settings, "toxicity") && f.Toxicity != 0.5 {
			t.Errorf("%s: direction or toxicity did not come back: %+v", k.Name, f)
		}
	}
}

func d(s string) scenario.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return scenario.Duration(v)
}

// TestCheckFor: each kind's rules, the toxiproxy units and the support
// rule, with the messages scenarios show.
func TestCheckFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		link string
		f    Fault
		want string // "" for valid
	}{
		{"sever", KindTCP, Fault{Kind: Sever}, ""},
		{"sever one way", KindTCP, Fault{Kind: Sever, Direction: Upstream}, `direction "upstream": a sever cuts both directions`},
		{"blackhole", KindBufconn, Fault{Kind: Blackhole, Direction: Upstream}, ""},
		{"latency", KindToxiproxy, Fault{Kind: Latency, Settings: LatencySettings{Latency: d("5ms"), Jitter: d("1ms")}}, ""},
		{"latency unset", KindBufconn, Fault{Kind: Latency}, "latency: must be set and > 0, got 0s"},
		{"jitter over latency", KindBufconn, Fault{Kind: Latency, Settings: LatencySettings{Latency: d("1ms"), Jitter: d("2ms")}}, "jitter 2ms: must be in [0, latency]"},
		{"latency in µs on toxiproxy", KindToxiproxy, Fault{Kind: Latency, Settings: LatencySettings{Latency: d("1500us")}}, "latency 1.5ms: toxiproxy counts whole milliseconds"},
		{"latency in µs on tcp", KindTCP, Fault{Kind: Latency, Settings: LatencySettings{Latency: d("1500us")}}, ""},
		{"rate unset", KindTCP, Fault{Kind: Bandwidth}, "rate: must be set and > 0 (bytes per second, e.g. 64KiB), got 0"},
		{"rate in B/s on toxiproxy", KindToxiproxy, Fault{Kind: Bandwidth, Settings: BandwidthSettings{Rate: 1500}}, "rate 1500 B/s: toxiproxy counts whole KB/s"},
		{"slicer variation", KindBufconn, Fault{Kind: Slicer, Settings: SlicerSettings{AverageSize: 10, SizeVariation: 10}}, "slice variation 10: must be in [0, average)"},
		{"slicer delay in ns on toxiproxy", KindToxiproxy, Fault{Kind: Slicer, Settings: SlicerSettings{AverageSize: 10, Delay: 1500}}, "slice delay 1.5µs: toxiproxy counts whole microseconds"},
		{"limit unset", KindBufconn, Fault{Kind: LimitData}, "bytes: must be set and > 0, got 0"},
		{"slow close unset", KindBufconn, Fault{Kind: SlowClose}, "delay: must be set and > 0, got 0s"},
		{"timeout negative", KindToxiproxy, Fault{Kind: Timeout, Settings: TimeoutSettings{Timeout: d("-1s")}}, "timeout -1s: negative"},
		{"reset_peer", KindToxiproxy, Fault{Kind: ResetPeer, Settings: ResetPeerSettings{Timeout: d("10ms")}}, ""},
		{"timeout on bufconn", KindBufconn, Fault{Kind: Timeout}, "link bufconn cannot do timeout; network kinds it can do: bandwidth, blackhole, half_open, latency, limit_data, sever, slicer, slow_close"},
		{"reset_peer on tcp", KindTCP, Fault{Kind: ResetPeer}, "link tcp cannot do reset_peer"},
		{"another kind's settings", KindBufconn, Fault{Kind: Latency, Settings: SlowCloseSettings{Delay: d("1s")}}, "settings link.SlowCloseSettings: not those of latency (link.LatencySettings)"},
		{"unknown kind", KindBufconn, Fault{Kind: "flood"}, `kind "flood": not one of bandwidth, blackhole`},
		{"unknown link", "carrier-pigeon", Fault{Kind: Sever}, `link "carrier-pigeon": not one of bufconn, tcp, toxiproxy`},
		{"toxicity", KindToxiproxy, Fault{Kind: Latency, Toxicity: 2, Settings: LatencySettings{Latency: d("1ms")}}, "toxicity 2: not in [0, 1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckFor(tc.link, tc.f)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckFor(%s, %v) = %v, want nil", tc.link, tc.f, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("CheckFor(%s, %v) = %v, want %q", tc.link, tc.f, err, tc.want)
			}
		})
	}
}

func TestDefaultFor(t *testing.T) {
	if got := DefaultFor(true); got != KindBufconn {
		t.Errorf("DefaultFor(in process) = %s", got)
	}
	if got := DefaultFor(false); got != KindTCP {
		t.Errorf("DefaultFor(another process) = %s", got)
	}
	l, err := New("")
	if err != nil || l.Name() != DefaultFor(true) {
		t.Fatalf(`New("") = %v, %v`, l, err)
	}
	l.Close()
	l, err = Front("", "127.0.0.1:1", "")
	if err != nil || l.Name() != DefaultFor(false) {
		t.Fatalf(`Front("") = %v, %v`, l, err)
	}
	l.Close()
}

// TestKindsOfFollowsCheckFor: the kinds a link lists are those CheckFor
// lets through (it is the one rule).
func TestKindsOfFollowsCheckFor(t *testing.T) {
	for _, l := range LinkKinds {
		for _, k := range NetKinds() {
			_, unsupported := CheckFor(l, Fault{Kind: k.Name}).(*UnsupportedError)
			if listed := slices.Contains(KindsOf(l), k.Name); listed == unsupported {
				t.Errorf("%s: KindsOf lists %s = %v, CheckFor says unsupported = %v", l, k.Name, listed, unsupported)
			}
		}
	}
	if KindsOf("") != nil {
		t.Error(`KindsOf("") is not nil: the default is Default's to decide`)
	}
}
