package text

import "testing"

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
