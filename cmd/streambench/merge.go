package main

import (
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/streambench/streambench"
	"github.com/streambench/streambench/harness/scenario"
	"github.com/streambench/streambench/reports"
)

type mergeFlags struct {
	out, summaryMD, artifactsURL string
}

func newMergeCmd(stdout io.Writer) *cobra.Command {
	var f mergeFlags
	cmd := &cobra.Command{
		Use:   "merge SHARD-REPORT.json... --out DIR",
		Short: "Join the reports of a sharded run into one, judge the scenario's assertions on it, and exit as a single run would",
		Example: `  streambench merge out/fanout-shard-*-of-4/report.json --out out/fanout
  streambench merge shards/*/report.json --out merged --summary-md merged/summary.md`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return exitf(ExitBadInput, "merge: name the shards' report.json files")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.out == "" {
				return exitf(ExitBadInput, "merge: --out DIR is required (the merged report.json, report.html and junit.xml go there)")
			}
			var shards []*reports.Report
			for _, path := range args {
				rep, err := loadReport(path)
				if err != nil {
					return err
				}
				shards = append(shards, rep)
			}
			merged, err := reports.Merge(shards, args)
			if err != nil {
				return exitf(ExitBadInput, "%v", err)
			}
			if err := streambench.Judge(merged); err != nil {
				if _, ok := scenario.AsErrors(err); ok {
					return badInput(err)
				}
				return exitf(ExitBadInput, "merge: %v", err)
			}
			return emit(stdout, filepath.Clean(f.out), merged, nil, renderTargets{summaryMD: f.summaryMD, artifactsURL: f.artifactsURL})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "folder for the merged report.json, report.html and junit.xml")
	fl.StringVar(&f.summaryMD, "summary-md", "", "also write a markdown summary (for a pull-request comment) to this file")
	fl.StringVar(&f.artifactsURL, "artifacts-url", "", "link the markdown summary to this URL")
	return cmd
}
