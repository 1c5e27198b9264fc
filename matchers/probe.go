package matchers

import (
	"fmt"

	"github.com/residue-go/residue/internal/probes"
)

// probeMatcher adapts one probe to Gomega: it runs the block once under the
// probe and matches when the probe found something.
type probeMatcher[R fmt.Stringer] struct {
	name   string                                    // the matcher, for errors: "LeakGoroutines"
	verb   string                                    // what the block is expected to do: "leak goroutines"
	find   func(block func()) (probes.Report, error) // runs the probe, see probeFind
	none   func(R) string                            // why a positive expectation failed
	report probes.Report
}

// probeFind runs a block under the probe registered as kind, made from
// opts.
func probeFind[O probes.Option](kind string, opts []O) func(block func()) (probes.Report, error) {
	return func(block func()) (probes.Report, error) { return probes.Find(probes.KindOf(kind), block, opts) }
}

func (m *probeMatcher[R]) Match(actual any) (bool, error) {
	block, err := asBlock(m.name, actual)
	if err != nil {
		return false, err
	}
	if m.report, err = m.find(block); err != nil {
		return false, fmt.Errorf("%s: %w", m.name, err)
	}
	return probes.Found(m.report), nil
}

func (m *probeMatcher[R]) FailureMessage(any) string {
	return "Expected the block to " + m.verb + ", but " + m.none(m.report.Value().(R))
}

func (m *probeMatcher[R]) NegatedFailureMessage(any) string {
	return "Expected the block not to " + m.verb + ".\n" + m.report.Value().String()
}
