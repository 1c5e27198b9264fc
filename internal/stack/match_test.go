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

func TestEnclosing(t *testing.T) {
	cases := map[string]string{
		"pkg.F.func2":                 "pkg.F",
		"pkg.F.gowrap1":               "pkg.F",
		"pkg.F.func1.3":               "pkg.F.func1",
		"pkg.(*T).m.func1":            "pkg.(*T).m",
		"pkg.F":                       "",
		"pkg.(*T).m":                  "",
		"example.com/a.b/pkg.F.func1": "example.com/a.b/pkg.F",
		"pkg.F.funcy":                 "",
		"main.main":                   "",
	}
	for fn, want := range cases {
		if got := Enclosing(fn); got != want {
			t.Errorf("Enclosing(%q) = %q, want %q", fn, got, want)
		}
	}
}
