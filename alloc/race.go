package alloc

import (
	"testing"

	"github.com/residue-go/residue/internal/env"
)

// SkipUnderRace skips t, saying why, when the test binary is built with
// -race, where every measurement fails; it does nothing
// otherwise. Call it first in a test that checks allocations:
//
//	func TestParseDoesNotAllocate(t *testing.T) {
//		alloc.SkipUnderRace(t)
//		...
//	}
func SkipUnderRace(t testing.TB) {
	if env.Race {
		t.Helper()
		t.Skip(env.ErrRace.Error())
	}
}
