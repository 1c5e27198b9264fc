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
