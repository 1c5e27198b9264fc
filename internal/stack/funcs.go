package stack

import (
	"slices"
	"strings"
)

// MatchFunc returns a matcher of fully qualified function names: it matches
// name exactly, or every name that starts with its prefix when name ends
// with "..." ("encoding/json..." matches "encoding/json.Marshal").
func MatchFunc(name string) func(fn string) bool {
	if prefix, ok := strings.CutSuffix(name, "..."); ok {
		return func(fn string) bool { return strings.HasPrefix(fn, prefix) }
	}
	return func(fn string) bool { return fn == name }
}

// HasFunc reports whether one of frames is in a function named in names.
func HasFunc(frames []Frame, names ...string) bool {
	for _, f := range frames {
		if slices.Contains(names, f.Func) {
			return true
		}
	}
	return false
}
