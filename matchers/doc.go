// Package matchers adapts residue's probes to Gomega. Dot-import it:
//
//	import . "github.com/residue-go/residue/matchers"
//
//	Expect(func() { client.Get(url) }).NotTo(LeakGoroutines())
//
// Each matcher runs the block it is given exactly once. The actual value must
// be a func(); anything else, a panic inside the block, or a runtime.Goexit
// inside it (t.FailNow) is reported as a matcher error, never as a pass.
//
// Each matcher runs the block itself, so combining two of them with
// Gomega's And, Or or SatisfyAll runs the block once per matcher, each run
// judged on its own. To check several things in one run, use
// HaveSideEffects, which runs every probe around a single run of the block.
//
// The suite-wide form of HaveSideEffects, a decorator that checks every
// spec of a Ginkgo suite, is suite.CheckEverySpec.
package matchers
