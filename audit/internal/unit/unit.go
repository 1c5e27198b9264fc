// Package unit runs one test or spec under residue's probes and appends
// what it left behind to the audit file, as a record.Record.
package unit

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/residue-go/residue/internal/record"
	"github.com/residue-go/residue/internal/stack"
)

// Unit is a test or spec being audited.
type Unit struct {
	rec     record.Record
	file    string
	start   time.Time
	session session
	err     error
}

// Begin starts auditing a test or spec: every probe takes its "before" look
// now. fn is the function that declares it, as runtime.FuncForPC names it
// ("example.com/m/pkg.TestX"). Begin returns nil, and nothing is audited,
// when the process was not started by `residue test` (the audit file is
// not set).
func Begin(fn, name string, spec bool) *Unit {
	if env.file == "" {
		return nil
	}
	pkg := underTest
	if pkg == "" {
		pkg = PackageOf(fn)
	}
	u := &Unit{rec: record.Record{Package: pkg, Test: name, Spec: spec}, file: env.file, start: time.Now()}
	u.session, u.err = start(env.globals, env.ignore, env.within, env.files)
	return u
}

// env is what the command put in the environment of the test binary, taken
// out of it when the binary starts: the tests see the environment they see
// under plain go test, and a test binary or program they start again (a
// test that runs its own binary with other flags) is not audited and
// writes no records under the names of this one's tests.
var env = takeEnv()

func takeEnv() (e struct {
	file, globals, within string
	ignore                []string
	files                 bool
}) {
	e.file, e.globals, e.within = os.Getenv(record.EnvFile), os.Getenv(record.EnvGlobals), os.Getenv(record.EnvWithin)
	if names := os.Getenv(record.EnvIgnoreGlobals); names != "" {
		e.ignore = strings.Split(names, "\n")
	}
	e.files = os.Getenv(record.EnvFiles) == "on"
	for carrier, name := range record.Restored {
		x, ok := os.LookupEnv(carrier)
		if !ok {
			continue
		}
		if v, had := strings.CutPrefix(x, "="); had {
			os.Setenv(name, v)
		} else {
			os.Unsetenv(name)
		}
		os.Unsetenv(carrier)
	}
	for _, name := range []string{record.EnvFile, record.EnvGlobals, record.EnvIgnoreGlobals, record.EnvWithin, record.EnvFiles} {
		os.Unsetenv(name)
	}
	return e
}

// Adopt makes the calling goroutine part of the unit until restore is
// called on it.
func (u *Unit) Adopt() (restore func()) {
	if u.session == nil {
		return func() {}
	}
	return u.session.Adopt()
}

// Enter runs f on the calling goroutine as part of the unit.
func (u *Unit) Enter(f func()) {
	if u.session == nil {
		f()
		return
	}
	u.session.Enter(f)
}

// Pausing tells the unit that its test is about to call t.Parallel.
func (u *Unit) Pausing() {
	if u.session != nil {
		u.session.Pausing()
	}
}

// Resumed tells the unit that its test resumed from t.Parallel.
func (u *Unit) Resumed() {
	if u.session != nil {
		u.session.Resumed()
	}
}

// End ends the unit, with the test's own outcome, and appends its record.
func (u *Unit) End(failed, skipped bool) {
	rec := &u.rec
	rec.Failed, rec.Skipped = failed, skipped
	finishing := time.Now()
	if u.session != nil {
		var err error
		rec.Counts, rec.Findings, rec.Unattributed, rec.Report, err = u.session.Finish()
		if u.err == nil {
			u.err = err
		}
	}
	end := time.Now()
	rec.Elapsed, rec.Check = end.Sub(u.start).Seconds(), end.Sub(finishing).Seconds()
	rec.Findings = attribute(u.start, end, rec)
	switch {
	case u.err != nil:
		rec.Verdict, rec.Error = record.Error, u.err.Error()
	case len(rec.Findings) > 0:
		rec.Verdict = record.Found
	default:
		rec.Verdict = record.Clean
	}
	if err := record.Append(u.file, *rec); err != nil {
		fmt.Fprintf(os.Stderr, "residue audit: %s %s: %v\n", rec.Package, rec.Test, err)
	}
}

// ended is a unit that has ended in this process, kept to attribute global
// changes.
type ended struct {
	start, end time.Time
	globals    []string // keys of its global findings
	seen       []string // keys of the global changes it saw unattributed
}

var (
	endedMu  sync.Mutex
	endedAll []ended
)

// attribute returns rec's findings without the global changes that are not
// the test's alone. Changes to globals are seen process-wide, so a test
// that waited in t.Parallel while others ran sees theirs too: a change that
// a unit which ran entirely within this one's time also saw is that unit's,
// and leaves this one's record. A change that a unit which ran at the same
// time as this one (and has ended) saw too, as its finding or unattributed,
// may be either's, perhaps set by the other and undone after this one
// looked: it is listed as unattributed. Goroutines and descriptors are told
// apart per test and need no such step.
func attribute(start, end time.Time, rec *record.Record) []record.Finding {
	endedMu.Lock()
	defer endedMu.Unlock()
	seenWithin := func(f record.Finding) bool {
		return slices.ContainsFunc(endedAll, func(e ended) bool {
			return !e.start.Before(start) && !e.end.After(end) && slices.Contains(e.globals, f.Key)
		})
	}
	seenBeside := func(f record.Finding) bool {
		return slices.ContainsFunc(endedAll, func(e ended) bool {
			return e.end.After(start) && (slices.Contains(e.globals, f.Key) || slices.Contains(e.seen, f.Key))
		})
	}
	// An unattributed change such a unit saw is that unit's too.
	var theirs, maybe []string
	rec.Unattributed = slices.DeleteFunc(rec.Unattributed, func(f record.Finding) bool {
		if seenWithin(f) {
			theirs = append(theirs, f.Key)
			return true
		}
		return false
	})
	var own []string
	out := rec.Findings[:0:0]
	for _, f := range rec.Findings {
		if f.Probe == record.Globals {
			switch {
			case seenWithin(f):
				rec.Counts.Globals -= f.Count
				theirs = append(theirs, f.Key)
				continue
			case seenBeside(f):
				rec.Counts.Globals -= f.Count
				rec.Unattributed = append(rec.Unattributed, f)
				maybe = append(maybe, f.Key)
				continue
			}
			own = append(own, f.Key)
		}
		out = append(out, f)
	}
	// The report, the probes' text, lists the changes as the test saw
	// them: it says which of them the record does not count.
	switch {
	case rec.Report == "":
	case len(out) == 0:
		rec.Report = ""
	default:
		if len(theirs) > 0 {
			rec.Report += "\n\nNot this test's, and not counted: global changes that a test which ran while this one did, and ended before it, saw too: " + strings.Join(theirs, ", ")
		}
		if len(maybe) > 0 {
			rec.Report += "\n\nNot counted as this test's (unattributed): global changes that a test which ran beside it also saw: " + strings.Join(maybe, ", ")
		}
	}
	var seen []string
	for _, f := range rec.Unattributed {
		seen = append(seen, f.Key)
	}
	endedAll = append(endedAll, ended{start: start, end: end, globals: own, seen: seen})
	return out
}

// underTest is the import path of the package the test binary tests: go
// test names its main package after it ("example.com/m/pkg.test"). Empty
// when the binary is named otherwise.
var underTest = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if p, ok := strings.CutSuffix(bi.Path, ".test"); ok {
			return p
		}
	}
	return ""
}()

// PackageOf returns the import path of the package of the function fn
// names, as runtime.FuncForPC spells it ("example.com/m/pkg_test.TestX"):
// an external test package counts as the package it tests.
func PackageOf(fn string) string {
	dir, last := "", fn
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		dir, last = fn[:i+1], fn[i+1:]
	}
	last, _, _ = strings.Cut(last, ".")
	return strings.TrimSuffix(stack.Unescape(dir+last), "_test")
}

// Unwinding reports whether the calling goroutine is running deferred
// calls because of a panic or runtime.Goexit (t.FailNow and t.SkipNow
// call it too), rather than after its function returned.
func Unwinding() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if f.Function == "runtime.gopanic" || f.Function == "runtime.Goexit" {
			return true
		}
		if !more {
			return false
		}
	}
}

// CallerFunc returns the name of the function skip frames above the caller
// of CallerFunc.
func CallerFunc(skip int) string {
	pc, _, _, ok := runtime.Caller(skip + 1)
	if !ok {
		return ""
	}
	return runtime.FuncForPC(pc).Name()
}
