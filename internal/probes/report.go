package probes

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/residue-go/residue/internal/stack"
)

// Report is what one probe found in one run, as the combined checks
// (residue.Find, HaveSideEffects, CheckEverySpec, the audit command) see it:
// they build their messages, figures and baselines from it, whatever the
// probe. A probe package implements it on a type of its own over its
// exported report (`type section Report`), so that the exported report
// carries only what a user reads: its findings and its message.
type Report interface {
	// Title names what the probe watches, as a section heading:
	// "Goroutines", "File descriptors".
	Title() string
	// Findings lists what the run left behind, one entry per group of
	// identical leftovers; empty when the run left nothing.
	Findings() []Finding
	// Counts are the run's figures, for reports and dashboards, found or
	// not: {"goroutines", 0}.
	Counts() []Count
	// Value is the probe package's own report (*leak.Report,
	// *alloc.Measurement…), what its Find and residue.Of return. Its String
	// is the full text of the findings, as a failure message shows them:
	// what was left and where it came from. It starts with a one-line
	// headline whose subject is "The block" ("The block left 2 goroutines
	// running…"), which combined checks replace ("The test left…").
	Value() fmt.Stringer
}

// Finding is one leftover, or one group of identical leftovers.
type Finding struct {
	// Key identifies the finding across runs and edits that move lines: it
	// names functions, kinds and paths, never line numbers or IDs.
	Key string
	// Count is how many leftovers the finding stands for.
	Count int
	// Summary is the finding in one line.
	Summary string
}

// Count is one figure of a run, such as {"goroutines", 2}.
type Count struct {
	Name  string
	Value int64
}

// Found reports whether r found anything; a nil report found nothing.
func Found(r Report) bool { return r != nil && len(r.Findings()) > 0 }

// Option configures one probe. Each probe package has an option type of its
// own, so a matcher for one probe accepts only that probe's options; the
// combined checks take options of every probe and hand each to the probe it
// names, failing when that probe does not run.
type Option interface {
	// Probe is the name of the probe the option configures, as in Kind.Name.
	Probe() string
	// String shows the option as it was written, for error messages:
	// `leak.Within(-1s)`.
	String() string
}

// Kind describes a probe to the combined checks: its name, whether it runs
// by default, and how to make one from options.
type Kind struct {
	// Name is how options and messages refer to the probe: "goroutines".
	Name string
	// OnDemand probes run only when one of their options is given (the
	// allocation probe needs a budget to judge).
	OnDemand bool
	// Brackets probes look first and last, around every other probe's
	// looks and waits: the globals probe, whose second snapshot must come
	// after the goroutines the block left have settled.
	Brackets bool
	// New makes a probe from the options addressed to it. Invalid options
	// are an error naming the option.
	New func(opts []Option) (Probe, error)
}

// selectOptions returns the options of type O among opts, in order, and an
// error naming any other option: one meant for another probe.
func selectOptions[O Option](probe string, opts []Option) ([]O, error) {
	var out []O
	var wrong []string
	for _, o := range opts {
		if o == nil {
			continue
		}
		if x, ok := o.(O); ok {
			out = append(out, x)
			continue
		}
		wrong = append(wrong, fmt.Sprintf("%s (an option of the %s probe)", o, o.Probe()))
	}
	if len(wrong) > 0 {
		return out, fmt.Errorf("%s does not apply to the %s probe", strings.Join(wrong, ", "), probe)
	}
	return out, nil
}

// Setting is an option of a probe whose configuration is C: each probe
// package declares `type Option = probes.Setting[config]`, so options of two
// probes are different types, and only the probe's package can make them.
type Setting[C any] struct {
	probe, desc string
	apply       func(*C) error
}

// Settings makes the options of one probe, whose configuration is C; a
// probe package declares
//
//	var option = probes.Settings[config]{Probe: name, Pkg: "procs"}
//
// and makes each of its options with option.New, option.Within or
// option.Glob.
type Settings[C any] struct {
	Probe string // the probe's name, as in Kind.Name
	Pkg   string // the probe package's name, first in every option's description
}

// New returns an option shown as the package's name and call
// (`leak.IgnoringCreator("pkg.fn")` for the call `IgnoringCreator("pkg.fn")`)
// that applies itself to the probe's configuration; apply returns an error
// for an invalid argument.
func (s Settings[C]) New(call string, apply func(*C) error) Setting[C] {
	return Setting[C]{probe: s.Probe, desc: s.Pkg + "." + call, apply: apply}
}

// DefaultWithin is the settle window of a probe that waits for leftovers to
// go away, when no Within option sets it.
const DefaultWithin = time.Second

// Within is the settle-window option of a probe that waits for leftovers to
// go away: it hands d to set, and a negative d is an error.
func (s Settings[C]) Within(d time.Duration, set func(*C, time.Duration)) Setting[C] {
	return s.New(fmt.Sprintf("Within(%v)", d), func(c *C) error {
		if d < 0 {
			return fmt.Errorf("the settle window must not be negative")
		}
		set(c, d)
		return nil
	})
}

// Glob is the option named fn that takes glob, in the syntax of
// path/filepath.Match, and hands it to add (`files.IgnoringPath("/tmp/x-*")`
// for fn "IgnoringPath"). An empty or malformed glob is an error saying it
// is not a pattern of what it matches, what ("path", "name").
func (s Settings[C]) Glob(fn, glob, what string, add func(*C)) Setting[C] {
	return s.New(fn+"("+strconv.Quote(glob)+")", func(c *C) error {
		if _, err := filepath.Match(glob, ""); err != nil || glob == "" {
			return fmt.Errorf("not a %s pattern of path/filepath.Match", what)
		}
		add(c)
		return nil
	})
}

// Probe implements Option.
func (s Setting[C]) Probe() string { return s.probe }

// String implements Option.
func (s Setting[C]) String() string { return s.desc }

// Configure applies opts in order to c, a probe's default configuration,
// and returns the result and the first error, naming the option; a zero
// Setting (not made by Settings) is an error too.
func Configure[C any](c C, opts []Setting[C]) (C, error) {
	for _, o := range opts {
		if o.apply == nil {
			return c, fmt.Errorf("an option of the zero value was given; make options with the probe package's functions")
		}
		if err := o.apply(&c); err != nil {
			return c, fmt.Errorf("%s: %w", o.desc, err)
		}
	}
	return c, nil
}

// NewKind describes a probe made by newProbe from its own options, so that
// a probe package registers itself with one line:
//
//	var kind = probes.Register(probes.NewKind("processes", newProbe))
//
// The Kind's other fields can be set on the result.
func NewKind[O Option, P Probe](name string, newProbe func(...O) (P, error)) Kind {
	return Kind{Name: name, New: func(opts []Option) (Probe, error) {
		own, err := selectOptions[O](name, opts)
		if err != nil {
			return nil, err
		}
		return newProbe(own...)
	}}
}

// ReportOf returns r as a Report, or nil when r is a nil pointer: a
// probe's Report method returns it, so that "no run yet" is a nil Report,
// never an interface holding a nil pointer.
func ReportOf[R any, P interface {
	*R
	Report
}](r P) Report {
	if r == nil {
		return nil
	}
	return r
}

// Find runs block once under the probe that k makes from opts and returns
// the probe's report: the body of the single-probe matchers, and, through
// Typed, of each probe package's Find. The report is nil when an option is
// invalid or the run could not start; it is set, with the error, when the
// block panicked or a probe failed after the block ran.
func Find[O Option](k Kind, block func(), opts []O) (Report, error) {
	all := make([]Option, len(opts))
	for i, o := range opts {
		all[i] = o
	}
	p, err := k.New(all)
	if err != nil {
		return nil, err
	}
	_, err = Exec(block, p)
	return p.Report(), err
}

// Typed returns the probe package's own report that r holds, as R, with
// err: `return probes.Typed[*Report](probes.Find(kind, block, opts))`.
func Typed[R fmt.Stringer](r Report, err error) (R, error) {
	var typed R
	if r != nil {
		typed, _ = r.Value().(R)
	}
	return typed, err
}

// registry holds every probe package's Kind, by name.
var registry = map[string]Kind{}

// Register records k under its name, for KindOf, and returns it: a probe
// package declares `var kind = probes.Register(probes.NewKind(…))`. A
// second Kind of the same name panics.
func Register(k Kind) Kind {
	if _, dup := registry[k.Name]; dup {
		panic("probes: two kinds named " + k.Name)
	}
	registry[k.Name] = k
	return k
}

// KindOf returns the Kind registered under name. It panics when there is
// none: the package that registers it is not linked in.
func KindOf(name string) Kind {
	k, ok := registry[name]
	if !ok {
		panic("probes: no kind named " + name + " is registered")
	}
	return k
}

// Frame is one call of a stack in a report: the function, its file and
// line.
type Frame = stack.Frame
