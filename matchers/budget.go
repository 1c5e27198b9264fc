package matchers

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/onsi/ginkgo/v2"
	gtypes "github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/alloc"
)

// StayWithinBudget succeeds when the block allocates no more objects and no
// more bytes than the budget called name records in the budget file
// (testdata/residue-budgets.json in the package's
// directory, unless alloc.BudgetFile is among opts):
//
//	Expect(func() { parseHeader(raw) }).To(StayWithinBudget("parse-header"))
//
// It fails when a figure is over its budget, with old → new and the sites,
// and when the file has no such budget. Run the tests with
// RESIDUE_UPDATE_BUDGETS=1 to record the current figures instead.
//
// A figure below 80% of its budget passes and is
// reported, so the budget can be tightened: as a Ginkgo report entry shown
// with the spec, or through GinkgoWriter outside a Ginkgo suite. With
// RESIDUE_STRICT_BUDGETS=1 it fails instead. An empty name is an error (the
// block is not run).
func StayWithinBudget(name string, opts ...alloc.Option) types.GomegaMatcher {
	return &budgetMatcher{name: name, opts: opts}
}

type budgetMatcher struct {
	name    string
	opts    []alloc.Option
	verdict *alloc.Verdict
}

func (b *budgetMatcher) Match(actual any) (bool, error) {
	if b.name == "" {
		return false, fmt.Errorf("StayWithinBudget(\"\"): a budget needs a name")
	}
	block, err := asBlock("StayWithinBudget", actual)
	if err != nil {
		return false, err
	}
	m, err := measure(fmt.Sprintf("StayWithinBudget(%q)", b.name), block, b.opts)
	if err != nil {
		return false, err
	}
	if b.verdict, err = alloc.CheckBudget(b.name, m, b.opts...); err != nil {
		return false, fmt.Errorf("StayWithinBudget(%q): %w", b.name, err)
	}
	if n := b.verdict.Note; n != "" {
		note(n)
	}
	return !b.verdict.Failed, nil
}

func (b *budgetMatcher) FailureMessage(any) string {
	return b.verdict.String()
}

func (b *budgetMatcher) NegatedFailureMessage(any) string {
	return fmt.Sprintf("Expected the block to go over its allocation budget %q, but it did not: %s", b.name, b.verdict)
}

// note reports something that does not fail the check: as a report entry of
// the running Ginkgo spec, always shown and placed at the assertion's line, or
// through GinkgoWriter elsewhere.
func note(text string) {
	if inGinkgoSpec() {
		ginkgo.AddReportEntry("residue", text, ginkgo.ReportEntryVisibilityAlways, assertionLocation())
		return
	}
	fmt.Fprintln(ginkgo.GinkgoWriter, text)
}

// inGinkgoSpec reports whether a Ginkgo spec is running.
func inGinkgoSpec() bool { return ginkgo.CurrentSpecReport().LeafNodeLocation.FileName != "" }

// isLibrary reports whether fn belongs to residue, Gomega or Ginkgo, not to
// the tests that use them.
func isLibrary(fn string) bool {
	for _, p := range []string{"matchers.", "alloc.", "probes.", "leak.", "internal/"} {
		if strings.HasPrefix(fn, "github.com/residue-go/residue/"+p) {
			return true
		}
	}
	return strings.HasPrefix(fn, "github.com/onsi/")
}

// assertionLocation returns the innermost caller outside residue, Gomega and
// Ginkgo: the line of the Expect.
func assertionLocation() gtypes.CodeLocation {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if !isLibrary(f.Function) {
			return gtypes.CodeLocation{FileName: f.File, LineNumber: f.Line}
		}
		if !more {
			return gtypes.NewCodeLocation(2)
		}
	}
}
