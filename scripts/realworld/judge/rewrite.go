package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const residuePath = "github.com/residue-go/residue"

// rewrite swaps goleak for residue in every _test.go file under dir, except
// the files named in skip (paths relative to dir):
//
//   - goleak.VerifyTestMain(m, opts...) becomes os.Exit(residue.VerifyTestMain(m));
//   - goleak.VerifyNone(t, opts...) becomes residue.Check(t) at the start of
//     its function (dropped in a top-level test, which has one already);
//   - every top-level func TestXxx(t *testing.T) starts with residue.Check(t).
//
// goleak's options are dropped: residue counts only what the test started.
//
// The edits are made in place on the source text, at positions taken from
// the syntax tree, and keep every line where it was: several suites assert
// the line numbers of their own code (zap's caller and stack trace tests),
// which reformatting with go/format would shift. The result is parsed again
// and must have as many lines as the original.
func rewrite(dir string, skip []string) (changed int, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if name := d.Name(); path != dir && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") || slices.Contains(skip, filepath.ToSlash(rel)) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out, err := rewriteSource(path, src)
		if err != nil || out == nil {
			return err
		}
		changed++
		return os.WriteFile(path, out, 0o644)
	})
	return changed, err
}

// edit replaces src[start:end] by text.
type edit struct {
	start, end int
	text       string
}

// rewriteSource returns the rewritten file, or nil when nothing changes.
func rewriteSource(path string, src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	if importName(f, residuePath) != "" {
		return nil, nil // already rewritten
	}
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	text := func(n ast.Node) string { return string(src[off(n.Pos()):off(n.End())]) }

	goleak := importName(f, "go.uber.org/goleak")
	testing := importName(f, "testing")
	var edits []edit
	needOS := false
	var replaced []edit // statements replaced or removed

	ast.Inspect(f, func(n ast.Node) bool {
		var body *ast.BlockStmt
		topTest := false
		switch fn := n.(type) {
		case *ast.FuncDecl:
			body = fn.Body
			if t, pe := testParam(fn, testing); t != "" {
				topTest = true
				if pe != nil {
					edits = append(edits, edit{off(pe.pos), off(pe.end), pe.text})
				}
				edits = append(edits, edit{off(body.Lbrace) + 1, off(body.Lbrace) + 1, " residue.Check(" + t + ");"})
			}
		case *ast.FuncLit:
			body = fn.Body
		}
		if body == nil || goleak == "" {
			return true
		}
		for _, st := range body.List {
			call := stmtCall(st)
			switch {
			case call == nil:
			case isSel(call.Fun, goleak, "VerifyTestMain"):
				e := edit{off(st.Pos()), off(st.End()), "os.Exit(residue.VerifyTestMain(" + text(call.Args[0]) + "))"}
				edits, replaced = append(edits, e), append(replaced, e)
				needOS = true
			case isSel(call.Fun, goleak, "VerifyNone"):
				e := edit{off(st.Pos()), off(st.End()), ""}
				edits, replaced = append(edits, e), append(replaced, e)
				if !topTest {
					edits = append(edits, edit{off(body.Lbrace) + 1, off(body.Lbrace) + 1, " residue.Check(" + text(call.Args[0]) + ");"})
				}
			}
		}
		return true
	})
	if len(edits) == 0 {
		return nil, nil
	}
	if goleak != "" && !usedOutside(f, goleak, replaced, off) {
		edits = append(edits, removeImport(f, "go.uber.org/goleak", off))
	}
	imports := "; import " + strconv.Quote(residuePath)
	if needOS && importName(f, "os") != "os" {
		imports += "; import \"os\""
	}
	edits = append(edits, edit{off(f.Name.End()), off(f.Name.End()), imports})

	out := apply(src, edits)
	if _, err := parser.ParseFile(token.NewFileSet(), path, out, parser.SkipObjectResolution); err != nil {
		return nil, fmt.Errorf("rewritten file does not parse: %v", err)
	}
	if bytes.Count(out, []byte("\n")) != bytes.Count(src, []byte("\n")) {
		return nil, fmt.Errorf("%s: the rewrite moved lines", path)
	}
	return out, nil
}

// usedOutside reports whether f refers to pkg outside the replaced ranges.
func usedOutside(f *ast.File, pkg string, replaced []edit, off func(token.Pos) int) bool {
	used := false
	ast.Inspect(f, func(n ast.Node) bool {
		s, ok := n.(*ast.SelectorExpr)
		if !ok {
			return !used
		}
		if id, ok := s.X.(*ast.Ident); ok && id.Name == pkg {
			at := off(s.Pos())
			inside := false
			for _, r := range replaced {
				inside = inside || (at >= r.start && at < r.end)
			}
			used = used || !inside
		}
		return !used
	})
	return used
}

// apply makes the edits, which may share a start offset but never overlap.
func apply(src []byte, edits []edit) []byte {
	slices.SortStableFunc(edits, func(a, b edit) int { return a.start - b.start })
	var out []byte
	at := 0
	for _, e := range edits {
		out = append(out, src[at:e.start]...)
		out = append(out, e.text...)
		at = max(at, e.end)
	}
	return append(out, src[at:]...)
}

// stmtCall is the call a statement makes, deferred or not, when it has
// arguments.
func stmtCall(st ast.Stmt) *ast.CallExpr {
	var call *ast.CallExpr
	switch s := st.(type) {
	case *ast.ExprStmt:
		call, _ = s.X.(*ast.CallExpr)
	case *ast.DeferStmt:
		call = s.Call
	}
	if call == nil || len(call.Args) == 0 {
		return nil
	}
	return call
}

func isTestName(name string) bool {
	if name == "TestMain" || !strings.HasPrefix(name, "Test") {
		return false
	}
	if len(name) == 4 {
		return true
	}
	r, _ := utf8.DecodeRuneInString(name[4:])
	return !unicode.IsLower(r)
}

// paramEdit names a blank or unnamed parameter.
type paramEdit struct {
	pos, end token.Pos
	text     string
}

// testParam returns the name of the *testing.T parameter of a top-level
// test, "" for any other function, and the edit that names the parameter
// when it is unnamed or blank.
func testParam(fn *ast.FuncDecl, testing string) (string, *paramEdit) {
	if testing == "" || fn.Recv != nil || fn.Body == nil || !isTestName(fn.Name.Name) {
		return "", nil
	}
	params := fn.Type.Params.List
	if len(params) != 1 || fn.Type.Results != nil || fn.Type.TypeParams != nil {
		return "", nil
	}
	star, ok := params[0].Type.(*ast.StarExpr)
	if !ok || !isSel(star.X, testing, "T") {
		return "", nil
	}
	const name = "residueT"
	switch {
	case len(params[0].Names) == 0:
		return name, &paramEdit{star.Pos(), star.Pos(), name + " "}
	case params[0].Names[0].Name == "_":
		id := params[0].Names[0]
		return name, &paramEdit{id.Pos(), id.End(), name}
	}
	return params[0].Names[0].Name, nil
}

func isSel(e ast.Expr, pkg, name string) bool {
	s, ok := e.(*ast.SelectorExpr)
	if !ok || s.Sel.Name != name {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && id.Name == pkg
}

// importName is the name under which f imports path, "" when it does not.
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return p[strings.LastIndex(p, "/")+1:]
		}
	}
	return ""
}

// removeImport blanks path's import spec, or its whole declaration when the
// declaration has no parentheses.
func removeImport(f *ast.File, path string, off func(token.Pos) int) edit {
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		for _, s := range gd.Specs {
			if p, _ := strconv.Unquote(s.(*ast.ImportSpec).Path.Value); p == path {
				if !gd.Lparen.IsValid() {
					return edit{off(gd.Pos()), off(gd.End()), ""}
				}
				return edit{off(s.Pos()), off(s.End()), ""}
			}
		}
	}
	return edit{}
}
