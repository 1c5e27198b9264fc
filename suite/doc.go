// Package suite checks a whole Ginkgo suite spec by spec: pass
// CheckEverySpec to RunSpecs and every spec that leaves goroutines,
// descriptors or changed globals behind fails, by name.
//
//	func TestApp(t *testing.T) {
//		RegisterFailHandler(Fail)
//		RunSpecs(t, "App", suite.CheckEverySpec())
//	}
//
// It lives apart from package matchers so that Gomega-only users do not
// link Ginkgo.
package suite
