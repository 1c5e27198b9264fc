// Package text holds the few wording helpers every report shares, so that
// counts and indentation read the same in every message.
package text

import (
	"strconv"
	"strings"
)

// Plural returns "1 goroutine" or "3 goroutines": the count and the word,
// with "s" added, or the given plural form, when n is not 1.
func Plural[N int | int64](n N, one string, many ...string) string {
	if n == 1 {
		return "1 " + one
	}
	word := one + "s"
	if len(many) > 0 {
		word = many[0]
	}
	return strconv.FormatInt(int64(n), 10) + " " + word
}

// Indent prefixes every non-empty line of s with prefix.
func Indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

// Bytes returns n in B, KiB or MiB: "96 B", "1.5 KiB".
func Bytes(n int64) string {
	switch {
	case n < 1024 && n > -1024:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20 && n > -(1<<20):
		return oneDecimal(float64(n)/1024) + " KiB"
	default:
		return oneDecimal(float64(n)/(1<<20)) + " MiB"
	}
}

func oneDecimal(x float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(x, 'f', 1, 64), ".0")
}
