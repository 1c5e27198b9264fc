package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
)

func TestRewrite(t *testing.T) {
	for _, c := range []struct {
		name, src, want string
	}{{
		name: "test",
		src: `package p

import "testing"

func TestA(t *testing.T) {
	t.Log("a")
}
`,
		want: `package p; import residueaudit "github.com/residue-go/residue/audit"

import "testing"

func TestA(t *testing.T) { residueaudit.Test(t);
	t.Log("a")
}
`,
	}, {
		name: "parameter unnamed, blank, or the test named Test; a name the body uses is not taken",
		src: `package p_test

import tt "testing"

func TestA(*tt.T) {}
func TestB(_ *tt.T) {}
func Test(t *tt.T) { t.Log() }
func TestC(*tt.T) { residueT := 1; _ = residueT }
`,
		want: `package p_test; import residueaudit "github.com/residue-go/residue/audit"

import tt "testing"

func TestA(residueT *tt.T) { residueaudit.Test(residueT);}
func TestB(residueT *tt.T) { residueaudit.Test(residueT);}
func Test(t *tt.T) { residueaudit.Test(t); t.Log() }
func TestC(residueT2 *tt.T) { residueaudit.Test(residueT2); residueT := 1; _ = residueT }
`,
	}, {
		name: "t.Parallel in a function's own body, t its *testing.T parameter (assigned to or not; Go forbids declaring another t there)",
		src: `package p

import "testing"

func TestA(t *testing.T) {
	t.Parallel()
	t.Run("sub", func(t *testing.T) {
		t.Parallel()
		if true { t.Parallel() }
	})
}

func TestB(tb *testing.T) { tb.Parallel(); tb.Log() }

func TestC(t *testing.T) {
	t = sub(t)
	t.Parallel()
}

func TestD(*testing.T) {}

func helper(t *testing.T, n int) {
	t.Parallel()
}

func other(t *parallel) { t.Parallel() }
`,
		want: `package p; import residueaudit "github.com/residue-go/residue/audit"

import "testing"

func TestA(t *testing.T) { residueaudit.Test(t);
	residueaudit.Pausing(t); t.Parallel(); residueaudit.Resumed(t)
	t.Run("sub", func(t *testing.T) {
		residueaudit.Pausing(t); t.Parallel(); residueaudit.Resumed(t)
		if true { t.Parallel() }
	})
}

func TestB(tb *testing.T) { residueaudit.Test(tb); residueaudit.Pausing(tb); tb.Parallel(); residueaudit.Resumed(tb); tb.Log() }

func TestC(t *testing.T) { residueaudit.Test(t);
	t = sub(t)
	residueaudit.Pausing(t); t.Parallel(); residueaudit.Resumed(t)
}

func TestD(residueT *testing.T) { residueaudit.Test(residueT);}

func helper(t *testing.T, n int) {
	residueaudit.Pausing(t); t.Parallel(); residueaudit.Resumed(t)
}

func other(t *parallel) { t.Parallel() }
`,
	}, {
		name: "a helper's t.Parallel alone",
		src: `package p

import "testing"

func helper(t *testing.T) { t.Parallel() }
`,
		want: `package p; import residueaudit "github.com/residue-go/residue/audit"

import "testing"

func helper(t *testing.T) { residueaudit.Pausing(t); t.Parallel(); residueaudit.Resumed(t) }
`,
	}, {
		name: "dot import",
		src: `package p

import . "testing"

func TestÄ(t *T) {}
`,
		want: `package p; import residueaudit "github.com/residue-go/residue/audit"

import . "testing"

func TestÄ(t *T) { residueaudit.Test(t);}
`,
	}, {
		name: "not tests",
		src: `package p

import "testing"

func TestMain(m *testing.M) {}
func Testify(t *testing.T) {}
func TestTwo(t *testing.T, n int) {}
func TestBench(b *testing.B) {}
func (s) TestMethod(t *testing.T) {}
func helper(t *testing.T) {}
`,
	}, {
		name: "Ginkgo suite",
		src: `package p // the suite

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
)

func TestSuite(t *testing.T) {
	RunSpecs(t, "Suite")
}

func TestOther(t *testing.T) {}
`,
		want: `package p; import residueaudit "github.com/residue-go/residue/audit"; import residueginkgoaudit "github.com/residue-go/residue/audit/ginkgoaudit" // the suite

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
)

func TestSuite(t *testing.T) {
	RunSpecs(t, "Suite", residueginkgoaudit.EverySpec())
}

func TestOther(t *testing.T) { residueaudit.Test(t);}
`,
	}, {
		name: "Ginkgo suite with decorators spread and a named import",
		src: `package p

import (
	"testing"

	g "github.com/onsi/ginkgo/v2"
)

func TestSuite(t *testing.T) {
	args := []any{g.Label("x")}
	g.RunSpecs(t, "Suite", args...)
}
`,
		want: `package p; import residueginkgoaudit "github.com/residue-go/residue/audit/ginkgoaudit"

import (
	"testing"

	g "github.com/onsi/ginkgo/v2"
)

func TestSuite(t *testing.T) {
	args := []any{g.Label("x")}
	g.RunSpecs(t, "Suite", append(append([]any(nil), args...), residueginkgoaudit.EverySpec())...)
}
`,
	}} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := rewrite("x_test.go", []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out, c.want)
			}
			if out == nil {
				return
			}
			if strings.Count(string(out), "\n") != strings.Count(c.src, "\n") {
				t.Errorf("the rewrite moved lines")
			}
			if _, err := parser.ParseFile(token.NewFileSet(), "x_test.go", out, 0); err != nil {
				t.Errorf("the rewrite does not parse: %v", err)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs(strings.Fields("-run TestX -race -json -baseline b.json -count=3 -ldflags -X=main.v=1 -v -tags integration ./a ./b/... -args -flag"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(o.goFlags, " ")
	if want := "-run=TestX -race -count=3 -tags=integration"; got != want {
		t.Errorf("go test flags %q, want %q", got, want)
	}
	if !o.json || o.baseline != "b.json" || !o.verbose || !o.count ||
		strings.Join(o.patterns, " ") != "./a ./b/..." || strings.Join(o.testArgs, " ") != "-flag" {
		t.Errorf("parsed %+v", o)
	}
	if got := o.mergedLdflags(""); got != "-X=main.v=1 -w=0 -compressdwarf=false" {
		t.Errorf("ldflags %q", got)
	}
	if got := strings.Join(o.buildFlags(), " "); got != "-race -tags=integration" {
		t.Errorf("build flags %q", got)
	}
	if got := o.ownGcflags(""); len(got) != 1 || got[0] != "-gcflags=all=-dwarf=false" {
		t.Errorf("own gcflags %q", got)
	}
	if got := o.ownGcflags("-gcflags=all=-N"); got != nil {
		t.Errorf("own gcflags beside the user's in GOFLAGS: %q", got)
	}
	if o, err := parseArgs(strings.Fields("-gcflags -l ./a")); err != nil || o.ownGcflags("") != nil {
		t.Errorf("own gcflags beside the user's: %q, %v", o.ownGcflags(""), err)
	}

	// After the packages, flags go test does not know are the test
	// binary's, with a value written apart; go test's own stay its own.
	o, err = parseArgs(strings.Fields("./a -ginkgo.focus round-trips -race -custom=1 -short ./b -args -flag"))
	if err != nil {
		t.Fatal(err)
	}
	a := (&audit{overlay: "o.json"}).testArgs(o)
	if got, want := strings.Join(a[slices.Index(a, "-vet=off")+1:], " "), "-race -short ./a ./b -args -test.v=true -ginkgo.focus round-trips -custom=1 -flag"; got != want {
		t.Errorf("go test arguments %q, want %q", got, want)
	}

	o, err = parseArgs([]string{"-update-baseline"})
	if err != nil || o.baseline != "residue-baseline.json" || len(o.patterns) != 1 || o.patterns[0] != "." {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if got := o.mergedLdflags("-mod=mod -ldflags=-s"); got != "-s -w=0 -compressdwarf=false" {
		t.Errorf("ldflags from GOFLAGS %q", got)
	}
	if got := o.mergedLdflags("-ldflags=-compressdwarf=true"); got != "-compressdwarf=true -w=0" {
		t.Errorf("ldflags with the user's -compressdwarf %q", got)
	}
	if _, err := parseArgs([]string{"-overlay", "x.json"}); err == nil {
		t.Error("-overlay accepted")
	}
}

// TestVetOff: go test's vet is off unless -vet is given, as given.
func TestVetOff(t *testing.T) {
	a := &audit{overlay: "o.json"}
	for flags, want := range map[string]string{
		"./...":          "-vet=off",
		"-vet=all ./...": "-vet=all",
		"-vet off ./...": "-vet=off",
	} {
		o, err := parseArgs(strings.Fields(flags))
		if err != nil {
			t.Fatal(err)
		}
		args := a.testArgs(o)
		var vet []string
		for _, arg := range args {
			if strings.HasPrefix(arg, "-vet") {
				vet = append(vet, arg)
			}
		}
		if strings.Join(vet, " ") != want {
			t.Errorf("%s: vet flags %q, want %q", flags, vet, want)
		}
	}
}

// TestPositions maps the columns of a rewritten file's messages back to the
// original's, on a test's opening line where the hook call went in.
func TestPositions(t *testing.T) {
	src := `package p

import "testing"

func TestOneLine(t *testing.T) { var x int = "oops"; _ = x }

func TestUnnamed(_ *testing.T) { var y int = "no"; _ = y }
`
	out, shifts, err := rewrite("x_test.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p := positions{"/m/x_test.go": shifts}
	for _, mark := range []string{`"oops"`, `_ = x`, `"no"`, `_ = y`, `testing`} {
		line, col := position(src, mark)
		rline, rcol := position(string(out), mark)
		got := p.fix(fmt.Sprintf("/m/x_test.go:%d:%d: cannot use", rline, rcol))
		if want := fmt.Sprintf("/m/x_test.go:%d:%d: cannot use", line, col); got != want {
			t.Errorf("%s: %s, want %s", mark, got, want)
		}
	}
	// In the inserted call itself: at the place it went in.
	line, col := position(src, `{ var x`)
	_, rcol := position(string(out), "residueaudit.Test")
	if got, want := p.fix(fmt.Sprintf("/m/x_test.go:%d:%d:", line, rcol+3)), fmt.Sprintf("/m/x_test.go:%d:%d:", line, col+1); got != want {
		t.Errorf("inside the hook: %s, want %s", got, want)
	}
	// Another file's positions are left as they are.
	if got := p.fix("/m/y_test.go:5:60: x"); got != "/m/y_test.go:5:60: x" {
		t.Errorf("another file: %s", got)
	}
}

// position returns the line and byte column (1-based) of the last
// occurrence of s in src.
func position(src, s string) (line, col int) {
	at := strings.LastIndex(src, s)
	return 1 + strings.Count(src[:at], "\n"), at - strings.LastIndex(src[:at], "\n")
}
