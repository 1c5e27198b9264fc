// Package alloc measures the heap allocations of a block (a func()) exactly:
// the objects and bytes it allocated on its own goroutine, and the lines that
// allocated them.
//
//	m, err := alloc.Measure(func() { parseHeader(raw) })
//	// m.Objects, m.Bytes, m.Sites: "2 objects, 96 B  strings.(*Builder).grow ..."
//
// While a block runs, the runtime records every allocation with its stack
// (runtime.MemProfileRate = 1, restored afterwards). The block is called
// through a marker frame of its own, so the allocations whose stack holds
// that frame are the block's, whatever other goroutines allocate at the same
// time. Goroutines the block starts are not counted: their stacks do not lead
// back to it.
//
// The figures are those of the runtime's memory profile. The runtime packs
// pointer-free objects under 16 bytes into shared 16-byte blocks and records
// each block once, so two small strings can count as one object of 16 B;
// Measure starts every block with a full tiny block so that this is the same
// from run to run. Each measurement runs the garbage collector, which empties
// sync.Pools: without a warm-up, code that draws from a pool (fmt, for one)
// is measured with the pool empty; with WarmUp(1) the figures are those of
// testing.AllocsPerRun, the steady state.
//
// Options: WarmUp runs the block unmeasured first, Runs measures it several
// times and keeps every run, AtMostIn limits what one function (and what it
// calls) may allocate. CheckBudget compares a measurement with a named budget
// kept in a file in the repository, the basis of a CI gate; see
// RESIDUE_UPDATE_BUDGETS and RESIDUE_STRICT_BUDGETS.
//
// A test binary built with -race allocates differently (sync.Pool drops
// items at random there): every measurement then fails rather than pass on
// figures that mean nothing; SkipUnderRace skips such a test.
package alloc
