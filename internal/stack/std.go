package stack

import (
	"path"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
)

// Package returns the import path of the package of a fully qualified
// function name: "net/http" for "net/http.(*Server).Serve", "example.com/m"
// for "example.com/m.F[...].func1".
func Package(fn string) string {
	if i := strings.IndexByte(fn, '['); i >= 0 {
		fn = fn[:i]
	}
	slash := strings.LastIndexByte(fn, '/') + 1
	if dot := strings.IndexByte(fn[slash:], '.'); dot >= 0 {
		return fn[:slash+dot]
	}
	return fn
}

// IsStandard reports whether f is a frame of the standard library. It does
// not rely on GOROOT, which a binary built with -trimpath does not know: a
// standard package's path has no dot in its first element, belongs to no
// module the binary was built with (the main module and its dependencies,
// as runtime/debug.ReadBuildInfo lists them: "myapp/parse" is not standard),
// and its source lies where the runtime's does ("/usr/local/go/src/" in a
// plain build, nothing under -trimpath).
func IsStandard(f Frame) bool {
	pkg := Package(f.Func)
	first, _, _ := strings.Cut(pkg, "/")
	if pkg == "" || strings.Contains(first, ".") || pkg == "main" || pkg == "command-line-arguments" ||
		inModule(pkg) {
		return false
	}
	if f.File == "" {
		return true
	}
	return inStdSource(f.File)
}

// InRuntimeSource reports whether f's code is in the runtime package's
// source, as that of internal/bytealg.MakeNoZero and time.Sleep is: the
// runtime provides them under another package's name.
func InRuntimeSource(f Frame) bool {
	return strings.HasPrefix(f.File, stdRoot+"runtime/") && IsStandard(f)
}

// stdRoot is the directory of the standard library's source as the binary's
// file names give it: runtime.Callers is in "<stdRoot>runtime/extern.go".
// It is "/usr/local/go/src/" in a plain build and "" under -trimpath.
var stdRoot = func() string {
	f := runtime.FuncForPC(reflect.ValueOf(runtime.Callers).Pointer())
	if f == nil {
		return ""
	}
	file, _ := f.FileLine(f.Entry())
	if i := strings.LastIndex(file, "runtime/"); i >= 0 {
		return file[:i]
	}
	return ""
}()

// inStdSource reports whether file lies in the standard library's source
// tree: under stdRoot, in a directory whose first element has no dot (under
// -trimpath a dependency's files are "example.com/m@v1.2.3/…").
func inStdSource(file string) bool {
	rel, ok := strings.CutPrefix(file, stdRoot)
	if !ok || strings.HasPrefix(file, "<") {
		return false
	}
	dir := path.Dir(rel)
	first, _, _ := strings.Cut(dir, "/")
	return dir != "." && !strings.Contains(first, ".") && !strings.Contains(first, "@")
}

// modules are the paths of the modules the binary was built from, the main
// module first.
var modules = func() []string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	var out []string
	if bi.Main.Path != "" {
		out = append(out, bi.Main.Path)
	}
	for _, d := range bi.Deps {
		out = append(out, d.Path)
	}
	return out
}()

// inModule reports whether the package pkg (an external test package
// "m_test" too) belongs to one of the binary's modules.
func inModule(pkg string) bool {
	pkg = strings.TrimSuffix(pkg, "_test")
	for _, m := range modules {
		if pkg == m || strings.HasPrefix(pkg, m+"/") {
			return true
		}
	}
	return false
}
