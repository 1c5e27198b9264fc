package matchers

import (
	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/leak"
)

// LeakGoroutines succeeds when the block leaves goroutines running: ones it
// started, directly or through other goroutines, that are still alive after
// it returned and the settle window (leak.Within, default 1s) passed. Use it
// with NotTo. Goroutines started by anything else, such as tests running in
// parallel, are never counted.
func LeakGoroutines(opts ...leak.Option) types.GomegaMatcher {
	return &leakGoroutinesMatcher{opts: opts}
}

type leakGoroutinesMatcher struct {
	opts   []leak.Option
	report *leak.GoroutineReport
}

func (m *leakGoroutinesMatcher) Match(actual any) (bool, error) {
	p := leak.NewGoroutineProbe(m.opts...)
	if err := runBlock("LeakGoroutines", actual, p); err != nil {
		return false, err
	}
	m.report = p.Report()
	return m.report.Leaked(), nil
}

func (m *leakGoroutinesMatcher) FailureMessage(any) string {
	return "Expected the block to leak goroutines, but it left none running (settle window " + m.report.Within.String() + ")"
}

func (m *leakGoroutinesMatcher) NegatedFailureMessage(any) string {
	return "Expected the block not to leak goroutines.\n" + m.report.String()
}
