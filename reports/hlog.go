package reports

import (
	"fmt"
	"io"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HlogTag is the tag of a group's latency in an interval log: the group's
// name (corrected latency: the name + HlogCorrectedSuffix). HdrHistogram's
// tools (HistogramLogAnalyzer, HistogramLogProcessor's -tag) select by it.
const HlogCorrectedSuffix = ".corrected"

// WriteHlog writes the report's windows as an HdrHistogram interval log
// (format 1.3, as HistogramLogWriter writes it and HistogramLogAnalyzer,
// jHiccup and YCSB read it): one interval histogram per window and group,
// lossless, tagged with the group's name (the corrected latency with the
// name + ".corrected"), stamped with the window's real bounds. Values are
// in nanoseconds, the unit those tools assume (the log's max column is in
// milliseconds by their default ratio); the report's microsecond
// histograms are carried over bucket for bucket. Windows without latency
// are left out.
func (r *Report) WriteHlog(w io.Writer) error {
	lw := hdrhistogram.NewHistogramLogWriter(w)
	startMs := r.Start.UnixMilli()
	for _, err := range []error{
		lw.OutputLogFormatVersion(),
		lw.OutputComment(fmt.Sprintf("streambench %s, scenario %s, seed %d: latency per window and group, in nanoseconds",
			r.Environment.Streambench, r.Scenario.Name, r.Seed)),
		lw.OutputStartTime(startMs),
		lw.OutputBaseTime(startMs),
		lw.OutputLegend(),
	} {
		if err != nil {
			return fmt.Errorf("write interval log: %w", err)
		}
	}
	lw.SetBaseTime(startMs)
	for _, win := range r.Windows {
		for _, part := range []struct {
			h   *Histogram
			tag string
		}{{win.Latency, win.Group}, {win.LatencyCorrected, win.Group + HlogCorrectedSuffix}} {
			if part.h == nil || part.h.Count == 0 {
				continue
			}
			us, err := part.h.Decode()
			if err != nil {
				return fmt.Errorf("write interval log: window %s at %.1fs: %w", win.Group, win.Offset, err)
			}
			h := nanos(us)
			h.SetStartTimeMs(startMs + int64(win.Start*1e3))
			h.SetEndTimeMs(startMs + int64(win.Offset*1e3))
			h.SetTag(part.tag)
			if err := lw.OutputIntervalHistogram(h); err != nil {
				return fmt.Errorf("write interval log: %w", err)
			}
		}
	}
	return nil
}

// nanos is the microsecond histogram us in nanoseconds: each bucket's
// count at its lowest value × 1000, in a histogram of the same precision.
func nanos(us *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	ns := hdrhistogram.New(max(us.LowestTrackableValue(), 1)*1000, us.HighestTrackableValue()*1000, int(us.SignificantFigures()))
	for _, b := range us.Distribution() {
		if b.Count > 0 {
			_ = ns.RecordValues(b.From*1000, b.Count) // in range: the same range × 1000
		}
	}
	return ns
}
