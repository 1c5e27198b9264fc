// Package residue runs a block of code under every residue probe at once and
// reports everything it left behind: goroutines still running, file
// descriptors and sockets still open, package-level variables and process
// state changed, and, when a budget is given, allocations past it.
//
//	report, err := residue.Find(func() { client.Fetch(url) })
//	if err != nil { … }           // a panic in the block, no debug info, …
//	if report.Found() { t.Error(report) }
//
// The same checks run over a whole test: Check(t) in a plain test,
// VerifyTestMain(m) around a test binary, and matchers.HaveSideEffects and
// matchers.CheckEverySpec with Gomega and Ginkgo. Each probe also has a
// package of its own (leak, globals, alloc) for one concern at a time.
package residue

import (
	"fmt"
	"strings"

	"github.com/residue-go/residue/alloc"
	"github.com/residue-go/residue/globals"
	"github.com/residue-go/residue/leak"
	"github.com/residue-go/residue/probes"
)

// Option configures which probes run and how.
type Option func(*config)

type config struct {
	leak      []leak.Option
	globals   []globals.Option
	noGlobals bool
	objects   int64 // -1: no limit
	bytes     int64 // -1: no limit
	alloc     []alloc.Option
}

func newConfig(opts []Option) *config {
	c := &config{objects: -1, bytes: -1}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// WithLeakOptions configures the goroutine and file descriptor probes, e.g.
// WithLeakOptions(leak.Within(2*time.Second), leak.IgnoringIdleHTTPConns()).
func WithLeakOptions(opts ...leak.Option) Option {
	return func(c *config) { c.leak = append(c.leak, opts...) }
}

// WithGlobalsOptions configures the globals probe, e.g.
// WithGlobalsOptions(globals.InPackages("example.com/app/...")).
func WithGlobalsOptions(opts ...globals.Option) Option {
	return func(c *config) { c.globals = append(c.globals, opts...) }
}

// WithoutGlobals leaves package-level variables and process state unchecked:
// for binaries built without debug info, or blocks that change globals on
// purpose.
func WithoutGlobals() Option {
	return func(c *config) { c.noGlobals = true }
}

// AllocatingAtMost adds the allocation probe with a budget of objects heap
// allocations on the block's own goroutine. Without a budget, allocations
// are not measured.
func AllocatingAtMost(objects int) Option {
	return func(c *config) { c.objects = int64(objects) }
}

// AllocatingBytesAtMost adds the allocation probe with a budget of bytes.
func AllocatingBytesAtMost(bytes int64) Option {
	return func(c *config) { c.bytes = bytes }
}

// WithAllocOptions configures the allocation probe, e.g. with alloc.AtMostIn
// limits; it adds the probe even without a total budget.
func WithAllocOptions(opts ...alloc.Option) Option {
	return func(c *config) { c.alloc = append(c.alloc, opts...) }
}

func (c *config) measuresAllocations() bool {
	return c.objects >= 0 || c.bytes >= 0 || len(c.alloc) > 0
}

// Report is what a block left behind, one field per probe that ran.
type Report struct {
	Goroutines  *leak.GoroutineReport
	FDs         *leak.FDReport
	Globals     *globals.Report    // nil with WithoutGlobals
	Allocations *alloc.Measurement // nil without an allocation budget
	Budget      alloc.Figures      // the budget; -1 where none was set
	OverBudget  bool               // Allocations exceed Budget or an alloc.AtMostIn limit
}

// Found reports whether the block left anything behind.
func (r *Report) Found() bool {
	return r.Goroutines.Leaked() || r.FDs.Leaked() || r.Globals.Changed() || r.OverBudget
}

// Sections returns one headed section per probe that found something.
func (r *Report) Sections() []string {
	var out []string
	if r.Goroutines.Leaked() {
		out = append(out, "Goroutines\n"+indent(r.Goroutines.String()))
	}
	if r.FDs.Leaked() {
		out = append(out, "File descriptors\n"+indent(r.FDs.String()))
	}
	if r.Globals.Changed() {
		out = append(out, "Global state\n"+indent(r.Globals.String()))
	}
	if r.OverBudget {
		out = append(out, "Allocations\n"+indent(r.allocationText()))
	}
	return out
}

func (r *Report) allocationText() string {
	var limits []string
	if r.Budget.Objects >= 0 {
		limits = append(limits, fmt.Sprintf("at most %d objects", r.Budget.Objects))
	}
	if r.Budget.Bytes >= 0 {
		limits = append(limits, fmt.Sprintf("at most %s", alloc.FormatBytes(r.Budget.Bytes)))
	}
	head := "The block allocated " + r.Allocations.String()
	if len(limits) > 0 {
		head = fmt.Sprintf("The block allocated %s; the budget is %s.\n%s",
			r.Allocations.Figures, strings.Join(limits, " and "), r.Allocations)
	}
	for _, l := range r.Allocations.Limits {
		if l.Exceeded() {
			head += "\n" + l.String()
		}
	}
	return head
}

// String formats the report as a failure message: a headline naming what
// was found, then a section per probe.
func (r *Report) String() string { return r.Describe("The block") }

// Describe is String with another subject in the headline, such as
// "The spec".
func (r *Report) Describe(subject string) string {
	secs := r.Sections()
	if len(secs) == 0 {
		return subject + " left nothing behind."
	}
	var names []string
	for _, s := range secs {
		name, _, _ := strings.Cut(s, "\n")
		names = append(names, strings.ToLower(name))
	}
	return fmt.Sprintf("%s left side effects (%s):\n\n%s", subject, strings.Join(names, ", "), strings.Join(secs, "\n\n"))
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n")
}

// Session is a run of every probe around a block that may be entered more
// than once, from several goroutines: the nodes of one Ginkgo spec, or a
// test body and its subtests.
type Session struct {
	cfg        *config
	run        *probes.Run
	goroutines *leak.GoroutineProbe
	fds        *leak.FDProbe
	globals    *globals.Probe
	alloc      *alloc.Probe
}

// Start begins a session: every probe takes its "before" look now.
func Start(opts ...Option) (*Session, error) {
	s, ps := newSession(opts)
	run, err := probes.Start(ps...)
	s.run = run
	return s, err
}

// newSession creates the probes the options ask for, in the order they must
// run: Before runs in this order and After in reverse, so the globals
// snapshot brackets everything, and the allocation probe records only while
// the block itself runs, never the other probes' work.
func newSession(opts []Option) (*Session, []probes.Probe) {
	s := &Session{cfg: newConfig(opts)}
	s.goroutines = leak.NewGoroutineProbe(s.cfg.leak...)
	s.fds = leak.NewFDProbe(s.cfg.leak...)
	var ps []probes.Probe
	if !s.cfg.noGlobals {
		s.globals = globals.NewProbe(s.cfg.globals...)
		ps = append(ps, s.globals)
	}
	ps = append(ps, s.fds, s.goroutines)
	if s.cfg.measuresAllocations() {
		s.alloc = alloc.NewProbe(s.cfg.alloc...)
		ps = append(ps, s.alloc)
	}
	return s, ps
}

// Enter runs f on the calling goroutine as part of the session's block. A
// panic in f passes through.
func (s *Session) Enter(f func()) { s.run.Enter(f) }

// Finish ends the session: the probes settle and take their "after" look.
func (s *Session) Finish() (*Report, error) {
	err := s.run.Finish()
	return s.report(), err
}

func (s *Session) report() *Report {
	r := &Report{Goroutines: s.goroutines.Report(), FDs: s.fds.Report(), Budget: alloc.Figures{Objects: s.cfg.objects, Bytes: s.cfg.bytes}}
	if s.globals != nil {
		r.Globals = s.globals.Report()
	}
	if s.alloc != nil && s.alloc.Result() != nil {
		m := s.alloc.Result()
		r.Allocations = m
		r.OverBudget = (s.cfg.objects >= 0 && m.Objects > s.cfg.objects) ||
			(s.cfg.bytes >= 0 && m.Bytes > s.cfg.bytes) || len(m.Exceeded()) > 0
	}
	return r
}

// Find runs block once, on a new goroutine, under every probe. The error is
// set when the block panicked or called runtime.Goexit, or a probe could not
// run (no debug info for the globals probe, a race-detector build for the
// allocation probe).
func Find(block func(), opts ...Option) (*Report, error) {
	s, ps := newSession(opts)
	run, err := probes.Exec(block, ps...)
	s.run = run
	return s.report(), err
}
