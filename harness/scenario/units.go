package scenario

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Size units.
const (
	kb  Size = 1000
	mb  Size = 1000 * kb
	gb  Size = 1000 * mb
	kib Size = 1024
	mib Size = 1024 * kib
	gib Size = 1024 * mib
)

var sizeUnits = map[string]Size{
	"B": 1, "KB": kb, "MB": mb, "GB": gb, "KiB": kib, "MiB": mib, "GiB": gib,
}

const sizeForms = "want an integer and a unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), " +
	"e.g. 256B, 4KiB, 1MiB; a bare integer is bytes"

var sizeRE = regexp.MustCompile(`^([+-]?[0-9]+)([A-Za-z]*)$`)

// ParseSize parses a byte count: "256B", "4KiB", "1MiB", "1KB" (1000 bytes),
// "1MB" or a bare integer of bytes. Units are case-sensitive.
func ParseSize(s string) (Size, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("bad size %s: %s", quote(s), sizeForms)
	}
	unit := Size(1)
	if m[2] != "" {
		u, ok := sizeUnits[m[2]]
		if !ok {
			return 0, fmt.Errorf("bad size %s: unknown unit %s; %s", quote(s), quote(m[2]), sizeForms)
		}
		unit = u
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
		return 0, fmt.Errorf("bad size %s: out of range", quote(s))
	}
	return Size(n) * unit, nil
}

// String renders the size in the largest unit that divides it exactly,
// preferring binary units: 4096 -> "4KiB", 1000 -> "1KB", 100 -> "100B".
func (s Size) String() string {
	if s != 0 {
		for _, u := range []struct {
			name string
			size Size
		}{{"GiB", gib}, {"MiB", mib}, {"KiB", kib}, {"GB", gb}, {"MB", mb}, {"KB", kb}} {
			if s%u.size == 0 {
				return strconv.FormatInt(int64(s/u.size), 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// rateUnits maps a rate's per-unit suffix to its length.
var rateUnits = map[string]time.Duration{
	"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
}

const rateForms = `want a count per unit: "200/s", "12000/m", "5/ms", "1/h" (units ms, s, m, h); a bare number is per second`

var rateNumberRE = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// ParseRate parses an event rate: "200/s", "12000/m", "5/ms", "1/h" or a bare
// number, which is per second. The result is in events per second.
func ParseRate(s string) (Rate, error) {
	num, unit, hasUnit := strings.Cut(s, "/")
	per := time.Second
	if hasUnit {
		u, ok := rateUnits[unit]
		if !ok {
			return 0, fmt.Errorf("bad rate %s: unknown unit %s; %s", quote(s), quote(unit), rateForms)
		}
		per = u
	}
	if !rateNumberRE.MatchString(num) {
		return 0, fmt.Errorf("bad rate %s: %s", quote(s), rateForms)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("bad rate %s: out of range", quote(s))
	}
	r := f * float64(time.Second/per)
	if per > time.Second {
		r = f / float64(per/time.Second)
	}
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return 0, fmt.Errorf("bad rate %s: out of range", quote(s))
	}
	return Rate(r), nil
}

// String renders the rate per second when that is a whole number or a short
// decimal ("200/s", "2.5/s"), else per minute or per hour when that is a
// whole number ("1/m", "1/h"), else as the exact decimal per second.
func (r Rate) String() string {
	f := float64(r)
	format := byte('f')
	if math.Abs(f) >= 1e21 {
		format = 'g'
	}
	perSecond := strconv.FormatFloat(f, format, -1, 64)
	if _, frac, ok := strings.Cut(perSecond, "."); !ok || len(frac) <= 3 {
		return perSecond + "/s"
	}
	for _, u := range []struct {
		name string
		per  float64
	}{{"m", 60}, {"h", 3600}} {
		n := f * u.per
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 && n/u.per == f {
			return strconv.FormatFloat(n, 'f', -1, 64) + "/" + u.name
		}
	}
	return perSecond + "/s"
}

const durationForms = "want a Go duration such as 10s, 1m30s or 250ms (units ns, us, ms, s, m, h)"

// parseDuration parses a Go duration string; "0" is accepted without a unit.
func parseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, ierr := strconv.ParseInt(s, 10, 64); ierr == nil {
			return 0, fmt.Errorf("bad duration %s: a number needs a unit (only 0 may go without); %s", quote(s), durationForms)
		}
		return 0, fmt.Errorf("bad duration %s: %s", quote(s), durationForms)
	}
	return Duration(d), nil
}

// decodeNode reads a Go duration string, or the integer 0.
func (d *Duration) decodeNode(dec *decoder, n *yaml.Node, path string) error {
	v, null, err := dec.scalar(n, path, "a duration")
	if err != nil || null {
		*d = 0
		return err
	}
	if tag := n.ShortTag(); tag != strTag && tag != intTag {
		return dec.errorf(n, path, "expected a duration, got %s; %s", describe(n), durationForms)
	}
	p, err := parseDuration(v)
	if err != nil {
		return dec.errorf(n, path, "%v", err)
	}
	*d = p
	return nil
}

// decodeNode reads a size string or a bare integer of bytes.
func (s *Size) decodeNode(dec *decoder, n *yaml.Node, path string) error {
	v, null, err := dec.scalar(n, path, "a size")
	if err != nil || null {
		*s = 0
		return err
	}
	if tag := n.ShortTag(); tag != strTag && tag != intTag {
		return dec.errorf(n, path, "expected a size, got %s; %s", describe(n), sizeForms)
	}
	p, err := ParseSize(v)
	if err != nil {
		return dec.errorf(n, path, "%v", err)
	}
	*s = p
	return nil
}

// decodeNode reads a rate string or a bare number (per second).
func (r *Rate) decodeNode(dec *decoder, n *yaml.Node, path string) error {
	v, null, err := dec.scalar(n, path, "a rate")
	if err != nil || null {
		*r = 0
		return err
	}
	if tag := n.ShortTag(); tag != strTag && tag != intTag && tag != floatTag {
		return dec.errorf(n, path, "expected a rate, got %s; %s", describe(n), rateForms)
	}
	p, err := ParseRate(v)
	if err != nil {
		return dec.errorf(n, path, "%v", err)
	}
	*r = p
	return nil
}

// Queue is how many due open-loop slots may wait for a free client: a
// count, or QueueUnbounded ("unbounded" in YAML).
type Queue int

// QueueUnbounded lets every due slot wait: none is dropped (wrk2's model).
const QueueUnbounded Queue = -1

const queueForms = `want a count of slots (0: drop a slot no client is free for at its time) or "unbounded"`

// String renders q as it is written in YAML.
func (q Queue) String() string {
	if q == QueueUnbounded {
		return "unbounded"
	}
	return strconv.Itoa(int(q))
}

// decodeNode reads a count or "unbounded".
func (q *Queue) decodeNode(dec *decoder, n *yaml.Node, path string) error {
	v, null, err := dec.scalar(n, path, "a queue bound")
	if err != nil || null {
		*q = 0
		return err
	}
	if n.ShortTag() == strTag && v == "unbounded" {
		*q = QueueUnbounded
		return nil
	}
	i, err := strconv.Atoi(v)
	if n.ShortTag() != intTag || err != nil || i < 0 {
		return dec.errorf(n, path, "expected a queue bound, got %s; %s", describe(n), queueForms)
	}
	*q = Queue(i)
	return nil
}
