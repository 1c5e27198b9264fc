package suite

import (
	"net/http"
	"net/http/httptest"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/suite"
)

// The suite checks every spec itself; audited, each spec is still checked
// by it, and passes as it does under plain go test.
func TestSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Checked suite", suite.CheckEverySpec())
}

var _ = Describe("a server", func() {
	var srv *httptest.Server
	BeforeEach(func() {
		srv = httptest.NewServer(http.NotFoundHandler())
	})
	AfterEach(func() {
		srv.Close()
	})

	It("is closed by the AfterEach", func() {
		Expect(srv.URL).NotTo(BeEmpty())
	})
})

var _ = Describe("a worker", func() {
	It("is stopped by a DeferCleanup", func() {
		stop := make(chan struct{})
		go func() { <-stop }()
		DeferCleanup(func() { close(stop) })
	})
})
