package matchers

import (
	"fmt"

	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue"
)

// HaveSideEffects succeeds when the block leaves anything behind: goroutines
// still running, file descriptors or sockets still open, package-level
// variables or process state changed, or, when a budget is given
// (residue.AllocatingAtMost), allocations past it. Use it with NotTo. The
// block runs once under every probe; the failure message has a section per
// probe that found something.
func HaveSideEffects(opts ...residue.Option) types.GomegaMatcher {
	return &sideEffectsMatcher{opts: opts}
}

type sideEffectsMatcher struct {
	opts   []residue.Option
	report *residue.Report
}

func (m *sideEffectsMatcher) Match(actual any) (bool, error) {
	block, err := asBlock("HaveSideEffects", actual)
	if err != nil {
		return false, err
	}
	m.report, err = residue.Find(block, m.opts...)
	if err != nil {
		return false, fmt.Errorf("HaveSideEffects: %w", err)
	}
	return m.report.Found(), nil
}

func (m *sideEffectsMatcher) FailureMessage(any) string {
	return "Expected the block to have side effects, but it left nothing behind"
}

func (m *sideEffectsMatcher) NegatedFailureMessage(any) string {
	return "Expected the block to have no side effects.\n" + m.report.String()
}
