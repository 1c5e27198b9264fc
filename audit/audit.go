// Package audit is the hook `residue test` puts into every top-level test
// of the module it audits, through a build overlay: the user's files are
// never changed. Each test runs under residue's probes, and what it left
// behind is appended, as one JSON line, to the file the command names in
// the environment (see docs/audit.md). Outside `residue test` the hook does
// nothing.
package audit

import (
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
	restore := u.Adopt()
	t.Cleanup(func() {
		restore()
		// testing runs the cleanups of a test that panics, or that calls
		// runtime.Goexit without failing or skipping, before it marks the
		// test failed: the test goroutine is then unwinding.
		u.End(t.Failed() || (!t.Skipped() && unit.Unwinding()), t.Skipped())
	})
}
