package stack

import "testing"

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
