package residue

import (
	"fmt"
	"os"
	"testing"
)

// Check makes the calling test fail if, when it ends, it has left side
// effects: goroutines still running, descriptors still open, globals
// changed (and allocations past a budget, when one is given). Call it first
// thing in the test:
//
//	func TestFetch(t *testing.T) {
//		residue.Check(t)
//		…
//	}
//
// Everything the test and its subtests start is watched, not what other
// tests running in parallel start. The check runs in a t.Cleanup registered
// by Check, so it comes after the cleanups the test registers later.
func Check(t testing.TB, opts ...Option) {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("residue.Check: %v", err)
	}
	restore := s.Adopt()
	t.Cleanup(func() {
		restore()
		report, err := s.Finish()
		switch {
		case err != nil:
			t.Errorf("residue.Check: %v", err)
		case report.Found():
			t.Errorf("residue.Check: %s", report)
		}
	})
}

// Adopt makes the calling goroutine part of the session's block from now
// on, as Enter does for one call: the goroutines it starts are the block's.
// restore ends that and must be called on the same goroutine.
func (s *Session) Adopt() (restore func()) { return s.run.Adopt() }

// VerifyTestMain runs the test binary's tests and then fails it, with the
// report on standard error, if they left side effects. Use it in TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(residue.VerifyTestMain(m)) }
//
// It returns m.Run's exit code, or 1 when something was left behind.
func VerifyTestMain(m *testing.M, opts ...Option) int {
	s, err := Start(opts...)
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
		fmt.Fprintf(os.Stderr, "residue.VerifyTestMain: the tests %s\n", report)
		return 1
	}
	return code
}
