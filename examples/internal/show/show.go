// Package show lets the example suites display the failure messages residue
// produces: a spec runs an assertion it expects to fail, checks the message,
// and the message is printed in the suite's report.
package show

import (
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// FailureOf runs an assertion that is expected to fail, fails the spec if it
// does not, attaches the failure message to the spec's report and returns it.
func FailureOf(assertion func()) string {
	err := gomega.InterceptGomegaFailure(assertion)
	gomega.Expect(err).To(gomega.HaveOccurred(), "the assertion was expected to fail")
	ginkgo.AddReportEntry("residue's failure message", err.Error(), ginkgo.Offset(1))
	return err.Error()
}
