// Package audit is the hook `residue test` puts into every top-level test
// of the module it audits, through a build overlay: the user's files are
// never changed. Each test runs under residue's probes, and what it left
// behind is appended, as one JSON line, to the file the command names in
// the environment (see docs/audit.md). Outside `residue test` the hook does
// nothing.
package audit

import (
	"sync"
	"testing"

	"github.com/residue-go/residue/audit/internal/unit"
)

// Test audits the calling test: everything it and its subtests start is
// watched from now until its cleanups have run. An audited build calls it
// first thing in every top-level test:
//
//	func TestX(t *testing.T) { audit.Test(t);
//		…
//	}
func Test(t *testing.T) {
	u := unit.Begin(unit.CallerFunc(1), t.Name(), false)
	if u == nil {
		return
	}
	units.Store(t, u)
	restore := u.Adopt()
	t.Cleanup(func() {
		units.Delete(t)
		restore()
		forgetCleanupsRun(t)
		// testing runs the cleanups of a test that panics, or that calls
		// runtime.Goexit without failing or skipping, before it marks the
		// test failed: the test goroutine is then unwinding.
		u.End(t.Failed() || (!t.Skipped() && unit.Unwinding()), t.Skipped())
	})
}

// units holds the unit of each test under way, by its *testing.T.
var units sync.Map

// Pausing tells the audit of t that t is about to call t.Parallel, where it
// may wait for the sequential tests to end: while it waits, it can be
// waiting for nothing of its own, and the other tests' settle windows may
// end early (probes.Run.Pausing). An audited build calls it before every
// t.Parallel() statement that it follows with Resumed, on the same line.
func Pausing(t *testing.T) {
	if u, ok := units.Load(t); ok {
		u.(*unit.Unit).Pausing()
	}
}

// Resumed tells the audit of t that t.Parallel has returned. The test
// waited there for the sequential tests to end, and their allocations
// spent the budget of its own recording of allocation stacks: in a suite
// of many parallel tests, what it then opened or started had no stack to
// tell it was the test's. The budget counts again from here. An audited
// build calls it after every t.Parallel() statement of a top-level test's
// own body, on the same line:
//
//	func TestX(t *testing.T) { audit.Test(t);
//		audit.Pausing(t); t.Parallel(); audit.Resumed(t)
//		…
//	}
func Resumed(t *testing.T) {
	if u, ok := units.Load(t); ok {
		u.(*unit.Unit).Resumed()
	}
}
