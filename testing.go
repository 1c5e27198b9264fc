package residue

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/residue-go/residue/globals"
	"github.com/residue-go/residue/internal/combined"
	"github.com/residue-go/residue/internal/probes"
)

// Check makes the calling test fail if, when it ends, it has left side
// effects: goroutines still running, descriptors still open, globals
// changed (and allocations past a budget, when one is given). Call it first
// thing in the test, after t.Parallel if the test calls it:
//
//	func TestFetch(t *testing.T) {
//		residue.Check(t)
//		…
//	}
//
// Everything the test and its subtests start or open is watched, not what
// other tests running in parallel do. The check runs in a t.Cleanup
// registered by Check, so it comes after the cleanups the test registers
// later; a failure is reported at the line that called Check.
//
// Global state is process-wide: in a test that runs in parallel with others
// (it, or a test it is a subtest of, called t.Parallel), a changed variable
// cannot be told apart from another test's change, so Check logs such
// changes (see go test -v) instead of failing; VerifyTestMain still judges
// them for the whole binary.
func Check(t testing.TB, opts ...Option) {
	t.Helper()
	s, err := combined.Start(opts...)
	if err != nil {
		t.Fatalf("residue.Check: %v", err)
	}
	restore := s.Adopt()
	t.Cleanup(func() {
		t.Helper()
		restore()
		report, err := s.Finish()
		if err != nil {
			t.Errorf("residue.Check: %v", err)
			return
		}
		if who := parallelTest(t); who != "" {
			report.Sections = slices.DeleteFunc(report.Sections, func(p probes.Report) bool {
				g, ok := p.Value().(*globals.Report)
				if ok && probes.Found(p) {
					t.Logf("residue.Check: not judged, as %s in parallel with other tests and global state is shared by all:\n%s", who, g)
				}
				return ok
			})
		}
		if report.Found() {
			t.Errorf("residue.Check: %s", report.Describe("The test"))
		}
	})
}

// parallelTest says which test runs in parallel with others, making t's
// global changes impossible to tell from theirs: "the test ran" when t
// called t.Parallel, "its parent test TestX runs" when an ancestor did (its
// subtests run beside the other parallel tests too), "" when none did. A
// parent that only waits for its subtests is not parallel. The testing
// package has no method for it; its fields (isParallel, parent, name) are
// read with reflection, on the test's own goroutine, and a testing package
// without them counts as not parallel.
func parallelTest(t testing.TB) string {
	v := reflect.ValueOf(t)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	for c, self := v.Elem(), true; ; self = false {
		if f := c.FieldByName("isParallel"); f.IsValid() && f.Kind() == reflect.Bool && f.Bool() {
			if self {
				return "the test ran"
			}
			name := c.FieldByName("name")
			if !name.IsValid() || name.Kind() != reflect.String {
				return "a parent test runs"
			}
			return "its parent test " + name.String() + " runs"
		}
		p := c.FieldByName("parent")
		if !p.IsValid() || p.Kind() != reflect.Pointer || p.IsNil() || p.Elem().Kind() != reflect.Struct {
			return ""
		}
		c = p.Elem()
	}
}

// VerifyTestMain runs the test binary's tests and then fails it, with the
// report on standard error, if they left side effects. Use it in TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(residue.VerifyTestMain(m)) }
//
// What the testing package itself sets up (its flags, parsed here as m.Run
// would) is not counted. Each leftover's origin leads through
// testing.tRunner to the test that left it. It returns m.Run's exit code,
// or 1 when something was left behind.
func VerifyTestMain(m *testing.M, opts ...Option) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	s, err := combined.Start(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "residue.VerifyTestMain: %v\n", err)
		return 1
	}
	code := 0
	s.Enter(func() { code = m.Run() })
	report, err := s.Finish()
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "residue.VerifyTestMain: %v\n", err)
		return 1
	case report.Found():
		fmt.Fprintf(os.Stderr, "residue.VerifyTestMain: %s\n", report.Describe("The tests"))
		return 1
	}
	return code
}
