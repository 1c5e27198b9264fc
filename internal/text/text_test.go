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

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 96: "96 B", -96: "-96 B", 1536: "1.5 KiB", 2048: "2 KiB", 3 << 20: "3 MiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
