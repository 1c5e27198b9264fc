package failing

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestSuite runs a suite two of whose specs fail: the run counts the two
// specs, not the one test that ran them.
func TestSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Failing suite")
}

func TestPlainFails(t *testing.T) {
	t.Error("fails on its own")
}

var _ = Describe("a parser", func() {
	It("fails once", func() { Expect(1).To(Equal(2)) })
	It("fails twice", func() { Expect("a").To(Equal("b")) })
	It("passes", func() { Expect(1).To(Equal(1)) })
})
