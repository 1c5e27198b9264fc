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

// Allocation figures are not exact under -race, where every measurement fails
// with alloc.ErrRace: the examples say so and skip.
var _ = BeforeEach(func() {
	if alloc.RaceEnabled {
		Skip("allocation figures are not exact under -race (alloc.ErrRace)")
	}
})
