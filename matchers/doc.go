// Package matchers adapts residue's probes to Gomega. Dot-import it:
//
//	import . "github.com/residue-go/residue/matchers"
//
//	Expect(func() { client.Get(url) }).NotTo(LeakGoroutines())
//
// Each matcher runs the block it is given exactly once. The actual value must
// be a func(); anything else, a panic inside the block, or a runtime.Goexit
// inside it (t.FailNow) is reported as a matcher error, never as a pass.
package matchers
