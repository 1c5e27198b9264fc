package alloc_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/alloc"
	"github.com/residue-go/residue/examples/internal/show"
	. "github.com/residue-go/residue/matchers"
)

// Header is one "Key: value" line.
type Header struct{ Key, Value string }

// parseHeader is code under test: it splits a header line and canonicalises
// the key. It allocates only when the key is not already canonical.
func parseHeader(line string) (Header, bool) {
	key, value, ok := strings.Cut(line, ":")
	if !ok {
		return Header{}, false
	}
	return Header{Key: strings.ToLower(key), Value: strings.TrimSpace(value)}, true
}

// parseHeaderV2 is the same after a change that copies the value "to be
// safe": the budget gate catches it.
func parseHeaderV2(line string) (Header, bool) {
	h, ok := parseHeader(line)
	h.Value = strings.Clone(h.Value) + ""
	h.Key = string([]byte(h.Key))
	return h, ok
}

// checksum is code under test that never allocates.
func checksum(b []byte) uint32 {
	a, s := uint32(1), uint32(0)
	for _, c := range b {
		a = (a + uint32(c)) % 65521
		s = (s + a) % 65521
	}
	return s<<16 | a
}

// The specs keep results in these package-level sinks, so that the
// compiler keeps the calls; each spec puts them back when it ends, so that
// no spec leaves global state changed for the next.
var (
	header Header
	sum    uint32
)

var _ = AfterEach(func() { header, sum = Header{}, 0 })

var _ = Describe("a zero-allocation function", func() {
	It("does not allocate", func() {
		data := []byte("residue measures exactly")
		Expect(func() { sum = checksum(data) }).NotTo(Allocate())
	})
})

var _ = Describe("a function over its limit", func() {
	It("names the lines that allocated", func() {
		msg := show.FailureOf(func() {
			Expect(func() { header, _ = parseHeader("Content-Type: text/plain") }).To(AllocateAtMost(0))
		})
		Expect(msg).To(ContainSubstring("Expected the block to allocate at most 0 objects, but it allocated 1 object, 16 B in 1 site"))
		Expect(msg).To(ContainSubstring("strings.(*Builder).grow  strings/builder.go:"))
		Expect(msg).To(ContainSubstring("from github.com/residue-go/residue/examples/alloc_test.parseHeader  alloc/alloc_test.go:26"))
	})

	It("holds once the key is canonical", func() {
		Expect(func() { header, _ = parseHeader("content-type: text/plain") }).NotTo(Allocate())
	})
})

var _ = Describe("a budget kept in testdata/residue-budgets.json", func() {
	// The file is committed beside this test; RESIDUE_UPDATE_BUDGETS=1 rewrites it.
	It("holds for the current code", func() {
		Expect(func() { header, _ = parseHeader("Content-Type: text/plain") }).To(StayWithinBudget("parse-header"))
	})
})

var _ = Describe("a budget file round trip", func() {
	var path string

	BeforeEach(func() {
		path = filepath.Join(GinkgoT().TempDir(), "testdata", "residue-budgets.json")
		setenv := func(k, v string) {
			old, had := os.LookupEnv(k)
			os.Setenv(k, v)
			DeferCleanup(func() {
				if had {
					os.Setenv(k, old)
				} else {
					os.Unsetenv(k)
				}
			})
		}
		setenv("RESIDUE_UPDATE_BUDGETS", "1")
		Expect(func() { header, _ = parseHeader("Content-Type: text/plain") }).To(StayWithinBudget("parse-header", alloc.BudgetFile(path)))
		setenv("RESIDUE_UPDATE_BUDGETS", "")
	})

	It("records the figures", func() {
		Expect(os.ReadFile(path)).To(BeEquivalentTo("{\n  \"parse-header\": {\"objects\": 1, \"bytes\": 16}\n}\n"))
	})

	It("fails a regression with old → new and the new sites", func() {
		msg := show.FailureOf(func() {
			Expect(func() { header, _ = parseHeaderV2("Content-Type: text/plain") }).To(StayWithinBudget("parse-header", alloc.BudgetFile(path)))
		})
		Expect(msg).To(ContainSubstring(`allocation budget "parse-header" exceeded`))
		Expect(msg).To(ContainSubstring("objects: 1 → 3 (+2)"))
		Expect(msg).To(ContainSubstring("parseHeaderV2  alloc/alloc_test.go:"))
	})

	It("reports room to tighten, and tightens", func() {
		// A well-under figure passes, with a report entry saying so.
		Expect(func() { header, _ = parseHeader("content-type: text/plain") }).To(StayWithinBudget("parse-header", alloc.BudgetFile(path)))

		os.Setenv("RESIDUE_UPDATE_BUDGETS", "1")
		Expect(func() { header, _ = parseHeader("content-type: text/plain") }).To(StayWithinBudget("parse-header", alloc.BudgetFile(path)))
		os.Setenv("RESIDUE_UPDATE_BUDGETS", "")
		Expect(os.ReadFile(path)).To(BeEquivalentTo("{\n  \"parse-header\": {\"objects\": 0, \"bytes\": 0}\n}\n"))
	})
})
