package suitewide_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/suite"
)

// TestSuiteWide checks every spec of the suite for side effects with one
// decorator on RunSpecs.
func TestSuiteWide(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Suite-wide checks", suite.CheckEverySpec(residue.Within(300*time.Millisecond)))
}

// showLeaks is set in the child process of TestLeakySpecsAreFailedByName,
// which adds specs that leave side effects.
var showLeaks = os.Getenv("RESIDUE_EXAMPLE_LEAKY_SPECS") != ""
