// Package residue runs a block of code under every residue probe at once and
// reports everything it left behind: goroutines still running, file
// descriptors and sockets still open, child processes not waited for,
// package-level variables and process state changed, and, when asked, files
// left behind and allocations past a budget.
//
//	report, err := residue.Find(func() { client.Fetch(url) })
//	if err != nil { … }           // a panic in the block, no debug info, …
//	if report.Found() { t.Error(report) }
//
// The same checks run over a whole test: Check(t) in a plain test,
// VerifyTestMain(m) around a test binary, matchers.HaveSideEffects with
// Gomega and suite.CheckEverySpec with Ginkgo. Each probe also has a package
// of its own (leak, fds, procs, files, globals, alloc) for one concern at a
// time, and its options configure it here too:
//
//	residue.Find(block, leak.Within(2*time.Second), fds.IgnoringIdleHTTPConns(), alloc.AtMost(10))
package residue

import (
	"time"

	"github.com/residue-go/residue/internal/combined"
	"github.com/residue-go/residue/internal/probes"
)

// Option configures a combined check: an option of any probe package
// (leak.Within, fds.IgnoringIdleHTTPConns, globals.InPackages, alloc.AtMost…),
// handed to the probe it names, or one of this package's. An option for a
// probe that does not run is an error naming it.
type Option = probes.Option

// WithoutGlobals leaves package-level variables and process state unchecked:
// for binaries built without debug info, or blocks that change globals on
// purpose.
func WithoutGlobals() Option { return combined.WithoutGlobals() }

// Within sets the settle window of every probe that waits for leftovers to
// go away; a probe's own Within option (leak.Within, fds.Within…)
// overrides it. It turns no on-demand probe on.
func Within(d time.Duration) Option { return combined.Within(d) }

// Report is what a block left behind: the report of every probe that ran.
type Report struct {
	c *combined.Report
}

// Of returns the report of type T in r (*leak.Report, *fds.Report,
// *procs.Report, *files.Report, *globals.Report, *alloc.Measurement), or
// the zero T when that probe did not run.
func Of[T any](r *Report) T {
	var zero T
	if r == nil || r.c == nil {
		return zero
	}
	for _, p := range r.c.Sections {
		if t, ok := p.Value().(T); ok {
			return t
		}
	}
	return zero
}

// Found reports whether the block left anything behind.
func (r *Report) Found() bool { return r.c.Found() }

// String formats the report as a failure message: a headline naming what
// was found, then a section per probe.
func (r *Report) String() string { return r.c.Describe("The block") }

// Find runs block once, on a new goroutine, under every probe. The error is
// set when an option is invalid or meant for a probe that does not run,
// when the block panicked or called runtime.Goexit, or when a probe could
// not run (no debug info for the globals probe, a race-detector build for
// the allocation probe); the report then holds what the probes that ran
// found.
func Find(block func(), opts ...Option) (*Report, error) {
	c, err := combined.Find(block, opts...)
	if c == nil {
		return nil, err
	}
	return &Report{c: c}, err
}
