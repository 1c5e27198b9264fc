package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// finding is one thing residue reported, or one failure that the suite
// does not have without residue.
type finding struct {
	module, mode, pkg, test string
	kind                    string // global, fd, goroutine, error, race, failure
	key                     string // what was reported, stable from run to run
	text                    string // the whole report it came from
	verdict                 string // true, false, or "" when not triaged
	why                     string
}

// triageEntry is one line of the triage file. Every field but verdict and
// why may hold * wildcards.
type triageEntry struct {
	module, mode, pkg, test, kind, key string
	verdict, why                       string
	line                               int
	used                               bool
}

func report(args []string) int {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	module := fs.String("module", "", "the module's short name, as in the triage file")
	mode := fs.String("mode", "plain", "plain or race")
	base := fs.String("base", "", "output of go test -v ./... over the untouched suite")
	res := fs.String("residue", "", "output of go test -v ./... over the suite rewritten for residue")
	triagePath := fs.String("triage", "", "the triage file")
	out := fs.String("out", "", "append every finding to this file, one tab-separated line each")
	times := fs.String("times", "", "append the runs' times to this file")
	wall := fs.String("wall", "", "the wall times of the base and residue runs, in seconds: BASE,RESIDUE")
	rerunDir := fs.String("rerun", "", "the module copy the residue run ran in: a test that fails only with residue is run again there, alone")
	fs.Parse(args)
	if *module == "" || *base == "" || *res == "" || *triagePath == "" {
		usage()
	}
	baseRun, err := parseRun(*base)
	if err == nil {
		var resRun *suiteRun
		resRun, err = parseRun(*res)
		if err == nil {
			var triage []*triageEntry
			triage, err = readTriage(*triagePath)
			if err == nil && *times != "" {
				err = appendTimes(*times, *module, *mode, *wall, baseRun, resRun)
			}
			if err == nil {
				var again rerun
				if *rerunDir != "" {
					again = goTestAgain(*rerunDir, *mode == "race")
				}
				return judge(*module, *mode, baseRun, resRun, triage, *out, again)
			}
		}
	}
	fmt.Fprintln(os.Stderr, "judge report:", err)
	return 2
}

func judge(module, mode string, base, res *suiteRun, triage []*triageEntry, out string, again rerun) int {
	findings := collect(base, res)
	missing := triageFindings(module, mode, findings, triage)
	if again != nil {
		recheckFailures(findings, again)
	}
	counts := map[string]int{}
	for _, f := range findings {
		counts[f.verdict]++
	}
	if out != "" {
		if err := appendFindings(out, findings); err != nil {
			fmt.Fprintln(os.Stderr, "judge report:", err)
			return 2
		}
	}
	// Print each report that is not a true leak once, in full, with the
	// findings it holds.
	printed := map[string]bool{}
	bad := 0
	for _, f := range findings {
		if isTrue(f.verdict) {
			continue
		}
		if f.verdict == "flaky" {
			// Printed, not counted: see recheckFailures.
			fmt.Printf("--- %s %s %s %s: %s %s\n    (flaky, not counted: %s)\n", module, mode, f.pkg, orMain(f.test), f.kind, f.key, f.why)
			continue
		}
		bad++
		label := "NOT TRIAGED"
		if f.verdict == "false" {
			label = "known false positive: " + f.why
		}
		fmt.Printf("--- %s %s %s %s: %s %s\n    (%s)\n", module, mode, f.pkg, orMain(f.test), f.kind, f.key, label)
		id := f.pkg + "\x00" + f.test + "\x00" + f.text
		if !printed[id] {
			printed[id] = true
			fmt.Println(indentBy(f.text, "    | "))
		}
	}
	for _, e := range triage {
		// Lines for every module name a false positive that may or may not
		// show in a given run; only a module's own lines are expected to.
		if !e.used && e.verdict != "expected" && e.module == module && matchGlob(e.mode, mode) {
			fmt.Printf("--- triage line %d no longer reported: %s %s %s %s %s %s (%s)\n", e.line, e.module, e.mode, e.pkg, e.test, e.kind, e.key, e.verdict)
		}
	}
	for _, e := range missing {
		fmt.Printf("--- EXPECTED LEAK NOT REPORTED (triage line %d): %s %s %s %s %s %s\n    (%s)\n", e.line, e.module, e.mode, e.pkg, e.test, e.kind, e.key, e.why)
	}
	fmt.Printf("== %s %s: %d findings: %d true leaks (%d expected), %d known false positives, %d not triaged, %d flaky failures; %d expected leaks not reported\n",
		module, mode, len(findings), counts["true"]+counts["expected"], counts["expected"], counts["false"], counts[""], counts["flaky"], len(missing))
	if bad > 0 || len(missing) > 0 {
		return 1
	}
	return 0
}

// triageFindings gives each finding the verdict of the first triage line
// that matches it, and returns the lines marked expected, of this module
// and mode, that no finding matches: true leaks the run no longer reports.
func triageFindings(module, mode string, findings []*finding, triage []*triageEntry) (missing []*triageEntry) {
	for _, f := range findings {
		f.module, f.mode = module, mode
		for _, e := range triage {
			if e.matches(f) {
				f.verdict, f.why = e.verdict, e.why
				e.used = true
				break
			}
		}
	}
	for _, e := range triage {
		if e.verdict != "expected" || !matchGlob(e.module, module) || !matchGlob(e.mode, mode) {
			continue
		}
		// An earlier, wider line may have given the finding its verdict:
		// any matching finding counts.
		if !slices.ContainsFunc(findings, e.matches) {
			missing = append(missing, e)
		}
	}
	return missing
}

// isTrue reports whether a verdict is a real leak of the module.
func isTrue(verdict string) bool { return verdict == "true" || verdict == "expected" }

func orMain(test string) string {
	if test == "" {
		return "TestMain"
	}
	return test
}

func indentBy(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

func (e *triageEntry) matches(f *finding) bool {
	return matchGlob(e.module, f.module) && matchGlob(e.mode, f.mode) && matchGlob(e.pkg, f.pkg) &&
		matchGlob(e.test, orMain(f.test)) && matchGlob(e.kind, f.kind) && matchGlob(e.key, f.key)
}

// matchGlob matches s against a pattern in which * stands for any run of
// characters, slashes included.
func matchGlob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func readTriage(path string) ([]*triageEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var es []*triageEntry
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 8 || (c[6] != "true" && c[6] != "expected" && c[6] != "false") {
			return nil, fmt.Errorf("%s:%d: want 8 tab-separated fields (module mode package test kind key verdict why), verdict true, expected or false", path, n)
		}
		es = append(es, &triageEntry{module: c[0], mode: c[1], pkg: c[2], test: c[3], kind: c[4], key: c[5], verdict: c[6], why: c[7], line: n})
	}
	return es, sc.Err()
}

func appendFindings(path string, fs []*finding) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	for _, x := range fs {
		v := x.verdict
		if v == "" {
			v = "untriaged"
		}
		fmt.Fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.module, x.mode, x.pkg, orMain(x.test), x.kind, x.key, v, x.why)
	}
	return f.Close()
}

var digitsRE = regexp.MustCompile(`[0-9]+`)

// stable replaces numbers (fds, ports, temporary names, goroutine IDs) so
// that a key reads the same from run to run.
func stable(s string) string { return digitsRE.ReplaceAllString(strings.TrimSpace(s), "#") }

// collect lists what residue reported in the residue run, the data races
// it has and the base run has not, and the failures it has that the base
// run has not, in output order.
func collect(base, res *suiteRun) []*finding {
	baseRaces := map[string]bool{}
	for _, t := range base.tests {
		for _, r := range races(t.lines) {
			baseRaces[r.key] = true
		}
	}
	var out []*finding
	failedTests := map[string]bool{}
	for _, t := range res.tests {
		if t.failed {
			failedTests[t.pkg] = true
		}
	}
	for _, t := range res.tests {
		reports := residueReports(t)
		for _, r := range reports {
			for _, f := range parseReport(r) {
				f.pkg, f.test = t.pkg, t.test
				out = append(out, f)
			}
		}
		rs := races(t.lines)
		for _, r := range rs {
			if !baseRaces[r.key] {
				r.pkg, r.test = t.pkg, t.test
				out = append(out, r)
			}
		}
		if len(reports) > 0 || len(rs) > 0 {
			continue
		}
		b := base.find(t.pkg, t.test)
		switch {
		case t.test != "" && t.failed && !t.subFailed && (b == nil || !b.failed):
			key := "fails only with residue"
			if slices.ContainsFunc(t.lines, func(l string) bool { return strings.Contains(l, "race detected during execution of test") }) {
				// The race is printed in the test that ran into it; the
				// testing package fails every test running at that time.
				key = "race detected during execution of test"
			}
			out = append(out, &finding{pkg: t.pkg, test: t.test, kind: "failure", key: key, text: strings.Join(t.lines, "\n")})
		case t.test == "" && res.pkgFail[t.pkg] && !base.pkgFail[t.pkg] && !failedTests[t.pkg]:
			out = append(out, &finding{pkg: t.pkg, kind: "failure", key: "package fails only with residue",
				text: strings.Join(t.lines, "\n")})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].pkg < out[j].pkg })
	return out
}

// residueReports returns the text of every report residue printed in a
// test's output: Check's through t.Errorf, indented under the log line,
// and VerifyTestMain's on standard error, to the end of the package's
// output.
func residueReports(t *testRun) []string {
	var reports []string
	for i := 0; i < len(t.lines); i++ {
		line := t.lines[i]
		if j := strings.Index(line, "residue.Check: "); j >= 0 && !strings.HasPrefix(line[j:], "residue.Check: not judged") {
			// "not judged" is a note in the log of a test that passes.
			text := []string{line[j+len("residue.Check: "):]}
			for i+1 < len(t.lines) && (strings.HasPrefix(t.lines[i+1], "        ") || t.lines[i+1] == "") {
				i++
				text = append(text, strings.TrimPrefix(t.lines[i], "        "))
			}
			reports = append(reports, strings.Join(text, "\n"))
			continue
		}
		if rest, ok := strings.CutPrefix(line, "residue.VerifyTestMain: "); ok {
			rest = strings.TrimPrefix(rest, "the tests ")
			text := []string{rest}
			for i+1 < len(t.lines) && !strings.HasPrefix(t.lines[i+1], "exit status ") {
				i++
				text = append(text, t.lines[i])
			}
			reports = append(reports, strings.Join(text, "\n"))
		}
	}
	return reports
}

var goroutineHeadRE = regexp.MustCompile(`^  (goroutine|\d+ × goroutines)\b`)

// parseReport splits one residue report into findings: one per changed
// variable path, open descriptor, group of goroutines, or the error when
// residue could not check.
func parseReport(text string) []*finding {
	lines := strings.Split(text, "\n")
	if !strings.Contains(lines[0], "left side effects") {
		return []*finding{{kind: "error", key: stable(lines[0]), text: text}}
	}
	var out []*finding
	seen := map[string]bool{}
	add := func(kind, key string) {
		key = stable(key)
		if !seen[kind+key] {
			seen[kind+key] = true
			out = append(out, &finding{kind: kind, key: key, text: text})
		}
	}
	section := ""
	others := false
	for i, l := range lines {
		switch l {
		case "Goroutines", "File descriptors", "Global state", "Allocations":
			section, others = l, false
			continue
		}
		switch section {
		case "Global state":
			if strings.HasPrefix(l, "      ") && !strings.HasPrefix(l, "       ") {
				if path, _, ok := strings.Cut(strings.TrimSpace(l), ": "); ok {
					add("global", path)
				}
			}
		case "File descriptors":
			if strings.HasPrefix(l, "  Also opened while") {
				others = true
			}
			if rest, ok := strings.CutPrefix(l, "  fd "); ok && !others {
				if _, what, ok := strings.Cut(rest, ": "); ok {
					add("fd", what)
				}
			}
		case "Goroutines":
			if goroutineHeadRE.MatchString(l) {
				add("goroutine", goroutineKey(lines[i+1:]))
			}
		case "Allocations":
			add("alloc", "over budget")
		}
	}
	return out
}

// goroutineKey names a group of goroutines by the function they run and
// the function that started them.
func goroutineKey(lines []string) string {
	top, creator := "", ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if goroutineHeadRE.MatchString(l) || t == "" {
			break
		}
		if c, ok := strings.CutPrefix(t, "created by "); ok {
			creator, _, _ = strings.Cut(c, " ")
			break
		}
		if top == "" && !strings.HasPrefix(t, "/") && !strings.HasPrefix(t, "(") && !strings.HasPrefix(t, "…") && strings.Contains(t, ".") {
			top = t
		}
	}
	return top + " ← " + creator
}

var raceAccessRE = regexp.MustCompile(`^(Read|Write|Previous read|Previous write|Atomic read|Atomic write|Previous atomic read|Previous atomic write) at `)

// races returns the data races the race detector printed in lines, each
// keyed by the functions of its two accesses.
func races(lines []string) []*finding {
	var out []*finding
	for i := 0; i < len(lines); i++ {
		if lines[i] != "WARNING: DATA RACE" {
			continue
		}
		start := i
		var funcs []string
		for i++; i < len(lines) && lines[i] != "=================="; i++ {
			if raceAccessRE.MatchString(lines[i]) && i+1 < len(lines) {
				fn := strings.TrimSpace(lines[i+1])
				if j := strings.LastIndex(fn, "("); j > 0 && strings.HasSuffix(fn, ")") {
					fn = fn[:j] // the argument list
				}
				funcs = append(funcs, fn)
			}
		}
		end := min(i+1, len(lines))
		out = append(out, &finding{kind: "race", key: stable(strings.Join(funcs, " vs ")), text: strings.Join(lines[start:end], "\n")})
	}
	return out
}

// appendTimes records the wall times of both runs and the sum of their
// packages' test times.
func appendTimes(path, module, mode, wall string, base, res *suiteRun) error {
	b, r, _ := strings.Cut(wall, ",")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "%s\t%s\t%s\t%s\t%.0f\t%.0f\n", module, mode, b, r, base.testSeconds(), res.testSeconds())
	return f.Close()
}

// reruns is how many times a test that failed only with residue is run
// again, alone, before its failure is put down to the test's own timing.
const reruns = 5

// rerun runs one test of a package again, count times, and reports whether
// every run passed, with what go test printed.
type rerun func(pkg, test string, count int) (passed bool, output string)

// goTestAgain reruns tests with go test in dir, the copy of the module the
// residue run used, with the run's flags.
func goTestAgain(dir string, race bool) rerun {
	return func(pkg, test string, count int) (bool, string) {
		args := []string{"test", "-vet=off", "-ldflags=-w=0", "-timeout=5m", fmt.Sprintf("-count=%d", count)}
		if race {
			args = append(args, "-race")
		}
		args = append(args, "-run", runPattern(test), pkg)
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return err == nil, string(out)
	}
}

// runPattern is the -run pattern that matches test, a top-level test or a
// subtest path, and nothing else.
func runPattern(test string) string {
	parts := strings.Split(test, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// recheckFailures runs each test that failed only with residue, and that
// no triage line covers, again with residue, reruns times. A failure that
// none of the reruns repeats is marked flaky: the module's own test depends
// on timing that residue's checks change (fx's
// TestAppStart/CtxTimeoutDuringStartStillRunsStopHooks races its rollback
// with app.Stop, and failed so once in eight runs), which is not a
// verdict of residue's. A failure that a rerun repeats stays untriaged.
func recheckFailures(findings []*finding, again rerun) {
	for _, f := range findings {
		if f.kind != "failure" || f.key != "fails only with residue" || f.verdict != "" {
			continue
		}
		if passed, _ := again(f.pkg, f.test, reruns); passed {
			f.verdict = "flaky"
			f.why = fmt.Sprintf("failed once with residue, then passed %d runs of it alone with residue", reruns)
		}
	}
}
