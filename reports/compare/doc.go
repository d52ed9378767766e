// Package compare holds the statistics that compare runs of one scenario:
// one report against another (within-run confidence intervals and the
// single-run noise floor) and sets of runs against sets (a Mann–Whitney U
// test on each run's value). It reads reports of package reports and
// renders nothing: package render writes a Comparison as text, markdown or
// HTML.
package compare
