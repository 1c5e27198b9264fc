package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"iter"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

const (
	auditPath  = "github.com/residue-go/residue/audit"
	ginkgoPath = "github.com/residue-go/residue/audit/ginkgoaudit"
	ginkgoV2   = "github.com/onsi/ginkgo/v2"
	auditName  = "residueaudit"
	ginkgoName = "residueginkgoaudit"
)

// edit replaces the bytes [at, at+del) of a file with text.
type edit struct {
	at, del int
	text    string
}

// rewrite returns the test file src with the audit hook added: a call to
// audit.Test first in every top-level test (but those that run a Ginkgo
// suite), calls to audit.Pausing before and audit.Resumed after each
// t.Parallel() statement of a function's own body where t is its
// *testing.T parameter (a test's, a subtest's, a helper's), and
// ginkgoaudit.EverySpec() added to every RunSpecs call:
//
//	func TestX(t *testing.T) { residueaudit.Test(t);
//		residueaudit.Pausing(t); t.Parallel(); residueaudit.Resumed(t)
//		…
//	}
//
// The test's own stack is unchanged: a test that looks at its callers sees
// what it sees without the hook.
// Every line keeps its number, so positions in reports are the file's own.
// It returns nil when the file has nothing to hook, and the edits as
// shifts of the columns after them (see positions).
func rewrite(name string, src []byte) ([]byte, []shift, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, nil, err
	}
	testing, ginkgo := importName(f, "testing"), importName(f, ginkgoV2)
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	var edits []edit
	var usesAudit, usesGinkgo bool
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		suite := false
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || ginkgo == "" || !isRunSpecs(call.Fun, ginkgo) || len(call.Args) < 2 {
				return true
			}
			suite, usesGinkgo = true, true
			hook := ginkgoName + ".EverySpec()"
			if call.Ellipsis.IsValid() {
				last := call.Args[len(call.Args)-1]
				edits = append(edits,
					edit{at: off(last.Pos()), text: "append(append([]any(nil), "},
					edit{at: off(last.End()), text: "...), " + hook + ")"})
			} else {
				edits = append(edits, edit{at: off(call.Rparen), text: ", " + hook})
			}
			return true
		})
		t, ok := testParam(fn, testing)
		if !ok || suite {
			continue
		}
		usesAudit = true
		param := "t"
		switch {
		case len(t.Names) == 0:
			param = unusedName(fn, "residueT")
			edits = append(edits, edit{at: off(t.Type.Pos()), text: param + " "})
		case t.Names[0].Name == "_":
			param = unusedName(fn, "residueT")
			edits = append(edits, edit{at: off(t.Names[0].Pos()), del: 1, text: param})
		default:
			param = t.Names[0].Name
		}
		edits = append(edits, edit{at: off(fn.Body.Lbrace) + 1, text: " " + auditName + ".Test(" + param + ");"})
	}
	// Around every t.Parallel() of a function's own body, t a parameter:
	// a top-level test's, or a helper's that a test passes its t to.
	// Pausing and Resumed do nothing for a t that is not a top-level
	// test's.
	ast.Inspect(f, func(n ast.Node) bool {
		for t, st := range parallelCalls(n, testing) {
			usesAudit = true
			edits = append(edits, edit{at: off(st.Pos()), text: auditName + ".Pausing(" + t + "); "},
				edit{at: off(st.End()), text: "; " + auditName + ".Resumed(" + t + ")"})
		}
		return true
	})
	if !usesAudit && !usesGinkgo {
		return nil, nil, nil
	}
	imports := ""
	if usesAudit {
		imports += "; import " + auditName + " " + strconv.Quote(auditPath)
	}
	if usesGinkgo {
		imports += "; import " + ginkgoName + " " + strconv.Quote(ginkgoPath)
	}
	edits = append(edits, edit{at: off(f.Name.End()), text: imports})
	// In one pass, by offset; of two insertions at one offset, the one
	// added first ends up first.
	order := make([]int, len(edits))
	extra := 0
	for i, e := range edits {
		order[i] = i
		extra += len(e.text)
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Or(edits[a].at-edits[b].at, a-b) })
	lines := fset.File(f.Pos())
	out := make([]byte, 0, len(src)+extra)
	var shifts []shift
	done := 0 // bytes of src copied or deleted
	for _, i := range order {
		e := edits[i]
		if e.at > done {
			out = append(out, src[done:e.at]...)
		}
		out = append(out, e.text...)
		done = max(done, e.at+e.del)
		pos := lines.Position(lines.Pos(e.at))
		shifts = append(shifts, shift{line: pos.Line, col: pos.Column, text: len(e.text), del: e.del})
	}
	out = append(out, src[done:]...)
	slices.SortFunc(shifts, func(a, b shift) int { return cmp.Or(a.line-b.line, a.col-b.col) })
	return out, shifts, nil
}

// parallelCalls yields the t.Parallel() statements of n's own body, when n
// is a function with t a *testing.T parameter, with t's name. The body
// cannot declare another t (Go forbids redeclaring a parameter there), so
// in each of them t is the parameter.
func parallelCalls(n ast.Node, testing string) iter.Seq2[string, ast.Stmt] {
	return func(yield func(string, ast.Stmt) bool) {
		var typ *ast.FuncType
		var body *ast.BlockStmt
		switch n := n.(type) {
		case *ast.FuncDecl:
			typ, body = n.Type, n.Body
		case *ast.FuncLit:
			typ, body = n.Type, n.Body
		}
		if body == nil || testing == "" {
			return
		}
		for _, field := range typ.Params.List {
			if !isTestingT(field.Type, testing) {
				continue
			}
			for _, name := range field.Names {
				for _, st := range body.List {
					if isParallelCall(st, name.Name) && !yield(name.Name, st) {
						return
					}
				}
			}
		}
	}
}

// isParallelCall reports whether st is the statement t.Parallel().
func isParallelCall(st ast.Stmt, t string) bool {
	e, ok := st.(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := e.X.(*ast.CallExpr)
	if !ok || len(call.Args) != 0 {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Parallel" {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == t
}

// shift is an edit of rewrite, which moves the columns after it on its line.
type shift struct {
	line, col int // where the edit starts in the original file (1-based; col in bytes)
	text, del int // bytes inserted, and bytes of the original they replace
}

// positions maps a rewritten file's positions back to the original's, in
// the compiler's and vet's messages ("file.go:12:34: …"), by the original
// file's path: the hook call on a test's opening line moves the columns of
// what follows it there.
type positions map[string][]shift

var positionRE = regexp.MustCompile(`([^\s:]+\.go):(\d+):(\d+)`)

// fix rewrites the positions in s.
func (p positions) fix(s string) string {
	if len(p) == 0 || !strings.Contains(s, ".go:") {
		return s
	}
	return positionRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := positionRE.FindStringSubmatch(m)
		shifts := p[sub[1]]
		line, _ := strconv.Atoi(sub[2])
		col, _ := strconv.Atoi(sub[3])
		moved := 0 // how far the edits before col moved it
		for _, sh := range shifts {
			if sh.line != line {
				continue
			}
			start := sh.col + moved
			if col < start {
				break
			}
			if col < start+sh.text {
				// Inside the inserted text: at the edit.
				return fmt.Sprintf("%s:%d:%d", sub[1], line, sh.col)
			}
			moved += sh.text - sh.del
		}
		return fmt.Sprintf("%s:%d:%d", sub[1], line, col-moved)
	})
}

// unusedName returns name, or name with a number after it, such that no
// identifier in fn is spelled so: a name for a parameter the test leaves
// unnamed, which its body cannot shadow or mean otherwise.
func unusedName(fn *ast.FuncDecl, name string) string {
	used := map[string]bool{}
	ast.Inspect(fn, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			used[id.Name] = true
		}
		return true
	})
	for i := 2; used[name]; i++ {
		name = strings.TrimRight(name, "0123456789") + strconv.Itoa(i)
	}
	return name
}

// importName returns the name the file uses for the package at path: "."
// for a dot import, "" when the file does not import it.
func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		if p != path {
			continue
		}
		if im.Name != nil {
			return im.Name.Name
		}
		// The package's own name: the last element of its path, before a
		// major version suffix.
		elems := strings.Split(path, "/")
		name := elems[len(elems)-1]
		if len(elems) > 1 && len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
			name = elems[len(elems)-2]
		}
		return name
	}
	return ""
}

// isRunSpecs reports whether fun is Ginkgo's RunSpecs, under the name the
// file imports Ginkgo as.
func isRunSpecs(fun ast.Expr, ginkgo string) bool {
	switch x := fun.(type) {
	case *ast.Ident:
		return ginkgo == "." && x.Name == "RunSpecs"
	case *ast.SelectorExpr:
		id, ok := x.X.(*ast.Ident)
		return ok && id.Name == ginkgo && x.Sel.Name == "RunSpecs"
	}
	return false
}

// testParam returns the *testing.T parameter of fn when fn is a top-level
// test: func TestXxx(t *testing.T).
func testParam(fn *ast.FuncDecl, testing string) (*ast.Field, bool) {
	if fn.Recv != nil || fn.Type.TypeParams != nil || !isTestName(fn.Name.Name) || testing == "" ||
		fn.Type.Results != nil || len(fn.Type.Params.List) != 1 || len(fn.Type.Params.List[0].Names) > 1 {
		return nil, false
	}
	p := fn.Type.Params.List[0]
	return p, isTestingT(p.Type, testing)
}

// isTestingT reports whether typ is *testing.T, the testing package
// imported as testing ("." when dot-imported).
func isTestingT(typ ast.Expr, testing string) bool {
	star, ok := typ.(*ast.StarExpr)
	if !ok {
		return false
	}
	switch x := star.X.(type) {
	case *ast.Ident:
		return testing == "." && x.Name == "T"
	case *ast.SelectorExpr:
		id, ok := x.X.(*ast.Ident)
		return ok && id.Name == testing && x.Sel.Name == "T"
	}
	return false
}

// isTestName reports whether go test runs a function of this name as a
// test: "Test" followed by nothing or by a rune that is not lower case.
func isTestName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Test")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !unicode.IsLower(r)
}

// pkg is what go list says of a package.
type pkg struct {
	ImportPath   string
	Dir          string
	TestGoFiles  []string
	XTestGoFiles []string
}

// writeOverlay rewrites the test files of pkgs into dir and writes the
// overlay file that maps each original to its rewrite. It returns the
// overlay file's path, the map, and the positions the rewrites moved.
func writeOverlay(dir string, pkgs []pkg) (string, map[string]string, positions, error) {
	type job struct {
		path, name string
		out        []byte
		shifts     []shift
		err        error
	}
	var jobs []*job
	for _, p := range pkgs {
		for _, name := range slices.Concat(p.TestGoFiles, p.XTestGoFiles) {
			jobs = append(jobs, &job{path: filepath.Join(p.Dir, name), name: name})
		}
	}
	// Parsing is most of the work: the files are read and rewritten on
	// every core, and written in order.
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(jobs)); i = next.Add(1) - 1 {
				j := jobs[i]
				src, err := os.ReadFile(j.path)
				if err != nil {
					j.err = err
					continue
				}
				// A file that does not parse is left to the compiler to
				// report.
				j.out, j.shifts, _ = rewrite(j.path, src)
			}
		})
	}
	wg.Wait()
	replace, moved := map[string]string{}, positions{}
	for _, j := range jobs {
		if j.err != nil {
			return "", nil, nil, j.err
		}
		if j.out == nil {
			continue
		}
		dst := filepath.Join(dir, fmt.Sprintf("%d_%s", len(replace), j.name))
		if err := os.WriteFile(dst, j.out, 0o644); err != nil {
			return "", nil, nil, err
		}
		replace[j.path], moved[j.path] = dst, j.shifts
	}
	b, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return "", nil, nil, err
	}
	file := filepath.Join(dir, "overlay.json")
	return file, replace, moved, os.WriteFile(file, b, 0o644)
}
