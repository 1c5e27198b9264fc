package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/residue-go/residue/internal/record"
)

// summary counts what the run found.
type summary struct {
	tests       int // tests and specs audited
	pkgs        int // packages with audited tests
	newFindings int // tests with findings not in the baseline
	accepted    int // findings the baseline accepts
	errors      int // tests the probes could not judge
	failed      int // tests that failed (the tests' own verdict), not counting those that ran a suite whose specs failed
	failedSpecs int // Ginkgo specs that failed
	unfinished  int // tests the test binary stopped in (a panic in a goroutine, os.Exit, -timeout)
	pkgFailed   int // packages that failed outside any test (TestMain)
	notBuilt    int // packages that did not build
	// unattributed are the distinct global changes tests saw while other
	// tests ran, whose they are cannot be told.
	unattributed int
	// silent are the packages that passed with test files but no test
	// audited: -run matched none, a TestMain did not call m.Run, or they
	// have only examples, benchmarks or fuzz targets.
	silent   []string
	goFailed bool // go test failed, and no package says why
	// waited and waits: the seconds the checks that waited for what their
	// tests left to go away took (see waitedCheck), and how many there were.
	waited float64
	waits  int
}

func summarize(recs []record.Record, res *runResult) *summary {
	s := &summary{tests: len(recs)}
	seen := map[string]bool{}
	specsFailed := map[string]int{}           // by package
	ownRecord := map[string]map[string]bool{} // by package, the tests with a record of their own (not a suite's runner)
	for i := range recs {
		r := &recs[i]
		if !seen[r.Package] {
			seen[r.Package] = true
			s.pkgs++
			ownRecord[r.Package] = map[string]bool{}
		}
		switch {
		case r.Spec && r.Failed:
			specsFailed[r.Package]++
		case !r.Spec:
			ownRecord[r.Package][r.Test] = true
		}
		if r.Verdict == record.Error && r.Error != stoppedError {
			s.errors++
		}
		if n := unaccepted(r); n > 0 {
			s.newFindings++
		}
		if r.Check >= waitedCheck {
			s.waited += r.Check
			s.waits++
		}
		s.accepted += len(r.Findings) - unaccepted(r)
	}
	keys := map[string]bool{}
	for i := range recs {
		for _, f := range recs[i].Unattributed {
			keys[recs[i].Package+" "+f.Key] = true
		}
	}
	s.unattributed = len(keys)
	for _, p := range res.pkgs {
		switch {
		case p.buildErr:
			s.notBuilt++
		case p.action == "fail" && len(p.failed) == 0 && len(p.unfinished()) == 0:
			s.pkgFailed++
		}
		tests, specs := failedIn(p.failed, ownRecord[p.path], specsFailed[p.path])
		s.failed += tests
		s.failedSpecs += specs
		s.unfinished += len(p.unfinished())
		if p.action == "pass" && !p.noTests && !seen[p.path] {
			s.silent = append(s.silent, p.path)
		}
	}
	s.goFailed = res.exitFailed && s.failed+s.failedSpecs+s.unfinished+s.pkgFailed+s.notBuilt == 0
	return s
}

// failedIn counts a package's failed tests and failed Ginkgo specs, given
// the top-level tests go test says failed, those with records of their own,
// and how many of its specs' records say they failed. A top-level test that
// ran a suite has no record of its own, its specs do: when some of them
// failed, they are what failed; when none did (a BeforeSuite failed), the
// test is.
func failedIn(failed []string, own map[string]bool, specsFailed int) (tests, specs int) {
	for _, t := range failed {
		if !own[t] && specsFailed > 0 {
			specs = specsFailed // the suite's runner: its specs count, once
			continue
		}
		tests++
	}
	return tests, specs
}

func unaccepted(r *record.Record) int {
	n := 0
	for _, f := range r.Findings {
		if !f.Accepted {
			n++
		}
	}
	return n
}

func (s *summary) code() int {
	switch {
	case s.goFailed:
		return exitCommand
	case s.failed > 0 || s.failedSpecs > 0 || s.unfinished > 0 || s.pkgFailed > 0 || s.notBuilt > 0:
		return exitFailed
	case s.newFindings > 0 || s.errors > 0:
		return exitFindings
	}
	return exitClean
}

// waitedCheck is how long a check took, in seconds, that waited for what
// its test left to go away: one that finds nothing, or what provably
// stays, takes milliseconds.
const waitedCheck = 0.1

// waitLine says how much of the run the settle windows took, when they
// took a second or more: the time a test that leaves something waits before
// it is reported, which a test that leaves nothing does not.
func (s *summary) waitLine(defaultWindow bool) string {
	if s.waited < 1 {
		return ""
	}
	note := "summed over the tests; tests running in parallel wait at the same time"
	if defaultWindow {
		note += "; the window is 1s, -within sets it"
	}
	return fmt.Sprintf("residue: %.1f s went to settle windows: the checks of %s waited for goroutines, descriptors, processes or files the tests left to go away (%s)",
		s.waited, plural(s.waits, "test"), note)
}

// silentLine names the packages that passed without running a test.
func (s *summary) silentLine() string {
	if len(s.silent) == 0 {
		return ""
	}
	slices.Sort(s.silent)
	return fmt.Sprintf("residue: no test ran in %s (-run matched none, a TestMain does not call m.Run, or the package has only examples, benchmarks or fuzz targets, which are not audited)", strings.Join(s.silent, ", "))
}

// line is the run's last line: why it failed, or that it did not. The
// findings are in the JSON records, not listed above it, with asJSON.
func (s *summary) line(withBaseline, asJSON bool) string {
	var why []string
	if s.newFindings > 0 {
		what := "left side effects"
		if withBaseline {
			what += " not in the baseline"
		}
		why = append(why, plural(s.newFindings, "test")+" "+what)
	}
	if s.errors > 0 {
		why = append(why, plural(s.errors, "test")+" could not be audited")
	}
	var failed []string
	if s.failed > 0 {
		failed = append(failed, plural(s.failed, "test"))
	}
	if s.failedSpecs > 0 {
		failed = append(failed, plural(s.failedSpecs, "spec"))
	}
	if len(failed) > 0 {
		why = append(why, strings.Join(failed, " and ")+" failed (the tests' own failures)")
	}
	if s.unfinished > 0 {
		why = append(why, plural(s.unfinished, "test")+" did not finish (the test binary stopped)")
	}
	if s.pkgFailed > 0 {
		why = append(why, plural(s.pkgFailed, "package")+" failed outside its tests")
	}
	if s.notBuilt > 0 {
		why = append(why, plural(s.notBuilt, "package")+" did not build")
	}
	if s.goFailed {
		why = append(why, "go test failed (its output is above)")
	}
	accepted := ""
	if s.accepted > 0 {
		accepted = fmt.Sprintf(" (%s accepted by the baseline)", plural(s.accepted, "finding"))
	}
	if s.unattributed > 0 {
		where := "listed above"
		if asJSON {
			where = "in the records' unattributed"
		}
		accepted += fmt.Sprintf("; %s seen while tests ran in parallel could not be attributed (%s)", plural(s.unattributed, "global change"), where)
	}
	if len(why) == 0 {
		if s.tests == 0 {
			return "residue: ok, but no test was audited: none ran" + accepted
		}
		what := "left nothing behind"
		if s.accepted > 0 {
			what = "left nothing behind that the baseline does not accept"
		}
		return fmt.Sprintf("residue: ok: %s in %s %s%s", plural(s.tests, "test"), plural(s.pkgs, "package"), what, accepted)
	}
	return "residue: FAIL: " + strings.Join(why, "; ") + accepted
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// verdict is a test's word in the table.
func verdict(r *record.Record) string {
	v := r.Verdict
	if v == record.Found && unaccepted(r) == 0 {
		v = "accepted"
	}
	switch {
	case r.Failed:
		v += ", test failed"
	case r.Skipped:
		v += ", skipped"
	}
	return v
}

// writeReport writes a table per package, then every finding not in the
// baseline (every one with -v), then the tests' own failures and build
// errors.
func writeReport(w io.Writer, o *options, recs []record.Record, res *runResult) {
	byPkg := map[string][]*record.Record{}
	for i := range recs {
		byPkg[recs[i].Package] = append(byPkg[recs[i].Package], &recs[i])
	}
	if !o.json {
		for _, path := range res.sortedPaths() {
			writeTable(w, path, byPkg[path], o.verbose, o.files)
		}
		for i := range recs {
			writeFindings(w, &recs[i], o.verbose)
		}
	}
	for _, path := range res.sortedPaths() {
		p := res.pkgs[path]
		stopped := p.unfinished()
		switch {
		case p.buildErr:
			fmt.Fprintf(w, "\n%s did not build:\n%s", path, indent(p.build))
		case p.action == "fail" && len(p.failed) == 0 && len(stopped) == 0:
			fmt.Fprintf(w, "\n%s failed outside its tests:\n%s", path, indent(p.out("").String()))
		}
		for _, t := range p.failed {
			fmt.Fprintf(w, "\n%s %s failed:\n%s", path, t, indent(p.out(t).String()))
		}
		if o.goOutput && len(stopped) == 0 && !p.buildErr && !p.noTests {
			// What -bench, -list, -cover or -shuffle asked go test for:
			// the package's own lines and the benchmarks'.
			var b strings.Builder
			for _, name := range slices.Sorted(maps.Keys(p.output)) {
				if name == "" || strings.HasPrefix(name, "Benchmark") {
					b.WriteString(p.output[name].String())
				}
			}
			fmt.Fprintf(w, "\n%s (go test):\n%s", path, indent(b.String()))
		}
		// What the binary wrote as it stopped (a panic's stack, the
		// timeout's list of running tests) is the test's output or the
		// package's.
		for _, t := range stopped {
			out := p.out(t).String()
			why := "the test binary stopped while it ran (" + stopCauses + "; settle windows count toward -timeout)"
			if strings.Contains(out, "PASS | FOCUSED") {
				why = "Ginkgo ended the test binary with exit status 197 once its focused specs passed (programmatic focus: FIt, FDescribe…; remove the F, or set GINKGO_EDITOR_INTEGRATION=1)"
			}
			fmt.Fprintf(w, "\n%s %s did not finish: %s:\n%s", path, t, why, indent(out))
		}
		if out := indent(p.out("").String()); len(stopped) > 0 && out != "" {
			fmt.Fprintf(w, "\n%s:\n%s", path, out)
		}
	}
	if out := res.pkg("").out("").String(); out != "" {
		fmt.Fprintf(w, "\ngo test:\n%s", indent(out))
	}
}

func writeTable(w io.Writer, path string, recs []*record.Record, verbose, files bool) {
	if len(recs) == 0 {
		return
	}
	var rows []*record.Record
	for _, r := range recs {
		if verbose || r.Verdict != record.Clean || r.Failed {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(w, "%s: %s, all clean\n", path, plural(len(recs), "test"))
		return
	}
	fmt.Fprintf(w, "\n%s\n", path)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"TEST", "GOROUTINES", "DESCRIPTORS", "PROCESSES", "FILES", "GLOBALS", "VERDICT"}
	if !files {
		head = slices.Delete(head, 4, 5)
	}
	fmt.Fprintf(tw, "  %s\n", strings.Join(head, "\t"))
	for _, r := range rows {
		c := r.Counts
		row := []string{r.Test, strconv.Itoa(c.Goroutines), strconv.Itoa(c.Descriptors), strconv.Itoa(c.Processes)}
		if files {
			n := 0
			if c.Files != nil {
				n = *c.Files
			}
			row = append(row, strconv.Itoa(n))
		}
		row = append(row, strconv.Itoa(c.Globals), verdict(r))
		fmt.Fprintf(tw, "  %s\n", strings.Join(row, "\t"))
	}
	if n := len(recs) - len(rows); n > 0 {
		fmt.Fprintf(tw, "  (and %s, clean)\n", plural(n, "more test"))
	}
	tw.Flush()
}

// writeFindings writes a test's findings, one line each, then its full
// report; with every finding in the baseline, nothing unless verbose.
func writeFindings(w io.Writer, r *record.Record, verbose bool) {
	if r.Verdict == record.Error && r.Error != stoppedError {
		fmt.Fprintf(w, "\n--- %s %s could not be audited:\n%s", r.Package, r.Test, indent(r.Error))
	}
	if len(r.Unattributed) > 0 {
		fmt.Fprintf(w, "\n--- %s %s saw global changes while other tests ran (not its findings: whose they are cannot be told):\n", r.Package, r.Test)
		for _, f := range r.Unattributed {
			fmt.Fprintf(w, "  %s\n", f.Text)
		}
	}
	if len(r.Findings) == 0 || unaccepted(r) == 0 && !verbose {
		return
	}
	fmt.Fprintf(w, "\n--- %s %s left side effects:\n", r.Package, r.Test)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range r.Findings {
		note := ""
		if f.Accepted {
			note = "\t(in the baseline)"
		}
		fmt.Fprintf(tw, "  %s\t%d × %s%s\n", f.Probe, f.Count, f.Key, note)
	}
	tw.Flush()
	if r.Report != "" {
		fmt.Fprintf(w, "\n%s", indent(indent(r.Report)))
	}
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
