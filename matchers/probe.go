package matchers

import (
	"fmt"

	"github.com/residue-go/residue/probes"
)

// probeMatcher adapts one probe to Gomega: it runs the block once under the
// probe and matches when the probe found something.
type probeMatcher[R probes.Report] struct {
	name     string // the matcher, for errors: "LeakGoroutines"
	verb     string // what the block is expected to do: "leak goroutines"
	newProbe func() (probes.Probe, error)
	none     func(R) string // why a positive expectation failed
	report   R
}

func (m *probeMatcher[R]) Match(actual any) (bool, error) {
	block, err := probes.Block(m.name, actual)
	if err != nil {
		return false, err
	}
	p, err := m.newProbe()
	if err != nil {
		return false, fmt.Errorf("%s: %w", m.name, err)
	}
	if _, err := probes.Exec(block, p); err != nil {
		return false, fmt.Errorf("%s: %w", m.name, err)
	}
	m.report, _ = p.Report().(R)
	return probes.Found(m.report), nil
}

func (m *probeMatcher[R]) FailureMessage(any) string {
	return "Expected the block to " + m.verb + ", but " + m.none(m.report)
}

func (m *probeMatcher[R]) NegatedFailureMessage(any) string {
	return "Expected the block not to " + m.verb + ".\n" + m.report.String()
}

// probe returns a constructor of p as a probes.Probe, for probeMatcher.
func probe[P probes.Probe](newProbe func() (P, error)) func() (probes.Probe, error) {
	return func() (probes.Probe, error) { return newProbe() }
}
