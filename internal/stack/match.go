package stack

import "strings"

// FuncMatcher returns a test of fully qualified function names: an exact
// match of name, or a prefix match when name ends with "...", as in
// "net/http.(*persistConn)...".
func FuncMatcher(name string) func(fn string) bool {
	if prefix, ok := strings.CutSuffix(name, "..."); ok {
		return func(fn string) bool { return strings.HasPrefix(fn, prefix) }
	}
	return func(fn string) bool { return fn == name }
}

// Enclosing returns the function in which the closure or go-statement
// wrapper fn is defined, one level up: "pkg.F" for "pkg.F.func2" and
// "pkg.F.gowrap1", "pkg.F.func1" for "pkg.F.func1.3". It returns "" when fn
// is a named function or method.
func Enclosing(fn string) string {
	i := strings.LastIndexByte(fn, '.')
	if i < 0 || strings.ContainsAny(fn[i+1:], "()*/") {
		return ""
	}
	last := fn[i+1:]
	rest := strings.TrimPrefix(last, "func")
	if rest == last {
		rest = strings.TrimPrefix(last, "gowrap")
	}
	if rest == "" || strings.TrimLeft(rest, "0123456789") != "" {
		return ""
	}
	return fn[:i]
}
