// Command residue audits the tests of a Go module for what they leave
// behind: goroutines still running, file descriptors and sockets still
// open, globals changed. It runs go test on the packages given and checks
// every top-level test and every Ginkgo spec on its own, without changing
// the module's files:
//
//	residue test ./...
//	residue test -baseline residue-baseline.json ./...
//
// See docs/audit.md for the output, the JSON records and the baseline.
package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/residue-go/residue/internal/record"
)

// Exit codes.
const (
	exitClean    = 0 // no finding outside the baseline, every test passed
	exitFindings = 1 // tests left side effects not in the baseline, or could not be audited
	exitFailed   = 2 // tests failed or packages did not build
	exitCommand  = 3 // the command could not run
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		fmt.Fprint(stdout, usage)
		return exitClean
	case len(args) == 0:
		fmt.Fprint(stderr, usage)
		return exitCommand
	case args[0] != "test":
		fmt.Fprintf(stderr, "residue: unknown command %q: the one command is test\n\n%s", args[0], usage)
		return exitCommand
	}
	// Caught from here on, so that a stop signal never leaves the overlay
	// behind: see runTests.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, stopSignals...)
	defer signal.Stop(signals)
	o, err := parseArgs(args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return exitClean
	}
	if err != nil {
		fmt.Fprintf(stderr, "residue: %v\n", err)
		return exitCommand
	}
	if o.baseline != "" && o.dir != "" && !filepath.IsAbs(o.baseline) {
		// Like every path under go's -C, relative to that directory.
		o.baseline = filepath.Join(o.dir, o.baseline)
	}
	base := newBaseline(nil)
	if o.baseline != "" {
		// Read for -update-baseline too: it keeps what this run did not
		// look at. And fail now, not after the tests, on a file that
		// cannot be read or written.
		if base, err = readBaseline(o.baseline); err == nil && o.updateBaseline {
			err = writable(o.baseline)
		}
		if err != nil {
			fmt.Fprintf(stderr, "residue: %v\n", err)
			return exitCommand
		}
	}
	a, err := prepare(o)
	if a != nil && !o.keep {
		defer os.RemoveAll(a.tmp)
	}
	if err != nil {
		fmt.Fprintf(stderr, "residue: %v\n", err)
		return exitCommand
	}
	if o.keep {
		fmt.Fprintf(stderr, "residue: overlay and go.mod copy in %s\n", a.tmp)
	}
	f, _ := stderr.(*os.File)
	prog := &progress{w: stderr, terminal: f != nil && isTerminal(f), total: len(a.pkgs), start: time.Now()}
	res := runTests(a.dir, a.env, a.testArgs(o), prog, a.unmap, signals)
	prog.clear()
	if res.err != nil {
		fmt.Fprintf(stderr, "residue: %v\n", res.err)
		return exitCommand
	}
	recs, err := readRecords(a.records, res)
	if err != nil {
		fmt.Fprintf(stderr, "residue: %v\n", err)
		return exitCommand
	}
	for i := range recs {
		for j := range recs[i].Findings {
			recs[i].Findings[j].Accepted = base.accepts(&recs[i], &recs[i].Findings[j])
		}
	}
	out := stdout
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintf(stderr, "residue: %v\n", err)
				return exitCommand
			}
		}
		out = stderr
	}
	s := summarize(recs, res)
	writeReport(out, o, recs, res)
	stale, unchecked := base.check(recs, res.ranPackages(), o.filtered)
	if o.updateBaseline {
		n, kept, err := writeBaseline(o.baseline, recs, unchecked)
		if err != nil {
			fmt.Fprintf(stderr, "residue: %v\n", err)
			return exitCommand
		}
		fmt.Fprintf(out, "residue: wrote %s to %s", plural(n, "finding"), o.baseline)
		if kept > 0 {
			fmt.Fprintf(out, " (%d of them kept from it: their tests did not run)", kept)
		}
		fmt.Fprintln(out)
		s.accepted, s.newFindings = n-kept, 0
	} else if len(stale) > 0 {
		fmt.Fprintf(out, "\nBaseline entries that no longer occur (remove them with -update-baseline):\n")
		for _, e := range stale {
			fmt.Fprintf(out, "  %s %s: %s %s\n", e.Package, e.Test, e.Probe, e.Key)
		}
	}
	silent := s.silentLine()
	if o.listing {
		silent = "" // -list runs no test
	}
	for _, l := range []string{s.waitLine(o.within == ""), silent} {
		if l != "" {
			fmt.Fprintln(stderr, l)
		}
	}
	fmt.Fprintln(stderr, s.line(o.baseline != "" && !o.updateBaseline, o.json))
	return s.code()
}

// audit is a prepared run: the overlay, the go.mod copy and where records
// go.
type audit struct {
	dir     string // where go runs
	tmp     string
	pkgs    []pkg
	records string
	overlay string
	modFile string // "" when the module is residue itself
	env     []string
	unmap   func(string) string // from rewritten test files' paths and positions to the originals
}

// override sets, for go test, the variable that record.Restored names for
// carrier to value, and carrier to what the user's environment had, which
// the test binary puts back: the tests, and the programs they start, see
// the user's environment.
func (a *audit) override(carrier, value string) {
	name, user := record.Restored[carrier], ""
	if v, ok := os.LookupEnv(name); ok {
		user = "=" + v
	}
	a.env = append(a.env, name+"="+value, carrier+"="+user)
}

func prepare(o *options) (*audit, error) {
	dir, err := filepath.Abs(cmp.Or(o.dir, "."))
	if err != nil {
		return nil, err
	}
	// go list needs nothing of what go env and go mod edit say: the three
	// run at once (each go command takes a few milliseconds to start, and
	// go list tens of milliseconds to load the packages). Only the test
	// files are wanted: -find leaves the dependencies unresolved.
	listArgs := append([]string{"list", "-find", "-e", "-json=ImportPath,Dir,TestGoFiles,XTestGoFiles"}, o.buildFlags()...)
	listed := make(chan goResult, 1)
	go func() {
		out, err := goCmd(dir, nil, append(listArgs, o.patterns...)...)
		listed <- goResult{out, err}
	}()
	m, err := mainModule(dir)
	if err != nil {
		<-listed
		return nil, err
	}
	tmp, err := os.MkdirTemp("", record.WorkDirPrefix)
	if err != nil {
		<-listed
		return nil, err
	}
	a := &audit{dir: dir, tmp: tmp, records: filepath.Join(tmp, "records.jsonl")}
	// The go.mod copy is written while the overlay is.
	modWritten := make(chan error, 1)
	if m.Path != residueModule {
		go func() {
			src, err := findResidue(o.residueDir)
			if err == nil {
				a.modFile, err = writeModFile(tmp, m, src)
			}
			modWritten <- err
		}()
	} else {
		modWritten <- nil
	}
	err = a.writeOverlay(<-listed)
	if modErr := <-modWritten; err == nil {
		err = modErr
	}
	if err != nil {
		return a, err
	}
	a.env = append(a.env, record.EnvFile+"="+a.records)
	switch o.globals {
	case "off":
		a.env = append(a.env, record.EnvGlobals+"=off")
	case "module":
		a.env = append(a.env, record.EnvGlobals+"="+m.Path+"/...")
	}
	if o.files {
		a.env = append(a.env, record.EnvFiles+"=on")
	}
	if len(o.ignoreGlobals) > 0 {
		a.env = append(a.env, record.EnvIgnoreGlobals+"="+strings.Join(o.ignoreGlobals, "\n"))
	}
	if o.within != "" {
		a.env = append(a.env, record.EnvWithin+"="+o.within)
	}
	if x := m.leakProfileExperiment(); x != "" {
		a.override(record.EnvExperiment, x)
	}
	// go test's work directory (go-build…) is made in the run's, and
	// removed with it even when a second signal kills go test.
	goTmp := filepath.Join(tmp, "go")
	if err := os.Mkdir(goTmp, 0o755); err != nil {
		return a, err
	}
	a.override(record.EnvGoTmpDir, goTmp)
	if a.modFile != "" {
		// A go.work would take the place of the go.mod copy.
		a.env = append(a.env, "GOWORK=off")
	}
	return a, nil
}

// goResult is what a go command wrote to its standard output, and its error.
type goResult struct {
	out []byte
	err error
}

// writeOverlay reads the packages go list described and writes the
// overlay that rewrites their test files.
func (a *audit) writeOverlay(listed goResult) error {
	if listed.err != nil {
		return listed.err
	}
	dec := json.NewDecoder(bytes.NewReader(listed.out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			return err
		}
		a.pkgs = append(a.pkgs, p)
	}
	overlayDir := filepath.Join(a.tmp, "overlay")
	if err := os.Mkdir(overlayDir, 0o755); err != nil {
		return err
	}
	overlay, replaced, moved, err := writeOverlay(overlayDir, a.pkgs)
	if err != nil {
		return err
	}
	a.overlay = overlay
	var pairs []string
	for orig, rewritten := range replaced {
		pairs = append(pairs, rewritten, orig)
	}
	paths := strings.NewReplacer(pairs...)
	a.unmap = func(s string) string { return moved.fix(paths.Replace(s)) }
	return nil
}

// testArgs are go test's arguments, -json aside.
func (a *audit) testArgs(o *options) []string {
	args := []string{"-overlay=" + a.overlay, "-ldflags=" + o.mergedLdflags(os.Getenv("GOFLAGS"))}
	args = append(args, o.ownGcflags(os.Getenv("GOFLAGS"))...)
	if a.modFile != "" {
		args = append(args, "-modfile="+a.modFile, "-mod=mod")
	}
	if !o.count {
		// Every test must run for its record to be written.
		args = append(args, "-count=1")
	}
	if !o.vet {
		// Vet is not what is audited, and with the go line raised to
		// residue's its checks that depend on the language version may
		// report what they do not report for the module itself.
		args = append(args, "-vet=off")
	}
	args = append(args, o.goFlags...)
	args = append(args, o.patterns...)
	// go test -json runs the tests with -test.v=test2json, under which the
	// testing package sets os.Stderr = os.Stdout, so that a test restoring
	// a writer to os.Stderr would seem to change it. Plain -test.v output,
	// which go test's converter reads as well, leaves os.Stderr alone.
	return slices.Concat(args, []string{"-args", "-test.v=true"}, o.binaryFlags, o.testArgs)
}

// stoppedError is the error of the record of a test the test binary
// stopped in: it wrote none of its own.
const stoppedError = "the test binary stopped while the test ran (" + stopCauses + "): not audited; what it wrote as it stopped is shown under the test"

// stopCauses are what stops a test binary in the middle of a test.
const stopCauses = "a panic in a goroutine, os.Exit, -timeout, a signal"

// readRecords reads the records the tests wrote, with one for each run of
// a test the test binary stopped in (res says which, once told of the
// records read: noteRecords; res may be nil), so that every test that ran
// has one, sorted by package and test; none when no test ran.
func readRecords(path string, res *runResult) ([]record.Record, error) {
	f, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var recs []record.Record
	if f != nil {
		defer f.Close()
		if recs, err = record.Read(f); err != nil {
			return nil, err
		}
	}
	if res != nil {
		res.noteRecords(recs)
		for _, path := range res.sortedPaths() {
			for _, t := range res.pkgs[path].unfinished() {
				recs = append(recs, record.Record{Schema: record.Schema, Package: path, Test: t, Verdict: record.Error, Failed: true, Error: stoppedError})
			}
		}
	}
	slices.SortStableFunc(recs, func(a, b record.Record) int {
		return strings.Compare(a.Package+"\x00"+a.Test, b.Package+"\x00"+b.Test)
	})
	return recs, nil
}
