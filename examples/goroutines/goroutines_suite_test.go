package goroutines_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/suite"
)

func TestGoroutines(t *testing.T) {
	RegisterFailHandler(Fail)
	// Every spec, as a whole, must also leave nothing behind: the leaks the
	// specs provoke inside their blocks are cleaned up by DeferCleanup.
	RunSpecs(t, "Goroutine leak examples", suite.CheckEverySpec())
}
