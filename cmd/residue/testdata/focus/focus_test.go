package focus

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
)

// TestFocused runs a suite with a focused spec: Ginkgo ends the test
// binary with exit status 197 once the focused specs pass.
func TestFocused(t *testing.T) {
	RunSpecs(t, "Focused suite")
}

var _ = Describe("a store", func() {
	FIt("is focused", func() {})
	It("is not run", func() {})
})
