package text

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Plural(1, "goroutine"), "1 goroutine"},
		{Plural(0, "goroutine"), "0 goroutines"},
		{Plural(int64(3), "entry", "entries"), "3 entries"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if got := Indent("a\n\nb\n", "  "); got != "  a\n\n  b" {
		t.Errorf("Indent = %q", got)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 96: "96 B", -96: "-96 B", 1536: "1.5 KiB", 2048: "2 KiB", 3 << 20: "3 MiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestLeftovers(t *testing.T) {
	others := make([]int, 12)
	thing := func(b *strings.Builder, i *int) { fmt.Fprintf(b, "    details of %d\n", *i) }
	other := func(i *int) string { return "thing " + strconv.Itoa(*i) }
	got := Leftovers("The block left 2 things behind", time.Second, false, []int{0, 1}, thing, "Not the block's", others, other)
	want := "The block left 2 things behind (still there after the 1s settle window):\n\nthing 0\n    details of 0\n\nthing 1\n    details of 1\n\nNot the block's:\n" +
		strings.Repeat("    thing 0\n", 10) + "    … and 2 more\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := Leftovers("The block left 1 thing behind", 0, false, []int{0}, func(*strings.Builder, *int) {}, "", nil, other); got != "The block left 1 thing behind:\n\nthing 0\n" {
		t.Errorf("without a window or others: %q", got)
	}
}

// Leftovers reported once nothing in the process could run say so, not
// that the window passed.
func TestLeftoversStilled(t *testing.T) {
	thing := func(b *strings.Builder, i *int) {}
	other := func(i *int) string { return "thing " + strconv.Itoa(*i) }
	got := Leftovers("The block left 1 thing behind", time.Second, true, []int{0}, thing, "Not the block's", nil, other)
	want := "The block left 1 thing behind (reported without waiting out the 1s settle window: nothing in the process could run before it ended):\n\nthing 0\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
