package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestRewriteSource(t *testing.T) {
	src := `package p

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

func TestA(t *testing.T) {
	defer goleak.VerifyNone(t)
	t.Log("a")
}

func TestB(_ *testing.T) {}

func TestC(*testing.T) {}

func Testlower(t *testing.T) {}

func helper(t *testing.T) {
	t.Run("x", func(t *testing.T) {
		defer goleak.VerifyNone(t)
	})
}
`
	out, err := rewriteSource("p_test.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		`package p; import "github.com/residue-go/residue"; import "os"` + "\n",
		"\tos.Exit(residue.VerifyTestMain(m))\n",
		"func TestA(t *testing.T) { residue.Check(t);\n\t\n\tt.Log(\"a\")",
		"func TestB(residueT *testing.T) { residue.Check(residueT);}",
		"func TestC(residueT *testing.T) { residue.Check(residueT);}",
		"func Testlower(t *testing.T) {}",
		"func(t *testing.T) { residue.Check(t);\n\t\t\n\t})",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rewritten file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "goleak") {
		t.Errorf("goleak is still there:\n%s", got)
	}
	if strings.Count(got, "\n") != strings.Count(src, "\n") {
		t.Errorf("lines moved:\n%s", got)
	}
}

func TestRewriteKeepsGoleakWhenStillUsed(t *testing.T) {
	src := "package p\n\nimport (\n\t\"testing\"\n\n\t\"go.uber.org/goleak\"\n)\n\nvar opt = goleak.IgnoreCurrent()\n\nfunc TestA(t *testing.T) { goleak.VerifyNone(t, opt) }\n"
	out, err := rewriteSource("p_test.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); !strings.Contains(got, `"go.uber.org/goleak"`) || strings.Contains(got, "VerifyNone") {
		t.Errorf("got:\n%s", got)
	}
}

func TestParseRunAndCollect(t *testing.T) {
	dir := t.TempDir()
	base := "=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n--- PASS: TestB (0.00s)\nPASS\nok  \texample.com/p\t0.01s\n"
	res := `=== RUN   TestA
    testing.go:36: residue.Check: The block left side effects (goroutines, global state):
        
        Goroutines
          The block left 1 goroutine running after it returned (still there after the 200ms settle window):
        
          goroutine 7 [chan receive, waiting ≥ 1s]
              example.com/p.worker
                  /src/p/p.go:12
              created by example.com/p.Start — in the block
                  /src/p/p.go:9
        
        Global state
          The block changed 1 package-level variable (2 changes):
        
              example.com/p.cache: added "k12": 1
              example.com/p.cache: added "k13": 2
--- FAIL: TestA (1.00s)
=== RUN   TestB
    p_test.go:20: boom
--- FAIL: TestB (0.00s)
FAIL
residue.VerifyTestMain: the tests The block left side effects (file descriptors):

File descriptors
  The block left 1 file descriptor open (still open after the 1s settle window):

  fd 7: file /tmp/x123/log
      opened by the block at /src/p/p.go:30

  Also opened while the block ran, and not counted as the block's (their creation stacks tie them to other goroutines or to another probed block running at the same time):
      fd 9: file /tmp/other
FAIL	example.com/p	1.20s
`
	bp, rp := filepath.Join(dir, "base"), filepath.Join(dir, "res")
	os.WriteFile(bp, []byte(base), 0o644)
	os.WriteFile(rp, []byte(res), 0o644)
	b, err := parseRun(bp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRun(rp)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range collect(b, r) {
		got = append(got, f.pkg+" "+orMain(f.test)+" "+f.kind+" "+f.key)
	}
	want := []string{
		"example.com/p TestMain fd file /tmp/x#/log",
		"example.com/p TestA goroutine example.com/p.worker ← example.com/p.Start",
		"example.com/p TestA global example.com/p.cache",
		"example.com/p TestB failure fails only with residue",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.pkgSecs["example.com/p"] != 1.2 {
		t.Errorf("package time %v, want 1.2", r.pkgSecs["example.com/p"])
	}
}

func TestTriageMatching(t *testing.T) {
	e := &triageEntry{module: "*", mode: "*", pkg: "*", test: "TestMain", kind: "global", key: "flag.CommandLine.*"}
	f := &finding{module: "zap", mode: "race", pkg: "go.uber.org/zap", kind: "global", key: "flag.CommandLine.parsed"}
	if !e.matches(f) {
		t.Error("the TestMain line does not match a TestMain finding")
	}
	f.test = "TestA"
	if e.matches(f) {
		t.Error("the TestMain line matches a finding of TestA")
	}
	if !matchGlob("a*c*e", "abcde") || matchGlob("a*c*e", "abcdef") || matchGlob("x", "xy") {
		t.Error("matchGlob")
	}
}

func TestRaces(t *testing.T) {
	lines := strings.Split(`==================
WARNING: DATA RACE
Read at 0x00c000012345 by goroutine 8:
  example.com/p.reader()
      /src/p/p.go:12 +0x3a

Previous write at 0x00c000012345 by goroutine 7:
  example.com/p.(*T).writer()
      /src/p/p.go:20 +0x44
==================`, "\n")
	rs := races(lines)
	if len(rs) != 1 || rs[0].key != "example.com/p.reader vs example.com/p.(*T).writer" {
		t.Errorf("races: %+v", rs)
	}
}

// A line marked expected is a true leak that the run must report: it fails
// the run once no finding matches it, even when a wider line earlier in the
// file gave the finding its verdict; lines of other modules or modes are
// not expected.
func TestExpectedLeaksMustBeReported(t *testing.T) {
	triage := []*triageEntry{
		{module: "zap", mode: "*", pkg: "*", test: "*", kind: "fd", key: "file /tmp/*", verdict: "true", line: 1},
		{module: "zap", mode: "*", pkg: "go.uber.org/zap/zapcore", test: "TestIOCore", kind: "fd", key: "file /tmp/TestIOCore#/*", verdict: "expected", line: 2},
		{module: "zap", mode: "*", pkg: "go.uber.org/zap", test: "TestConfig", kind: "fd", key: "file /tmp/TestConfig*", verdict: "expected", line: 3},
		{module: "zap", mode: "race", pkg: "*", test: "TestRaceOnly", kind: "*", key: "*", verdict: "expected", line: 4},
		{module: "tally", mode: "*", pkg: "*", test: "*", kind: "*", key: "*", verdict: "expected", line: 5},
	}
	findings := []*finding{
		{pkg: "go.uber.org/zap/zapcore", test: "TestIOCore", kind: "fd", key: "file /tmp/TestIOCore#/#/test.log# (deleted)"},
	}
	missing := triageFindings("zap", "plain", findings, triage)
	if len(missing) != 1 || missing[0].line != 3 {
		t.Errorf("missing lines: %+v, want line 3 only", missing)
	}
	if findings[0].verdict != "true" || !isTrue(findings[0].verdict) {
		t.Errorf("verdict %q, want the first matching line's", findings[0].verdict)
	}
	findings = append(findings, &finding{pkg: "go.uber.org/zap", test: "TestConfig", kind: "fd", key: "file /tmp/TestConfigproduction#/#/test.log (deleted)"})
	if missing := triageFindings("zap", "plain", findings, triage); len(missing) != 0 {
		t.Errorf("missing lines: %+v, want none", missing)
	}
	if missing := triageFindings("zap", "race", findings, triage); len(missing) != 1 || missing[0].line != 4 {
		t.Errorf("with -race, missing lines: %+v, want line 4", missing)
	}
}

func TestReadTriageVerdicts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "triage.tsv")
	os.WriteFile(p, []byte("# c\nzap\t*\tp\tT\tfd\tk\texpected\twhy\n"), 0o644)
	es, err := readTriage(p)
	if err != nil || len(es) != 1 || es[0].verdict != "expected" {
		t.Fatalf("%v %+v", err, es)
	}
	os.WriteFile(p, []byte("zap\t*\tp\tT\tfd\tk\tmaybe\twhy\n"), 0o644)
	if _, err := readTriage(p); err == nil {
		t.Error("verdict maybe accepted")
	}
}

// A test that failed only with residue is run again, alone: a failure the
// reruns do not repeat is flaky and not counted, one they repeat stays
// untriaged, and a failure a triage line covers is not run again.
func TestFailuresAreRunAgainAlone(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran-once")
	files := map[string]string{
		"go.mod": "module example.com/p\n\ngo 1.22\n",
		"p_test.go": `package p

import (
	"os"
	"testing"
)

func TestOnce(t *testing.T) {
	t.Run("sub", func(t *testing.T) {
		if _, err := os.Stat(` + strconv.Quote(marker) + `); err != nil {
			os.WriteFile(` + strconv.Quote(marker) + `, nil, 0o644)
			t.Fatal("the first run fails")
		}
	})
}

func TestAlways(t *testing.T) { t.Fatal("always") }

func TestAlwaysOther(t *testing.T) { t.Fatal("always") }
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	again := goTestAgain(dir, false)
	// The first run, as the suite's would have been.
	if passed, out := again("example.com/p", "TestOnce/sub", 1); passed {
		t.Fatalf("the first run of TestOnce/sub passed:\n%s", out)
	}
	findings := []*finding{
		{pkg: "example.com/p", test: "TestOnce/sub", kind: "failure", key: "fails only with residue"},
		{pkg: "example.com/p", test: "TestAlways", kind: "failure", key: "fails only with residue"},
		{pkg: "example.com/p", test: "TestAlwaysOther", kind: "failure", key: "fails only with residue", verdict: "true"},
	}
	var ran []string
	recheckFailures(findings, func(pkg, test string, count int) (bool, string) {
		ran = append(ran, test)
		return again(pkg, test, count)
	})
	if findings[0].verdict != "flaky" {
		t.Errorf("a failure that reruns did not repeat: verdict %q, want flaky", findings[0].verdict)
	}
	if findings[1].verdict != "" {
		t.Errorf("a failure every rerun repeats: verdict %q, want none (untriaged)", findings[1].verdict)
	}
	if strings.Join(ran, " ") != "TestOnce/sub TestAlways" {
		t.Errorf("ran again: %q, want TestOnce/sub and TestAlways only", ran)
	}
	if got := runPattern("TestA/b.c"); got != `^TestA$/^b\.c$` {
		t.Errorf("runPattern = %q", got)
	}
}
