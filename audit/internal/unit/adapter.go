package unit

import (
	"fmt"
	"strings"
	"time"

	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/files"
	"github.com/residue-go/residue/globals"
	"github.com/residue-go/residue/internal/combined"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/record"
	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/leak"
	"github.com/residue-go/residue/procs"
)

// session is what a unit needs of a residue session.
type session interface {
	Adopt() (restore func())
	Enter(f func())
	// Pausing says the test is about to call t.Parallel
	// (probes.Run.Pausing); Resumed that it returned from it
	// (probes.Run.Resumed).
	Pausing()
	Resumed()
	// Finish ends the session; report is the full text of what was found.
	// unattributed are the global changes seen while other tests or checks
	// ran (see record.Record.Unattributed), which are not in c and fs.
	Finish() (c record.Counts, fs, unattributed []record.Finding, report string, err error)
}

// start is the one place that knows the combined check's session and report API: it
// starts a session with every default probe, the globals probe as scope
// says (see record.EnvGlobals) leaving out what ignore names
// (record.EnvIgnoreGlobals), the files probe when files is set, and turns
// its report into counts and findings.
func start(scope string, ignore []string, within string, withFiles bool) (session, error) {
	var opts []combined.Option
	window := probes.DefaultWithin
	if within != "" {
		d, err := time.ParseDuration(within)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %v", record.EnvWithin, within, err)
		}
		opts = append(opts, combined.Within(d))
		window = d
	}
	if withFiles {
		// The files probe runs on demand: an option of its own turns it on.
		opts = append(opts, files.Within(window))
	}
	switch scope {
	case "":
	case "off":
		opts = append(opts, combined.WithoutGlobals())
	default:
		opts = append(opts, globals.InPackages(strings.Split(scope, ",")...))
	}
	if len(ignore) > 0 && scope != "off" {
		opts = append(opts, globals.Ignoring(ignore...))
	}
	s, err := combined.Start(opts...)
	if s == nil {
		return nil, err
	}
	return adapted{s}, err
}

type adapted struct{ s *combined.Session }

func (a adapted) Adopt() func()  { return a.s.Adopt() }
func (a adapted) Enter(f func()) { a.s.Enter(f) }
func (a adapted) Pausing()       { a.s.Pausing() }
func (a adapted) Resumed()       { a.s.Resumed() }

func (a adapted) Finish() (c record.Counts, fs, unattributed []record.Finding, report string, err error) {
	r, err := a.s.Finish()
	if r == nil {
		return c, nil, nil, "", err
	}
	for _, p := range r.Sections {
		name, n := probeName(p), 0
		// Global changes seen while another test or check ran may be the
		// other's, possibly undone before it ends: not this test's.
		g, ok := p.Value().(*globals.Report)
		beside := ok && len(g.Concurrent) > 0
		for _, f := range p.Findings() {
			rf := record.Finding{Probe: name, Key: f.Key, Count: f.Count, Text: f.Summary}
			if name != record.Globals {
				// Named after functions, as the runtime spells them:
				// keyed by the packages' import paths, which the
				// baseline and the package column use.
				rf.Key, rf.Text = stack.Unescape(rf.Key), stack.Unescape(rf.Text)
			}
			if beside {
				unattributed = append(unattributed, rf)
				continue
			}
			fs = append(fs, rf)
			n += f.Count
		}
		switch name {
		case record.Goroutines:
			c.Goroutines = n
		case record.Descriptors:
			c.Descriptors = n
		case record.Processes:
			c.Processes = n
		case record.Files:
			c.Files = &n
		case record.Globals:
			c.Globals = n
		}
	}
	if len(fs) > 0 {
		report = r.Describe("The test")
	}
	return c, fs, unattributed, report, err
}

// probeName names a probe's report in records.
func probeName(p probes.Report) string {
	switch p.Value().(type) {
	case *leak.Report:
		return record.Goroutines
	case *fds.Report:
		return record.Descriptors
	case *procs.Report:
		return record.Processes
	case *files.Report:
		return record.Files
	case *globals.Report:
		return record.Globals
	}
	return strings.ToLower(p.Title())
}
