package origin

import (
	"slices"
	"testing"
)

func TestClosureParents(t *testing.T) {
	cases := map[string][]string{
		"pkg.f.func1.2":          {"pkg.f.func1", "pkg.f"},
		"pkg.(*T).m.gowrap1":     {"pkg.(*T).m"},
		"pkg.f":                  nil,
		"pkg.(*T).m":             nil,
		"example.com/a.b.func3":  {"example.com/a.b"},
		"pkg.Test.func1.1.2":     {"pkg.Test.func1.1", "pkg.Test.func1", "pkg.Test"},
		"pkg.notAClosure.funcs1": nil,
	}
	for fn, want := range cases {
		if got := closureParents(fn); !slices.Equal(got, want) {
			t.Errorf("closureParents(%q) = %q, want %q", fn, got, want)
		}
	}
}

func TestRunsTellOverlap(t *testing.T) {
	var rs Runs
	a := rs.Begin()
	if !a.Alone() {
		t.Fatal("a single run is not alone")
	}
	b := rs.Begin()
	b.End()
	if a.Alone() || b.Alone() {
		t.Error("overlapping runs say they are alone")
	}
	a.End()
	if c := rs.Begin(); !c.Alone() {
		t.Error("a run after the others ended is not alone")
	}
}
