// Package combined runs every registered probe around one block: the
// combined check behind residue.Find, Check and VerifyTestMain, the
// HaveSideEffects matcher, suite.CheckEverySpec and the audit hook. It hands
// each option to the probe it names and builds one report from the probes'
// reports.
package combined

import (
	"fmt"
	"strings"
	"time"

	_ "github.com/residue-go/residue/alloc" // registers "allocations"
	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/files"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/text"
	"github.com/residue-go/residue/leak"
	"github.com/residue-go/residue/procs"
)

// kinds are the probes a combined check runs, in the order their reports
// are shown. Their Before runs in this order (After in reverse), but for
// the probes whose looks bracket the others' (the globals snapshot), which
// come first. The allocation probe, last, records only while the block
// itself runs. A new probe is one package and one name here.
var kinds = []probes.Kind{
	probes.KindOf("goroutines"),
	probes.KindOf("descriptors"),
	probes.KindOf("processes"),
	probes.KindOf("files"),
	probes.KindOf(globalsProbe),
	probes.KindOf("allocations"),
}

// globalsProbe is the name of the globals probe, which a combined check
// may leave out.
const globalsProbe = "globals"

// Option configures a combined check: an option of any probe package,
// handed to the probe it names, or one of the check's own.
type Option = probes.Option

// WithoutGlobals leaves package-level variables and process state
// unchecked.
func WithoutGlobals() Option { return without(globalsProbe) }

// Within sets the settle window of every probe that waits for leftovers to
// go away; a probe's own Within option overrides it.
func Within(d time.Duration) Option {
	return ownOption{desc: fmt.Sprintf("residue.Within(%v)", d),
		defaults: []Option{leak.Within(d), fds.Within(d), procs.Within(d), files.Within(d)}}
}

// LeavingOutGlobals returns opts without the globals probe's options, and
// with WithoutGlobals: for a check whose global state is judged by others.
func LeavingOutGlobals(opts []Option) []Option {
	var out []Option
	for _, o := range opts {
		if o != nil && o.Probe() != globalsProbe {
			out = append(out, o)
		}
	}
	return append(out, WithoutGlobals())
}

// ownOption is an option of the combined check itself: it sets the
// check's configuration, or gives defaults to several probes.
type ownOption struct {
	desc     string
	apply    func(*config)
	defaults []Option // applied before each probe's own options
}

func (o ownOption) Probe() string  { return "residue" }
func (o ownOption) String() string { return o.desc }

func without(probe string) Option {
	return ownOption{desc: "residue.Without" + strings.ToUpper(probe[:1]) + probe[1:] + "()", apply: func(c *config) { c.off[probe] = true }}
}

type config struct {
	off map[string]bool // probes left out
}

// newProbes makes the probes opts ask for, handing each probe the options
// that name it, and returns them in the order of kinds and in run order. An
// option for a probe that does not run, or an invalid one, is an error
// naming it.
func newProbes(opts []Option) (shown, run []probes.Probe, err error) {
	c := config{off: map[string]bool{}}
	byProbe, defaults := map[string][]probes.Option{}, map[string][]probes.Option{}
	for _, o := range opts {
		switch o := o.(type) {
		case nil:
		case ownOption:
			if o.apply != nil {
				o.apply(&c)
			}
			for _, d := range o.defaults {
				defaults[d.Probe()] = append(defaults[d.Probe()], d)
			}
		default:
			byProbe[o.Probe()] = append(byProbe[o.Probe()], o)
		}
	}
	var brackets []probes.Probe
	for _, k := range kinds {
		own := byProbe[k.Name]
		delete(byProbe, k.Name)
		if c.off[k.Name] {
			if len(own) > 0 {
				return nil, nil, fmt.Errorf("%s configures the %s probe, which WithoutGlobals leaves out", own[0], k.Name)
			}
			continue
		}
		if k.OnDemand && len(own) == 0 {
			continue
		}
		p, err := k.New(append(defaults[k.Name], own...))
		if err != nil {
			return nil, nil, err
		}
		if k.Name == globalsProbe {
			p = &optionalGlobals{Probe: p}
		}
		shown = append(shown, p)
		if k.Brackets {
			brackets = append(brackets, p)
		} else {
			run = append(run, p)
		}
	}
	for name, own := range byProbe {
		return nil, nil, fmt.Errorf("%s configures the %s probe, which a combined check does not run", own[0], name)
	}
	return shown, append(brackets, run...), nil
}

// Report is what a block left behind: the report of every probe that ran.
type Report struct {
	// Sections holds one report per probe that ran, in the order of kinds;
	// a probe that could not finish its look has none.
	Sections []probes.Report
}

// Found reports whether the block left anything behind.
func (r *Report) Found() bool {
	for _, p := range r.Sections {
		if probes.Found(p) {
			return true
		}
	}
	return false
}

// Counts returns the figures of every probe that ran.
func (r *Report) Counts() []probes.Count {
	var out []probes.Count
	for _, p := range r.Sections {
		out = append(out, p.Counts()...)
	}
	return out
}

// Describe formats the report as a failure message whose subject is
// subject ("The block", "The spec"): a headline naming what was found,
// then a section per probe.
func (r *Report) Describe(subject string) string {
	var names, secs []string
	note := ""
	for _, p := range r.Sections {
		if u, ok := p.(unchecked); ok {
			note = "\n\n(" + string(u) + ")"
		}
		if probes.Found(p) {
			names = append(names, strings.ToLower(p.Title()))
			// A probe's text starts with a headline about "The block".
			body := p.Value().String()
			if rest, ok := strings.CutPrefix(body, "The block "); ok {
				body = subject + " " + rest
			}
			secs = append(secs, p.Title()+"\n"+text.Indent(body, "  "))
		}
	}
	if len(secs) == 0 {
		return subject + " left nothing behind." + note
	}
	return fmt.Sprintf("%s left side effects (%s):\n\n%s%s", subject, strings.Join(names, ", "), strings.Join(secs, "\n\n"), note)
}

// Session is a run of every probe around a block that may be entered more
// than once, from several goroutines: the nodes of one Ginkgo spec, or a
// test body and its subtests.
type Session struct {
	run    *probes.Run
	probes []probes.Probe // in the order of kinds
}

// Start begins a session: every probe takes its "before" look now.
func Start(opts ...Option) (*Session, error) {
	shown, order, err := newProbes(opts)
	if err != nil {
		return nil, err
	}
	run, err := probes.Start(order...)
	return &Session{run: run, probes: shown}, err
}

// Enter runs f on the calling goroutine as part of the session's block. A
// panic in f passes through.
func (s *Session) Enter(f func()) { s.run.Enter(f) }

// Adopt makes the calling goroutine part of the session's block from now
// on, as Enter does for one call: the goroutines it starts are the block's.
// restore ends that and must be called on the same goroutine.
func (s *Session) Adopt() (restore func()) { return s.run.Adopt() }

// Pausing tells the session that its block is about to wait while other
// blocks run (probes.Run.Pausing).
func (s *Session) Pausing() { s.run.Pausing() }

// Resumed tells the session that its block, paused while other blocks
// ran, runs again (probes.Run.Resumed).
func (s *Session) Resumed() { s.run.Resumed() }

// Finish ends the session: the probes settle and take their "after" look.
func (s *Session) Finish() (*Report, error) {
	err := s.run.Finish()
	return s.report(), err
}

func (s *Session) report() *Report {
	r := &Report{}
	for _, p := range s.probes {
		if pr := p.Report(); pr != nil {
			r.Sections = append(r.Sections, pr)
		}
	}
	return r
}

// Find runs block once, on a new goroutine, under every probe that opts
// ask for.
func Find(block func(), opts ...Option) (*Report, error) {
	shown, order, err := newProbes(opts)
	if err != nil {
		return nil, err
	}
	s := &Session{probes: shown}
	s.run, err = probes.Exec(block, order...)
	return s.report(), err
}
