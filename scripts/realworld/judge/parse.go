package main

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// testRun is what `go test -v ./...` printed for one test, or for a
// package outside its tests (test == ""): TestMain's output, a panic.
type testRun struct {
	pkg, test string
	lines     []string
	failed    bool
	subFailed bool // a subtest failed: the failure is the subtest's
}

// suiteRun is one `go test -v ./...` over a module.
type suiteRun struct {
	tests   []*testRun
	pkgFail map[string]bool // package → it failed
	pkgSecs map[string]float64
}

var (
	headerRE = regexp.MustCompile(`^=== (RUN|PAUSE|CONT|NAME)\s+(\S+)`)
	resultRE = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)
	pkgRE    = regexp.MustCompile(`^(ok|FAIL|\?)\s*\t(\S+)\t?(\S*)`)
)

// parseRun reads the output of `go test -v ./...`. go test prints each
// package's output whole, then the package's result line, so the lines
// seen since the last result line are that package's.
func parseRun(path string) (*suiteRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	run := &suiteRun{pkgFail: map[string]bool{}, pkgSecs: map[string]float64{}}
	var pending []*testRun // this package's, before its result line names it
	byName := map[string]*testRun{}
	get := func(name string) *testRun {
		if t := byName[name]; t != nil {
			return t
		}
		t := &testRun{test: name}
		byName[name] = t
		pending = append(pending, t)
		return t
	}
	cur := get("")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := headerRE.FindStringSubmatch(line); m != nil {
			cur = get(m[2])
			continue
		}
		if m := resultRE.FindStringSubmatch(line); m != nil {
			cur = get(m[2])
			if m[1] == "FAIL" {
				cur.failed = true
				if i := strings.LastIndex(m[2], "/"); i > 0 {
					get(m[2][:i]).subFailed = true
				}
			}
			continue
		}
		if line == "PASS" || line == "FAIL" {
			cur = get("")
			continue
		}
		if m := pkgRE.FindStringSubmatch(line); m != nil {
			pkg := m[2]
			for _, t := range pending {
				t.pkg = pkg
				run.tests = append(run.tests, t)
			}
			if m[1] == "FAIL" {
				run.pkgFail[pkg] = true
			}
			if d, ok := parseSeconds(m[3]); ok {
				run.pkgSecs[pkg] = d
			}
			pending, byName = nil, map[string]*testRun{}
			cur = get("")
			continue
		}
		cur.lines = append(cur.lines, line)
	}
	for _, t := range pending {
		if len(t.lines) > 0 {
			run.tests = append(run.tests, t)
		}
	}
	return run, sc.Err()
}

func parseSeconds(s string) (float64, bool) {
	d, err := strconv.ParseFloat(strings.TrimSuffix(s, "s"), 64)
	return d, err == nil && strings.HasSuffix(s, "s")
}

// find returns the run of pkg's test, nil when it did not run.
func (r *suiteRun) find(pkg, test string) *testRun {
	for _, t := range r.tests {
		if t.pkg == pkg && t.test == test {
			return t
		}
	}
	return nil
}

// testSeconds is the sum of the packages' test times.
func (r *suiteRun) testSeconds() float64 {
	var s float64
	for _, d := range r.pkgSecs {
		s += d
	}
	return s
}
