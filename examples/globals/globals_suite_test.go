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
