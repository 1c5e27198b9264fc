// Package golden keeps failure messages in golden files, so that a change to
// a message shows up as a diff to review: go test ./... -update rewrites
// the files with what the messages are now.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files with the messages produced now")

// normalizers replace what changes from run to run or machine to machine:
// goroutine IDs, descriptor numbers, durations, whether a settle window
// ended early and how long goroutines were seen waiting, ports, temporary
// paths, line numbers and the directories of the module and of Go itself.
var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`goroutines? \d+(, \d+)*`), "goroutine N"},
	{regexp.MustCompile(`in goroutine \d+`), "in goroutine N"},
	{regexp.MustCompile(`\bfds? \d+\b`), "fd N"},
	{regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s)\b`), "D"},
	// Whether a window ended early depends on every goroutine of the
	// test process, not on the block alone: both read as a window waited
	// out (the early form is tested on its own, in internal/probes).
	{regexp.MustCompile(`open \(reported without waiting out the D settle window: nothing in the process could run before it ended`), "open (still open after the D settle window"},
	{regexp.MustCompile(`\(reported without waiting out the D settle window: nothing in the process could run before it ended`), "(still there after the D settle window"},
	// How long a goroutine was seen waiting depends on how long the
	// windows of the run's other probes lasted.
	{regexp.MustCompile(`, waiting ≥ D\]`), "]"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`\.go:\d+`), ".go:LINE"},
	{regexp.MustCompile(`/tmp/[^\s:"]+`), "/tmp/…"},
}

// Check compares got, normalised, with testdata/<name>.golden, or writes
// the file under -update.
func Check(t testing.TB, name, got string) {
	t.Helper()
	got = Normalize(got)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("message differs from %s (run go test -update to accept it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// goroot is where the standard library's sources were when it was built,
// as stack frames show them.
var goroot = func() string {
	file, _ := runtime.FuncForPC(reflect.ValueOf(strings.Cut).Pointer()).FileLine(0)
	return strings.TrimSuffix(file, "/src/strings/strings.go")
}()

// Normalize replaces what varies between runs and machines in a message.
func Normalize(s string) string {
	_, file, _, _ := runtime.Caller(0)
	module := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	s = strings.ReplaceAll(s, module, "$MODULE")
	s = strings.ReplaceAll(s, goroot, "$GOROOT")
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}
