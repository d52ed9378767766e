package main

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/streambench/streambench/internal/testenv"
)

// TestXDSADSScenario runs scenarios/xds-ads.yaml against a real xDS
// control plane (bench/xds: go-control-plane's ADS server, built by this
// test from the module cache) as a command target: with the version kept
// in --state every assertion passes; a control plane without --state,
// which starts again at version 1 after the restart, fails
// no_duplicates, naming the group, the versions that went back and the
// count; and without sequence.resend the correct control plane fails
// too, on the version go-control-plane resends on every new stream.
// Without the Go module proxy the server cannot be built and the test
// skips, unless STREAMBENCH_REQUIRE_XDS is set (as .ci/run does).
func TestXDSADSScenario(t *testing.T) {
	testenv.Long(t)
	if testing.Short() {
		t.Skip("builds go-control-plane and runs three 20 s scenarios")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	root := buildServer(ctx, t, "bench/xds/build-server.sh", "xds-server", "STREAMBENCH_REQUIRE_XDS")
	const state = `, --state, "../out/xds-ads-state-{port}"`
	const resend = `, resend: true}`
	wentBack := regexp.MustCompile(`^ads: [1-9][0-9]*; e\.g\. ads: reorder: version_info "([0-9]+)" after "([0-9]+)": went back`)
	bin := buildBinary(t)
	for _, tc := range []struct {
		name, from, to string
		pass           bool
		detail         *regexp.Regexp
	}{
		{"the version kept across the restart", "", "", true, nil},
		{"a restart that begins again at version 1", state, "", false, wentBack},
		{"a new stream's resend judged a duplicate", resend, "}", false,
			regexp.MustCompile(`^ads: [1-9][0-9]*; e\.g\. ads: duplicate: version_info "[0-9]+" again`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, v, stdout, err := runVariant(ctx, t, bin, root, "xds-ads", tc.from, tc.to, "no_duplicates: ads")
			if tc.pass && err != nil {
				t.Fatalf("run: %v\n%s", err, stdout)
			}
			t.Logf("no_duplicates: %s; %s", v.Actual, v.Detail)
			if v.Pass != tc.pass {
				t.Fatalf("no_duplicates: pass %v, want %v: %s: %s\n%s", v.Pass, tc.pass, v.Actual, v.Detail, stdout)
			}
			if tc.detail != nil {
				m := tc.detail.FindStringSubmatch(v.Detail)
				if m == nil {
					t.Errorf("no_duplicates detail does not match %s: %s", tc.detail, v.Detail)
				} else if tc.detail == wentBack {
					to, _ := strconv.Atoi(m[1])
					from, _ := strconv.Atoi(m[2])
					if to >= from {
						t.Errorf("version %s after %s did not go back: %s", m[1], m[2], v.Detail)
					}
				}
			}
			g := rep.Group("ads")
			if g == nil || g.Messages.Received < 2000 || g.Outages.Opened < 100 || rep.TargetProcess == nil || rep.TargetProcess.Restarts != 1 {
				t.Errorf("too little evidence: %+v, target %+v", g, rep.TargetProcess)
			}
			if tc.pass {
				for _, x := range rep.Assertions {
					if !x.Pass {
						t.Errorf("%s failed: %s: %s", x.Name, x.Actual, x.Detail)
					}
				}
			} else if err == nil {
				t.Error("the run exited 0 with no_duplicates failing")
			}
		})
	}
}
