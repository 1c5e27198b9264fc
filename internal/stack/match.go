package stack

import "strings"

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
