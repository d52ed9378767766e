// Package render writes reports and comparisons for people and for CI: the
// text summary, a self-contained HTML page (SVG charts, embedded
// templates), JUnit XML and markdown for a pull-request comment, for one
// report (package reports), a set of runs, or a comparison (package
// reports/compare). It only reads what it renders: figures and verdicts
// are computed in those packages.
package render
