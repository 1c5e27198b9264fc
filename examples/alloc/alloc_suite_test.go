package alloc_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/alloc"
)

func TestAlloc(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Allocation examples")
}

// failureOf runs an assertion that is expected to fail and returns its
// failure message, which the spec then shows in the report.
func failureOf(assertion func()) string {
	msg := InterceptGomegaFailure(assertion)
	Expect(msg).To(HaveOccurred(), "the assertion was expected to fail")
	AddReportEntry("residue's failure message", msg.Error())
	return msg.Error()
}

// Allocation figures are not exact under -race, where every measurement fails
// with alloc.ErrRace: the examples say so and skip.
var _ = BeforeEach(func() {
	if alloc.RaceEnabled {
		Skip("allocation figures are not exact under -race (alloc.ErrRace)")
	}
})
