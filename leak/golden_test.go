package leak_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata with the messages the tests produce")

// moduleRoot is the directory of the module, from this file's path.
var moduleRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file)) + "/"
}()

var (
	goroot      = regexp.MustCompile(regexp.QuoteMeta(runtime.GOROOT()+"/src/") + `(\S+?):\d+`)
	goroutineID = regexp.MustCompile(`(goroutines? |, )(\d+)`)
	waited      = regexp.MustCompile(`waiting ≥ [^\]]+\]`)
)

// normalize makes a message comparable across runs and machines: the
// module's path is cut to a relative one, the standard library's paths and
// lines (which change with the Go release) and the wait times are
// replaced, and goroutine IDs are numbered in the order they appear.
// Line numbers of the module's own files are kept: they are what the
// messages are about.
func normalize(msg string) string {
	msg = strings.ReplaceAll(msg, moduleRoot, "")
	msg = goroot.ReplaceAllString(msg, "$$GOROOT/$1:N")
	msg = waited.ReplaceAllString(msg, "waiting ≥ D]")
	ids := map[string]string{}
	return goroutineID.ReplaceAllStringFunc(msg, func(m string) string {
		sub := goroutineID.FindStringSubmatch(m)
		if ids[sub[2]] == "" {
			ids[sub[2]] = "#" + strconv.Itoa(len(ids)+1)
		}
		return sub[1] + ids[sub[2]]
	})
}

// golden compares msg, normalized, with testdata/name.golden, or writes it
// there with -update.
func golden(t *testing.T, name, msg string) {
	t.Helper()
	got := normalize(msg)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("message differs from %s (run with -update to accept it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
