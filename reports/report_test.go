package reports_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/streambench/streambench/reports"
	"github.com/streambench/streambench/reports/internal/reporttest"
)

// TestReadV1: a v1 report reads, its recovery (to the first message) as
// recovery_first, recovery empty, and a warning that says so; an unknown
// schema does not read.
func TestReadV1(t *testing.T) {
	r := reporttest.Fixture(t, 1)
	r.Groups[0].Recovery = reporttest.Hist(t, 50, 20, 1)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	v1 := bytes.Replace(b.Bytes(), []byte(`"`+reports.Schema+`"`), []byte(`"`+reports.SchemaV1+`"`), 1)
	got, err := reports.ReadJSON(bytes.NewReader(v1))
	if err != nil {
		t.Fatal(err)
	}
	g := got.Groups[0]
	if g.RecoveryFirst.Count != 50 || g.Recovery.Count != 0 || got.Schema != reports.Schema {
		t.Errorf("v1 read as: recovery_first %d, recovery %d, schema %s", g.RecoveryFirst.Count, g.Recovery.Count, got.Schema)
	}
	if len(got.Warnings) == 0 || !strings.Contains(got.Warnings[len(got.Warnings)-1], "recovery_first") {
		t.Errorf("warnings %q", got.Warnings)
	}
	same, err := reports.ReadJSON(bytes.NewReader(b.Bytes()))
	if err != nil || same.Groups[0].Recovery.Count != 50 {
		t.Errorf("v2 read: %v", err)
	}
	v0 := bytes.Replace(b.Bytes(), []byte(`"`+reports.Schema+`"`), []byte(`"streambench/report/v0"`), 1)
	if _, err := reports.ReadJSON(bytes.NewReader(v0)); err == nil || !strings.Contains(err.Error(), "v0") {
		t.Errorf("unknown schema: %v", err)
	}
}

// TestLoadRate: a group's rate is its messages received before the stop
// over the time to the stop.
func TestLoadRate(t *testing.T) {
	for _, tc := range []struct {
		elapsed, drain float64
		received, late uint64
		want           float64
		ok             bool
	}{
		{10, 0, 500, 0, 50, true},
		{20, 5, 3000, 0, 200, true},
		{20, 5, 3000, 300, 180, true},
		{20, 5, 10, 50, 0, true}, // more drain than total (a bad report) never wraps around
		{5, 5, 10, 0, 0, false},
	} {
		r := &reports.Report{Elapsed: tc.elapsed, DrainSeconds: tc.drain}
		g := &reports.Group{Messages: reports.MessageCounts{Received: tc.received, DrainReceived: tc.late}}
		if got, ok := r.LoadRate(g); got != tc.want || ok != tc.ok {
			t.Errorf("%+v: LoadRate = %v, %v; want %v, %v", tc, got, ok, tc.want, tc.ok)
		}
	}
}
