// Package audit is the hook `residue test` puts into every top-level test
// of the module it audits, through a build overlay: the user's files are
// never changed. Each test runs under residue's probes, and what it left
// behind is appended, as one JSON line, to the file the command names in
// the environment (see docs/audit.md). Outside `residue test` the hook only
// runs the test.
package audit

import (
	"testing"

	"github.com/residue-go/residue/audit/internal/unit"
)

// Test runs body, the body of the calling test, under residue's probes:
// everything the test and its subtests start is watched until the test's
// cleanups have run. An audited build wraps every top-level test in it:
//
//	func TestX(t *testing.T) { audit.Test(t, func() {
//		…
//	})}
func Test(t *testing.T, body func()) {
	u := unit.Begin(unit.CallerFunc(1), t.Name(), false)
	if u == nil {
		body()
		return
	}
	t.Cleanup(func() { u.End(t.Failed(), t.Skipped()) })
	u.Enter(body)
}
