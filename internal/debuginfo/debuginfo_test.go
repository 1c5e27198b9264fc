package debuginfo

import (
	"runtime"
	"strings"
	"testing"
)

// Running matches a release by its name and by each of its point releases,
// and nothing else.
func TestRunningMatchesTheReleaseAndItsPointReleases(t *testing.T) {
	v := runtime.Version() // go1.26.8, or go1.27.0
	release := v
	if i := strings.LastIndexByte(v, '.'); strings.Count(v, ".") == 2 {
		release = v[:i]
	}
	if !Running("go0.9", release) {
		t.Errorf("%s not matched by %s", v, release)
	}
	if Running("go0.9", release+"9", "go1.2") {
		t.Errorf("%s matched by another release", v)
	}
}
