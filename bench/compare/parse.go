package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// counts is what one client run did, read from its own output.
type counts struct {
	Calls    float64 // streams that ended as the protocol says they end
	Messages float64 // their messages (received; sent for Sum)
	Errors   float64 // streams that failed
	Seconds  float64 // the client's own measurement window
}

// parsePlain reads bench/plain's JSON line.
func parsePlain(b []byte) (counts, error) {
	var r struct {
		Calls    *float64 `json:"calls"`
		Messages float64  `json:"messages"`
		Errors   float64  `json:"errors"`
		Seconds  float64  `json:"seconds"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return counts{}, fmt.Errorf("plain output: %w", err)
	}
	if r.Calls == nil || r.Seconds <= 0 {
		return counts{}, fmt.Errorf("plain output: no calls or seconds in %q", b)
	}
	return counts{Calls: *r.Calls, Messages: r.Messages, Errors: r.Errors, Seconds: r.Seconds}, nil
}

// parseReport reads the one group of a streambench report.json. Calls are
// the streams that ended complete; messages are the group's received
// messages, or its sent ones when sent is true (Sum).
func parseReport(b []byte, sent bool) (counts, error) {
	var r struct {
		Elapsed *float64 `json:"elapsed_seconds"`
		Groups  []struct {
			Streams struct {
				Opened float64 `json:"opened"`
				Failed float64 `json:"failed"`
			} `json:"streams"`
			Messages struct {
				Sent     float64 `json:"sent"`
				Received float64 `json:"received"`
			} `json:"messages"`
			Ends map[string]float64 `json:"ends"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return counts{}, fmt.Errorf("report.json: %w", err)
	}
	if r.Elapsed == nil || *r.Elapsed <= 0 || len(r.Groups) != 1 {
		return counts{}, fmt.Errorf("report.json: want elapsed_seconds and exactly one group")
	}
	g := r.Groups[0]
	c := counts{Calls: g.Ends["complete"], Messages: g.Messages.Received, Errors: g.Streams.Failed, Seconds: *r.Elapsed}
	if sent {
		c.Messages = g.Messages.Sent
	}
	return c, nil
}

// parseGhz reads ghz's --format json report. ghz counts calls, not
// messages: a call that ended OK is counted with perCall messages. When
// cancelOK is set (Subscribe, which ghz ends itself after
// --stream-call-count messages by cancelling the call), calls that ended
// with "context canceled" count as complete too; calls cut by the end of
// the run ("the client connection is closing") never do. Seconds is ghz's
// total, which it reports in nanoseconds.
func parseGhz(b []byte, perCall float64, cancelOK bool) (counts, error) {
	var r struct {
		Count  *float64           `json:"count"`
		Total  float64            `json:"total"`
		Status map[string]float64 `json:"statusCodeDistribution"`
		Errors map[string]float64 `json:"errorDistribution"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return counts{}, fmt.Errorf("ghz report: %w", err)
	}
	if r.Count == nil || r.Total <= 0 {
		return counts{}, fmt.Errorf("ghz report: no count or total")
	}
	c := counts{Calls: r.Status["OK"], Seconds: r.Total / 1e9}
	for msg, n := range r.Errors {
		if cancelOK && strings.HasSuffix(msg, "desc = context canceled") {
			c.Calls += n
		} else {
			c.Errors += n
		}
	}
	c.Messages = c.Calls * perCall
	return c, nil
}
