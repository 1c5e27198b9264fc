// Package env names the environment variables residue reads, in one place,
// and says whether the binary was built with the race detector. The docs
// name the variables; users set them in their shell or CI, never in Go.
package env

import "errors"

// ErrNoDebugInfo is what the globals probe's error is when the binary
// carries no DWARF debug info (errors.Is), so that a combined check can
// stand the probe aside.
var ErrNoDebugInfo = errors.New("no debug info")

// ErrWordSize is what the globals probe's error is on a platform whose
// pointers are not 64 bits (errors.Is): it reads strings, slices, maps and
// interfaces by their 64-bit layouts. A combined check stands the probe
// aside, as for ErrNoDebugInfo.
var ErrWordSize = errors.New("the globals probe reads Go's 64-bit memory layouts")

// ErrRace is the error of every allocation measurement in a binary built
// with -race (Race).
var ErrRace = errors.New("allocation figures are not exact under the race detector: " +
	"this test binary was built with -race, where sync.Pool drops items at random and " +
	"instrumentation changes what allocates; run this check in a build without -race")

const (
	// RequireGlobals, set to 1, makes a combined check fail when the
	// binary has no debug info, instead of checking every probe but
	// globals and saying so.
	RequireGlobals = "RESIDUE_REQUIRE_GLOBALS"
	// SkipAllocUnderRace, set to 1, turns an allocation matcher's ErrRace
	// under -race into a skip of the running Ginkgo spec, saying why.
	SkipAllocUnderRace = "RESIDUE_SKIP_ALLOC_UNDER_RACE"
	// UpdateBudgets, set to 1, makes budget checks record each block's
	// current figures in the budget file and pass.
	UpdateBudgets = "RESIDUE_UPDATE_BUDGETS"
	// StrictBudgets, set to 1, makes room to tighten a budget a failure.
	StrictBudgets = "RESIDUE_STRICT_BUDGETS"
)
