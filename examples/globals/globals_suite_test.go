package globals_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Run with debug info kept, which MutateGlobals needs to find variables:
//
//	go test -ldflags=-w=0 ./globals/
//	ginkgo --ldflags=-w=0 ./globals/
func TestGlobals(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Global state examples")
}

// failureOf runs an assertion that is expected to fail and returns its
// failure message, which the spec then shows in the report.
func failureOf(assertion func()) string {
	msg := InterceptGomegaFailure(assertion)
	Expect(msg).To(HaveOccurred(), "the assertion was expected to fail")
	AddReportEntry("residue's failure message", msg.Error())
	return msg.Error()
}
