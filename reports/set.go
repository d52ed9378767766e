package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// SetSchema identifies the set file format; bump it on any incompatible
// change.
const SetSchema = "streambench/set/v1"

// SetFileName is the name `streambench run --count K` gives a set file, in
// the folder that holds the runs (run-1/ … run-K/).
const SetFileName = "set.json"

// Set is K runs of one scenario made one after the other with the same
// seed and settings: what `streambench run --count K` writes next to the
// runs' reports. Comparisons of sets judge each metric from the variation
// between runs.
type Set struct {
	// Schema is always SetSchema.
	Schema string `json:"schema"`
	// Scenario is the scenario's name.
	Scenario string `json:"scenario"`
	// Runs are the member reports in the order they ran.
	Runs []SetRun `json:"runs"`
}

// SetRun is one member of a set.
type SetRun struct {
	// Report is the member's report.json, relative to the set file's
	// folder.
	Report string `json:"report"`
	// Identity is what must match for runs to be compared.
	Identity
	// Start is when the run started; Passed whether its assertions passed.
	Start  time.Time `json:"start"`
	Passed bool      `json:"passed"`
}

// Identity is what makes two runs like for like: the same scenario text,
// seed, duration, client scale, time compression and streambench version.
type Identity struct {
	Scenario string `json:"scenario"`
	// SourceSHA256 is the SHA-256 of the scenario file's text as run
	// (ScenarioEcho.Source), hex encoded.
	SourceSHA256    string  `json:"source_sha256"`
	Seed            int64   `json:"seed"`
	DurationSeconds float64 `json:"duration_seconds"`
	// ClientScale is 1 when the run was not scaled.
	ClientScale float64 `json:"client_scale"`
	// Compress is 1 when the run was not compressed in time.
	Compress    float64 `json:"compress"`
	Streambench string  `json:"streambench"`
}

// IdentityOf returns r's identity.
func IdentityOf(r *Report) Identity {
	sum := sha256.Sum256([]byte(r.Scenario.Source))
	one := func(f float64) float64 {
		if f == 0 {
			return 1
		}
		return f
	}
	return Identity{
		Scenario:        r.Scenario.Name,
		SourceSHA256:    hex.EncodeToString(sum[:]),
		Seed:            r.Seed,
		DurationSeconds: r.Scenario.DurationSeconds,
		ClientScale:     one(r.Scenario.ClientScale),
		Compress:        one(r.Scenario.Compress),
		Streambench:     r.Environment.Streambench,
	}
}

// Differences names each field in which a and b differ, as
// "seed: 1 vs 2"; empty when they are like for like.
func (a Identity) Differences(b Identity) []string {
	var out []string
	add := func(field string, x, y any) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: %v vs %v", field, x, y))
		}
	}
	add("scenario", fmt.Sprintf("%q", a.Scenario), fmt.Sprintf("%q", b.Scenario))
	if a.SourceSHA256 != b.SourceSHA256 {
		out = append(out, fmt.Sprintf("scenario source: sha256 %.12s vs %.12s (the scenario file's text differs)", a.SourceSHA256, b.SourceSHA256))
	}
	add("seed", a.Seed, b.Seed)
	add("duration", fmt.Sprintf("%gs", a.DurationSeconds), fmt.Sprintf("%gs", b.DurationSeconds))
	add("client scale", a.ClientScale, b.ClientScale)
	add("compress", a.Compress, b.Compress)
	add("streambench version", fmt.Sprintf("%q", a.Streambench), fmt.Sprintf("%q", b.Streambench))
	return out
}

// NewSet describes the runs whose reports are reps, written at files;
// each file is recorded relative to dir, the set file's folder.
func NewSet(dir string, files []string, reps []*Report) (*Set, error) {
	if len(files) != len(reps) || len(reps) == 0 {
		return nil, fmt.Errorf("new set: %d files for %d reports", len(files), len(reps))
	}
	s := &Set{Schema: SetSchema, Scenario: reps[0].Scenario.Name}
	for i, r := range reps {
		rel, err := filepath.Rel(dir, files[i])
		if err != nil {
			return nil, fmt.Errorf("new set: %w", err)
		}
		s.Runs = append(s.Runs, SetRun{Report: filepath.ToSlash(rel), Identity: IdentityOf(r), Start: r.Start, Passed: r.Passed})
	}
	return s, nil
}

// WriteJSON writes the set as indented JSON.
func (s *Set) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write set: %w", err)
	}
	return nil
}

// Side is one side of a comparison: a single report, or the reports of a
// set of runs.
type Side struct {
	// Path is what the side was loaded from (a report, a set file or a
	// folder holding one).
	Path string
	// Set is true when the side is a set (even a set of one run).
	Set bool
	// Files and Reports are the member reports, in run order.
	Files   []string
	Reports []*Report
}

// SingleSide is a side of one report read from file.
func SingleSide(file string, r *Report) *Side {
	return &Side{Path: file, Files: []string{file}, Reports: []*Report{r}}
}

// SetSide is a side of several runs' reports, read from files.
func SetSide(path string, files []string, reps []*Report) *Side {
	return &Side{Path: path, Set: true, Files: files, Reports: reps}
}

// LoadSide reads one side of a comparison from path: a report file, a set
// file, or a folder holding set.json (a set) or else report.json (one run).
// Every member report of a set is read and checked against the identity
// the set file recorded for it.
func LoadSide(path string) (*Side, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		for _, name := range []string{SetFileName, "report.json"} {
			p := filepath.Join(path, name)
			if _, err := os.Stat(p); err == nil {
				return LoadSide(p)
			}
		}
		return nil, fmt.Errorf("%s: a folder without %s or report.json", path, SetFileName)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Schema string `json:"schema"`
	}
	_ = json.Unmarshal(raw, &probe) // a malformed file fails below with its own error
	if probe.Schema != SetSchema {
		r, err := ReadJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return SingleSide(path, r), nil
	}
	var s Set
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: read set: %w", path, err)
	}
	if len(s.Runs) == 0 {
		return nil, fmt.Errorf("%s: the set lists no runs", path)
	}
	side := &Side{Path: path, Set: true}
	dir := filepath.Dir(path)
	for i, run := range s.Runs {
		if run.Report == "" {
			return nil, fmt.Errorf("%s: runs[%d]: no report path", path, i)
		}
		file := filepath.Join(dir, filepath.FromSlash(run.Report))
		r, err := Load(file)
		if err != nil {
			return nil, fmt.Errorf("%s: runs[%d]: %w", path, i, err)
		}
		if d := run.Identity.Differences(IdentityOf(r)); len(d) > 0 {
			return nil, fmt.Errorf("%s: runs[%d]: %s is not the run the set recorded (%s)", path, i, file, joinDiffs(d))
		}
		side.Files = append(side.Files, file)
		side.Reports = append(side.Reports, r)
	}
	return side, nil
}

func joinDiffs(d []string) string {
	var b bytes.Buffer
	for i, s := range d {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// Mismatches lists every way the runs of base and head are not like for
// like: runs within one side that differ from that side's first run, and
// head's first run against base's first run. Each entry names the files.
func Mismatches(base, head *Side) []string {
	var out []string
	within := func(name string, s *Side) {
		if len(s.Reports) == 0 {
			return
		}
		first := IdentityOf(s.Reports[0])
		for i := 1; i < len(s.Reports); i++ {
			for _, d := range first.Differences(IdentityOf(s.Reports[i])) {
				out = append(out, fmt.Sprintf("within %s: %s (%s vs %s)", name, d, s.Files[0], s.Files[i]))
			}
		}
	}
	within("base", base)
	within("head", head)
	if len(base.Reports) > 0 && len(head.Reports) > 0 {
		for _, d := range IdentityOf(base.Reports[0]).Differences(IdentityOf(head.Reports[0])) {
			out = append(out, fmt.Sprintf("base vs head: %s (%s vs %s)", d, base.Files[0], head.Files[0]))
		}
	}
	return out
}
