package stack

import "testing"

func TestFuncMatcher(t *testing.T) {
	cases := []struct {
		pattern, fn string
		want        bool
	}{
		{"pkg.fn", "pkg.fn", true},
		{"pkg.fn", "pkg.fn.func1", false},
		{"pkg.fn...", "pkg.fn.func1", true},
		{"pkg.fn...", "pkg.fn", true},
		{"pkg.fn...", "pkg.other", false},
		{"...", "anything", true},
	}
	for _, c := range cases {
		if got := FuncMatcher(c.pattern)(c.fn); got != c.want {
			t.Errorf("FuncMatcher(%q)(%q) = %v, want %v", c.pattern, c.fn, got, c.want)
		}
	}
}
