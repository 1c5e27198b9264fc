// Package text holds the few wording helpers every report shares, so that
// counts and indentation read the same in every message.
package text

import (
	"fmt"
	"strconv"
	"strings"
	"time"
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

// maxOthers bounds how many leftovers not counted as the block's a
// message lists.
const maxOthers = 10

// Stilled is what a headline says, in its parentheses, of leftovers
// reported before the settle window ended, since nothing in the process
// could run before its end.
func Stilled(within time.Duration) string {
	return fmt.Sprintf("reported without waiting out the %v settle window: nothing in the process could run before it ended", within)
}

// Leftovers is the failure message of a probe that lists what a block left:
// the headline ("The block left 2 child processes behind"), the settle
// window it outlasted, one entry per leftover (its line by summary, then
// what entry writes under it), then the leftovers seen but not counted as
// the block's, a line each by summary, under a line saying why (at most ten
// of them, and how many more).
func Leftovers[T any](headline string, within time.Duration, stilled bool, left []T, entry func(*strings.Builder, *T),
	othersWhy string, others []T, summary func(*T) string) string {
	var b strings.Builder
	b.WriteString(headline)
	switch {
	case within > 0 && stilled:
		fmt.Fprintf(&b, " (%s)", Stilled(within))
	case within > 0:
		fmt.Fprintf(&b, " (still there after the %v settle window)", within)
	}
	b.WriteString(":\n")
	for i := range left {
		b.WriteString("\n" + summary(&left[i]) + "\n")
		entry(&b, &left[i])
	}
	Others(&b, othersWhy, others, summary)
	return b.String()
}

// Others writes the leftovers seen but not counted as the block's, a line
// each by summary, under a line saying why: at most ten of them, and how
// many more. It writes nothing when there are none.
func Others[T any](b *strings.Builder, why string, others []T, summary func(*T) string) {
	if len(others) == 0 {
		return
	}
	b.WriteString("\n" + why + ":\n")
	for i := range others[:min(len(others), maxOthers)] {
		fmt.Fprintf(b, "    %s\n", summary(&others[i]))
	}
	if n := len(others) - maxOthers; n > 0 {
		fmt.Fprintf(b, "    … and %d more\n", n)
	}
}

// Groups writes the first max of groups, each after a blank line, with
// write. When there are more, it ends with one line after a blank line,
// rest(things, groups), saying what the groups not shown hold: things is
// the sum of their sizes, groups how many they are.
func Groups[G any](b *strings.Builder, groups []G, max int, write func(*strings.Builder, G),
	size func(G) int, rest func(things, groups int) string) {
	for i, g := range groups {
		if i == max {
			things := 0
			for _, g := range groups[i:] {
				things += size(g)
			}
			b.WriteString("\n" + rest(things, len(groups)-i) + "\n")
			return
		}
		b.WriteString("\n")
		write(b, g)
	}
}
