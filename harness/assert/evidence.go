package assert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/streambench/streambench/reports"
)

// evidence is the least a group must have measured for an assertion that
// judges it to mean anything: a check or threshold over a group that
// ended no stream or received no message fails with "no data" instead of
// passing on nothing.
type evidence struct {
	messages uint64 // messages received, per judged group
	streams  uint64 // streams ended, per judged group
	outages  uint64 // client outages opened, per judged group (recovered only)
}

// noData is the Actual of a verdict refused for want of evidence.
const noData = "no data"

// Evidence settings, accepted by every check's and threshold's mapping form.
var evidenceSettings = []Setting{
	{Name: "min_messages", Default: "1", Doc: "the least messages each judged group must have received, or the assertion fails with `no data`"},
	{Name: "min_streams", Default: "1", Doc: "the least streams each judged group must have ended (any end, a client's own cancel included), or the assertion fails with `no data`"},
}

// minOutagesSetting is recovered's extra evidence setting.
var minOutagesSetting = Setting{Name: "min_outages", Default: "1", Doc: "the least client outages each judged group must have had, or `recovered` fails with `no data` (0: a run without outages passes)"}

func defaultEvidence() evidence { return evidence{messages: 1, streams: 1} }

// withEvidence returns settings followed by the evidence settings.
func withEvidence(settings ...Setting) []Setting {
	return append(settings, evidenceSettings...)
}

// parseEvidence reads the evidence settings from args into e, and removes
// them from args.
func parseEvidence(e *evidence, args map[string]string) error {
	for k, dst := range map[string]*uint64{"min_messages": &e.messages, "min_streams": &e.streams, "min_outages": &e.outages} {
		v, ok := args[k]
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a whole number >= 0", k, v)
		}
		*dst = n
		delete(args, k)
	}
	return nil
}

// check returns why gs are not evidence enough ("" when they are).
func (e evidence) check(gs []*reports.Group) string {
	var why []string
	if len(gs) == 0 {
		return "no group to judge"
	}
	for _, g := range gs {
		var short []string
		if g.Messages.Received < e.messages {
			short = append(short, fmt.Sprintf("received %d messages (min_messages %d)", g.Messages.Received, e.messages))
		}
		if g.Streams.Ended < e.streams {
			short = append(short, fmt.Sprintf("ended %d streams (min_streams %d)", g.Streams.Ended, e.streams))
		}
		if g.Outages.Opened < e.outages {
			short = append(short, fmt.Sprintf("had %d outages (min_outages %d)", g.Outages.Opened, e.outages))
		}
		if len(short) > 0 {
			why = append(why, g.Name+" "+strings.Join(short, " and "))
		}
	}
	return strings.Join(why, "; ")
}

// refuse fills v as failed for want of evidence when gs lack it, and
// reports whether it did.
func (e evidence) refuse(v *reports.Verdict, gs []*reports.Group) bool {
	why := e.check(gs)
	if why == "" {
		return false
	}
	v.Pass, v.Actual, v.Detail = false, noData, why+": a run that measured nothing proves nothing"
	return true
}

// cloneArgs copies args so that parsing may consume it.
func cloneArgs(args map[string]string) map[string]string {
	out := make(map[string]string, len(args))
	for k, v := range args {
		out[k] = v
	}
	return out
}
