// Package env names the environment variables residue reads, in one place,
// and says whether the binary was built with the race detector. The docs
// name the variables; users set them in their shell or CI, never in Go.
package env

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
