package reports

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReplayCommand is the command line that runs the scenario again as this
// run did: the same seed, duration, client scale, target (and how it was
// dialled: --insecure or the TLS flags) and planted bug
// (every override the report records). A run compressed in time (a
// library option, harness.WithCompress) cannot be replayed from the
// command line; the command then ends with a note saying so.
func (r *Report) ReplayCommand() string {
	args := []string{"streambench", "run", "--seed", strconv.FormatInt(r.Seed, 10)}
	if d := r.Scenario.DurationSeconds; d > 0 {
		args = append(args, "--duration", time.Duration(d*float64(time.Second)).Round(time.Millisecond).String())
	}
	if s := r.Scenario.ClientScale; s > 0 {
		args = append(args, "--client-scale", strconv.FormatFloat(s, 'g', -1, 64))
	}
	if t := r.Scenario.Target; t != "" {
		args = append(args, "--target", shellQuote(t))
		if c := r.Scenario.TargetTLS; c != nil {
			for _, f := range [][2]string{{"--cacert", c.CA}, {"--cert", c.Cert}, {"--key", c.Key}, {"--cname", c.ServerName}} {
				if f[1] != "" {
					args = append(args, f[0], shellQuote(f[1]))
				}
			}
		} else {
			args = append(args, "--insecure")
		}
	}
	if b := r.Scenario.Faulty; b != "" {
		args = append(args, "--faulty", shellQuote(b))
	}
	file := r.Scenario.File
	if file == "" {
		file = "SCENARIO.yaml"
	}
	args = append(args, shellQuote(file))
	cmd := strings.Join(args, " ")
	if c := r.Scenario.Compress; c > 0 && c != 1 {
		cmd += fmt.Sprintf("  # the run was compressed ×%g in time (harness.WithCompress), which the command line cannot do", c)
	}
	return cmd
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_./:=+,@.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
