package container_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestContainer runs a suite with no decorator on RunSpecs: only the
// container decorated with suite.CheckEverySpec is checked.
func TestContainer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "One container checked")
}

// showLeaks is set in the child process of TestOnlyTheDecoratedContainerIsChecked,
// which adds specs that leave side effects.
var showLeaks = os.Getenv("RESIDUE_EXAMPLE_LEAKY_SPECS") != ""
