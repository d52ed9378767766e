package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestParsePlain(t *testing.T) {
	c, err := parsePlain([]byte(`{"calls":45544,"messages":455440,"errors":2,"seconds":2.0017431}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Calls != 45544 || c.Messages != 455440 || c.Errors != 2 || c.Seconds != 2.0017431 {
		t.Fatalf("got %+v", c)
	}
	for _, bad := range []string{``, `{}`, `{"calls":1,"seconds":0}`, `not json`} {
		if _, err := parsePlain([]byte(bad)); err == nil {
			t.Errorf("parsePlain(%q): no error", bad)
		}
	}
}

const report = `{"schema":1,"elapsed_seconds":3.0,"groups":[{"name":"w","rpc":"Math/Sum",
 "streams":{"opened":101,"ended":100,"failed":1},"messages":{"sent":1000,"received":99},
 "ends":{"complete":99,"unavailable":1}}]}`

func TestParseReport(t *testing.T) {
	c, err := parseReport([]byte(report), false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Calls != 99 || c.Messages != 99 || c.Errors != 1 || c.Seconds != 3 {
		t.Fatalf("received: got %+v", c)
	}
	c, err = parseReport([]byte(report), true)
	if err != nil || c.Messages != 1000 {
		t.Fatalf("sent: got %+v, %v", c, err)
	}
	for _, bad := range []string{`{}`, `{"elapsed_seconds":1,"groups":[]}`, `[`} {
		if _, err := parseReport([]byte(bad), false); err == nil {
			t.Errorf("parseReport(%q): no error", bad)
		}
	}
}

// Shaped like ghz v0.121.0's --format json output (trimmed).
const ghzSubscribe = `{"date":"2026-11-23T19:13:07Z","endReason":"timeout","count":12896,"total":2000083383,
 "average":2365652,"rps":6447.7,
 "errorDistribution":{"rpc error: code = Canceled desc = context canceled":12878,
   "rpc error: code = Canceled desc = grpc: the client connection is closing":18},
 "statusCodeDistribution":{"Canceled":12896}}`

const ghzPow = `{"count":28662,"total":2000766667,
 "errorDistribution":{"rpc error: code = Canceled desc = grpc: the client connection is closing":39},
 "statusCodeDistribution":{"Canceled":39,"OK":28623}}`

func TestParseGhz(t *testing.T) {
	c, err := parseGhz([]byte(ghzPow), 10, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Calls != 28623 || c.Messages != 286230 || c.Errors != 39 || math.Abs(c.Seconds-2.000766667) > 1e-9 {
		t.Fatalf("Pow: got %+v", c)
	}
	c, err = parseGhz([]byte(ghzSubscribe), 10, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Calls != 12878 || c.Messages != 128780 || c.Errors != 18 {
		t.Fatalf("Subscribe: got %+v", c)
	}
	// Without cancelOK a cancelled call is an error.
	if c, _ := parseGhz([]byte(ghzSubscribe), 10, false); c.Calls != 0 || c.Errors != 12896 {
		t.Fatalf("Subscribe without cancelOK: got %+v", c)
	}
	if _, err := parseGhz([]byte(`{"total":1}`), 1, false); err == nil {
		t.Error("no count: no error")
	}
}

func TestScenarioYAML(t *testing.T) {
	y := scenarioYAML(workload{RPC: "Pow", Messages: 1000, Concurrency: 50}, 3e9)
	for _, want := range []string{"rpc: Math/Pow", "clients: 50", "messages: 1000", "base: 1", "duration: 3s", "- eof: clean", "- correct"} {
		if !strings.Contains(y, want) {
			t.Errorf("scenario lacks %q:\n%s", want, y)
		}
	}
	if y := scenarioYAML(workload{RPC: "Subscribe", Messages: 10, Concurrency: 1}, 3e9); strings.Contains(y, "messages:") {
		t.Errorf("Subscribe scenario sets messages:\n%s", y)
	}
}

func TestPairedAndMedian(t *testing.T) {
	sb := []measurement{{Rep: 1, Seconds: 1, CallsPS: 10, MsgsPS: 100, CPUPerMsg: 2}, {Rep: 2, Seconds: 1, CallsPS: 30, MsgsPS: 300, CPUPerMsg: 2}}
	pl := []measurement{{Rep: 1, Seconds: 1, CallsPS: 10, MsgsPS: 100, CPUPerMsg: 1}, {Rep: 2, Seconds: 1, CallsPS: 10, MsgsPS: 100, CPUPerMsg: 4}}
	r := paired(sb, pl)
	if r.CallsPS != 2 || r.MsgsPS != 2 || r.CPUPerMsg != 1.25 {
		t.Fatalf("got %+v", r)
	}
	if b, err := json.Marshal(ratio{CallsPS: median(nil), MsgsPS: 2}); err != nil || string(b) != `{"calls_per_s":null,"messages_per_s":2,"client_cpu_per_message":0}` {
		t.Fatalf("NaN to JSON: %s, %v", b, err)
	}
	if !math.IsNaN(float64(median(nil))) || median([]float64{3, 1, 2}) != 2 {
		t.Fatal("median")
	}
}
