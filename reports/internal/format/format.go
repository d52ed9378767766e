// Package format writes the figures of a report the way every output of
// streambench writes them, so that the statistics (whose verdicts quote
// figures) and the renderers agree to the character.
package format

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MS formats v milliseconds for people: "-" when count (the values behind
// v) is zero, seconds with 2 decimals from 1000 ms, 1 decimal from 10 ms,
// 3 decimals below.
func MS(v float64, count int64) string {
	if count == 0 {
		return "-"
	}
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v/1000, 'f', 2, 64) + "s"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 3, 64) + "ms"
}

// TrimFloat formats v with at most 3 decimals and no trailing zeros.
func TrimFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Digits writes v with a comma between each group of three digits.
func Digits(v uint64) string {
	s := fmt.Sprint(v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Rate formats v per second: whole numbers (digits grouped) from 100,
// 1 decimal from 1, 3 decimals below.
func Rate(v float64) string {
	switch {
	case v >= 100:
		return Digits(uint64(math.Round(v))) + "/s"
	case v >= 1:
		return TrimFloat(math.Round(v*10)/10) + "/s"
	}
	return TrimFloat(math.Round(v*1000)/1000) + "/s"
}

// MSFromUS converts the histograms' microseconds to milliseconds.
func MSFromUS(v float64) float64 { return v / 1000 }
