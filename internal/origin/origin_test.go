package origin

import (
	"slices"
	"strings"
	"testing"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
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
	run := func() *probes.Run {
		r, err := probes.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Finish() })
		return r
	}
	var rs Runs
	a := rs.Begin(run())
	if !a.Alone() {
		t.Fatal("a single run is not alone")
	}
	b := rs.Begin(run())
	b.End()
	if a.Alone() || b.Alone() {
		t.Error("overlapping runs say they are alone")
	}
	a.End()
	if c := rs.Begin(run()); !c.Alone() {
		t.Error("a run after the others ended is not alone")
	} else {
		c.End()
	}

	// A run started inside another's block is part of it: neither is
	// overlapped by the other, and both are by a third.
	outer := run()
	o := rs.Begin(outer)
	var inner *probes.Run
	outer.Enter(func() { inner = run() })
	i := rs.Begin(inner)
	if !o.Alone() || !i.Alone() {
		t.Errorf("nested runs say they overlap: outer alone %v, inner alone %v", o.Alone(), i.Alone())
	}
	x := rs.Begin(run())
	if o.Alone() || i.Alone() || x.Alone() {
		t.Error("a third run beside nested ones is not seen")
	}
	x.End()
	i.End()
	o.End()
}

// A leftover's one stack is written as it is; several possible ones each,
// under a line saying why; none, not at all.
func TestWriteSites(t *testing.T) {
	a := []stack.Frame{{Func: "os.Create", File: "f.go", Line: 1}, {Func: "p.a", File: "a.go", Line: 2}}
	b := []stack.Frame{{Func: "os.Create", File: "f.go", Line: 1}, {Func: "p.b", File: "b.go", Line: 3}}
	var one, several strings.Builder
	WriteSite(&one, "created", "the block", true, a)
	WriteSite(&several, "created", "the block", true, b)
	for _, c := range []struct {
		one     []stack.Frame
		several [][]stack.Frame
		want    string
		wrote   bool
	}{
		{a, [][]stack.Frame{b}, one.String(), true},
		{nil, [][]stack.Frame{a, b}, "    created at one of 2 places (why):\n" + one.String() + several.String(), true},
		{nil, nil, "", false},
	} {
		var got strings.Builder
		if wrote := WriteSites(&got, "created", "the block", true, c.one, c.several, "why"); wrote != c.wrote || got.String() != c.want {
			t.Errorf("wrote %v:\n%s\nwant %v:\n%s", wrote, got.String(), c.wrote, c.want)
		}
	}
}
