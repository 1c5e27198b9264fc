package alloc

import "testing"

// SkipUnderRaceEnv names the environment variable that turns the failure of
// an allocation matcher under -race into a skip of the running Ginkgo spec:
// with RESIDUE_SKIP_ALLOC_UNDER_RACE=1, Allocate, AllocateAtMost,
// AllocateBytesAtMost and StayWithinBudget skip the spec, saying why,
// instead of failing with ErrRace. Outside a Ginkgo spec they still fail:
// call SkipUnderRace there.
const SkipUnderRaceEnv = "RESIDUE_SKIP_ALLOC_UNDER_RACE"

// SkipUnderRace skips t, saying why, when the test binary is built with
// -race, where every measurement fails with ErrRace; it does nothing
// otherwise. Call it first in a test that checks allocations:
//
//	func TestParseDoesNotAllocate(t *testing.T) {
//		alloc.SkipUnderRace(t)
//		...
//	}
func SkipUnderRace(t testing.TB) {
	if RaceEnabled {
		t.Helper()
		t.Skip(ErrRace.Error())
	}
}
