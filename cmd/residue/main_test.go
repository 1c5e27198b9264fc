package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue/internal/golden"
	"github.com/residue-go/residue/internal/record"
)

// auditFixture runs the command on the fixture module, in this process.
func auditFixture(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"test", "-C", filepath.Join("testdata", "fixture")}, args...), &out, &errb)
	// The file the fixture's TestTempFile leaves, the finding it is
	// there for.
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "fixture-left-*"))
	for _, f := range left {
		os.Remove(f)
	}
	return code, out.String(), errb.String()
}

// auditJSON runs the command with -json on the module in testdata/dir,
// in this process, and reads the records it wrote.
func auditJSON(t *testing.T, dir string, args ...string) (code int, recs []record.Record, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"test", "-C", filepath.Join("testdata", dir), "-json"}, args...), &out, &errb)
	recs, err := record.Read(&out)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	return code, recs, errb.String()
}

// normalize keeps what must not change from run to run: no times, no
// texts (they hold goroutine IDs, ports and paths).
func normalize(t *testing.T, out string) string {
	t.Helper()
	recs, err := record.Read(strings.NewReader(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		r.Elapsed, r.Check, r.Report = 0, 0, ""
		for i := range r.Findings {
			r.Findings[i].Text = ""
		}
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestFixture audits a module with plain, parallel and sub- tests, a
// TestMain, an external test package, a Ginkgo suite, a test that fails
// and a package that does not build, with a leak for every probe, and
// compares the records with testdata/fixture.golden.
func TestFixture(t *testing.T) {
	code, out, stderr := auditFixture(t, "-json", "-files", "./...")
	if code != exitFailed {
		t.Errorf("exit code %d, want %d (a test fails and a package does not build)", code, exitFailed)
	}
	golden.Check(t, "fixture", normalize(t, out))
	if t.Failed() {
		t.Logf("stderr:\n%s", stderr)
	}

	// Each test's report names the line of the fixture that left it.
	lines := map[string]string{
		"TestGoroutine":              `StartWorker — in the test\n\s+\S+plain/plain\.go:17\b`,
		"TestParallelLeak":           `plain/plain\.go:17\b`,
		"TestSubtests":               `plain/plain\.go:17\b`,
		"TestFile":                   `plain/plain_test\.go:23\b`,
		"TestSocket":                 `plain/plain_test\.go:29\b`,
		"TestSubtestOpens":           `plain/plain_test\.go:45\b`,
		"TestGlobal":                 `plain\.Registry: added "a": 1`,
		"TestSetMode":                `external\.Mode: "prod" → "test"`,
		"TestLeak":                   `testmain/testmain_test\.go:23\b`,
		"TestProcess":                `started by the test at .*plain/leftovers_test\.go:12\b`,
		"TestNamedSubtest":           `started by a goroutine the test started, running example\.com/fixture/plain\.startsTrue\n(.*\n)*.*plain/children_test\.go:19\b`,
		"TestTempFile":               `created by the test at .*plain/leftovers_test\.go:19\b`,
		"a worker is left running":   `suite/suite_test\.go:20\b`,
		"a config file is left open": `opened by the block at .*suite/suite_test\.go:35\b`,
	}
	recs, _ := record.Read(strings.NewReader(out))
	for _, r := range recs {
		// A test that left nothing did not wait out its settle window (1s
		// by default), which is all the bound on a clean check tells apart
		// (a loaded machine slows a clean check down to tenths of a
		// second). One that left something may have waited, or not: where
		// the runtime proves goroutines stuck, a descriptor was dropped, or
		// nothing in the process could run before the window ended.
		if r.Check < 0 || r.Check > r.Elapsed {
			t.Errorf("%s: check %.3fs, elapsed %.3fs", r.Test, r.Check, r.Elapsed)
		}
		if r.Counts.Files == nil {
			t.Errorf("%s: no files count, with -files", r.Test)
		} else if r.Verdict == record.Clean && r.Check >= 0.9 {
			t.Errorf("%s: %s, check took %.3fs", r.Test, r.Verdict, r.Check)
		}
		if r.Verdict != record.Found {
			continue
		}
		re, ok := lines[r.Test]
		if !ok {
			t.Errorf("unexpected finding in %s", r.Test)
			continue
		}
		if !regexp.MustCompile(re).MatchString(r.Report) {
			t.Errorf("%s: report does not match %s:\n%s", r.Test, re, r.Report)
		}
		// A process is tied to one start (another process's files in the
		// temp directory at the same time can make a file "one of" them).
		if (r.Test == "TestProcess" || r.Test == "TestNamedSubtest") && strings.Contains(r.Report, "one of") {
			t.Errorf("%s: report names other candidates:\n%s", r.Test, r.Report)
		}
	}

	for _, want := range []string{
		"residue: [5/5] ",
		"example.com/fixture/broken did not build:",
		"broken/broken_test.go:6:2: undefined: undefined", // the file's own path, not the overlay's
		"example.com/fixture/plain TestFails failed:",
		"residue: FAIL: 14 tests left side effects; 1 test failed (the tests' own failures); 1 package did not build",
		" s went to settle windows: the checks of ",
		"to go away (summed over the tests; tests running in parallel wait at the same time; the window is 1s, -within sets it)\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("standard error lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "residue-audit-") {
		t.Errorf("standard error names the overlay's files:\n%s", stderr)
	}
}

// TestBaseline accepts the findings of a package, passes with them, lists
// an entry that no longer occurs, and fails again once an entry is gone.
func TestBaseline(t *testing.T) {
	base := filepath.Join(t.TempDir(), "baseline.json")
	code, out, stderr := auditFixture(t, "-baseline", base, "-update-baseline", "./external")
	if code != exitClean {
		t.Fatalf("-update-baseline: exit code %d\n%s%s", code, out, stderr)
	}
	data, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "schema": 1,
  "accepted": [
    {"package":"example.com/fixture/external","test":"TestSetMode","probe":"globals","key":"example.com/fixture/external.Mode","count":1}
  ]
}
`
	if string(data) != want {
		t.Fatalf("baseline:\n%s\nwant:\n%s", data, want)
	}

	code, out, stderr = auditFixture(t, "-baseline", base, "./external")
	if code != exitClean || !strings.Contains(stderr, "residue: ok: 2 tests in 1 package left nothing behind that the baseline does not accept (1 finding accepted by the baseline)") {
		t.Fatalf("with the baseline: exit code %d\n%s%s", code, out, stderr)
	}

	stale := strings.Replace(want, "\n  ]", `,
    {"package":"example.com/fixture/external","test":"TestReadMode","probe":"goroutines","key":"gone ← away","count":1}
  ]`, 1)
	if err := os.WriteFile(base, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = auditFixture(t, "-baseline", base, "./external")
	if code != exitClean || !strings.Contains(out, "Baseline entries that no longer occur") ||
		!strings.Contains(out, "example.com/fixture/external TestReadMode: goroutines gone ← away") {
		t.Fatalf("stale entry: exit code %d\n%s%s", code, out, stderr)
	}

	empty := "{\"schema\": 1, \"accepted\": []}\n"
	if err := os.WriteFile(base, []byte(empty), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = auditFixture(t, "-baseline", base, "./external")
	if code != exitFindings || !strings.Contains(stderr, "residue: FAIL: 1 test left side effects not in the baseline") ||
		!strings.Contains(out, `external.Mode: "prod" → "test"`) {
		t.Fatalf("without the entry: exit code %d\n%s%s", code, out, stderr)
	}
}

// TestGinkgoParallel runs the fixture's audited suite under ginkgo -p: each
// process records the specs it runs, into the one file.
func TestGinkgoParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ginkgo command")
	}
	o, err := parseArgs([]string{"-C", filepath.Join("testdata", "fixture"), "./suite"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := prepare(o)
	if a != nil {
		defer os.RemoveAll(a.tmp)
	}
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if out, err := goCmd(".", nil, "build", "-o", filepath.Join(bin, "ginkgo"), "github.com/onsi/ginkgo/v2/ginkgo"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	build := append([]string{"test", "-c", "-o", filepath.Join(bin, "suite.test")}, a.testArgs(o)...)
	build = build[:slices.Index(build, "-args")]
	if out, err := goCmd(a.dir, a.env, build...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cmd := exec.Command(filepath.Join(bin, "ginkgo"), "-p", "--procs=2", "--no-color", filepath.Join(bin, "suite.test"))
	cmd.Dir, cmd.Env = filepath.Join(a.dir, "suite"), append(os.Environ(), a.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ginkgo -p: %v\n%s", err, out)
	}
	recs, err := readRecords(a.records, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Test+": "+r.Verdict)
	}
	want := []string{"a config file is left open: found", "a worker is left running: found", "a worker is stopped by the AfterEach: clean"}
	if !slices.Equal(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

// TestGlobalsScope: -globals=module still sees the module's own variables;
// -globals=off sees none.
func TestGlobalsScope(t *testing.T) {
	code, out, stderr := auditFixture(t, "-globals=module", "./external")
	if code != exitFindings || !strings.Contains(out, `external.Mode: "prod" → "test"`) {
		t.Errorf("-globals=module: exit code %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = auditFixture(t, "-globals", "off", "./external")
	if code != exitClean || !strings.Contains(stderr, "residue: ok: 2 tests in 1 package left nothing behind") {
		t.Errorf("-globals=off: exit code %d\n%s%s", code, out, stderr)
	}
	if _, err := parseArgs([]string{"-globals=some"}); err == nil {
		t.Error("-globals=some accepted")
	}
}

// TestWithin: -within sets every probe's settle window: the tests that
// left a file and a socket are still found, without waiting a second.
// A negative or malformed duration is refused.
func TestWithin(t *testing.T) {
	code, out, stderr := auditFixture(t, "-json", "-within", "100ms", "-run", "^(TestFile|TestSocket)$", "./plain")
	recs, err := record.Read(strings.NewReader(out))
	if code != exitFindings || err != nil || len(recs) != 2 {
		t.Fatalf("exit code %d, err %v\n%s%s", code, err, out, stderr)
	}
	for _, r := range recs {
		if r.Verdict != record.Found || r.Counts.Descriptors != 1 || r.Check > 0.6 {
			t.Errorf("%s: %s, %d descriptors, check took %.3fs", r.Test, r.Verdict, r.Counts.Descriptors, r.Check)
		}
	}
	for _, bad := range []string{"-within=-1s", "-within=soon", "-within=5"} {
		if _, err := parseArgs([]string{bad}); err == nil || !strings.Contains(err.Error(), "want a duration of zero or more") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}

// TestGoTestFails: when go test stops before any package, the run fails
// with go test's own message.
func TestGoTestFails(t *testing.T) {
	code, out, stderr := auditFixture(t, "-timeout=abc", "./external")
	if code != exitCommand || !strings.Contains(out, `invalid value "abc" for flag -timeout`) ||
		!strings.Contains(stderr, "residue: FAIL: go test failed") {
		t.Errorf("exit code %d\n%s%s", code, out, stderr)
	}
}

// TestNestedChecks audits a module whose tests use residue themselves (a
// matcher inside a test, a suite with suite.CheckEverySpec), goleak in a
// TestMain, and a test that runs its own binary again: every test passes audited as it does under
// plain go test, and the child process writes no records.
func TestNestedChecks(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"test", "-C", filepath.Join("testdata", "nested"), "-json", "./..."}, &out, &errb)
	if code != exitFindings {
		t.Errorf("exit code %d, want %d (the drop tests leave their files):\n%s", code, exitFindings, errb.String())
	}
	recs, err := record.Read(&out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		line := r.Test + ": " + r.Verdict
		if r.Failed {
			line += ", failed"
		}
		if r.Skipped {
			line += ", skipped"
		}
		for _, f := range r.Findings {
			if f.Probe == record.Descriptors {
				line += "; " + f.Key
			}
		}
		got = append(got, line)
	}
	want := []string{
		// The matcher inside the test sees the dropped file: the audit's
		// own check holds the finalizers back for it too.
		"TestDroppedFileIsSeen: found; file opened by example.com/nested/drop.TestDroppedFileIsSeen.func1",
		// The matcher sees the file that no creation stack ties to the
		// block: the audit's check, which encloses it, is not another
		// block running at the same time.
		"TestFileOpenedElsewhereIsSeen: found; file opened by example.com/nested/drop.openKept",
		// goleak.VerifyTestMain, after the tests, finds no goroutine of
		// residue's (the package would fail outside its tests).
		"TestOpensAndCloses: clean",
		// Once, skipped: the child process that runs it is not audited.
		"TestChild: clean, skipped",
		"TestRunsItself: clean",
		// suite.CheckEverySpec does not see the audit's check of the spec.
		"a server is closed by the AfterEach: clean",
		"a worker is stopped by a DeferCleanup: clean",
	}
	if !slices.Equal(got, want) {
		t.Errorf("records:\n  %s\nwant:\n  %s\nstderr:\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), errb.String())
	}
}

// TestStoppedTests audits tests that panic, end through runtime.Goexit or
// stop the test binary: their records say they failed, and what the binary
// wrote as it stopped is shown under the test that was running.
func TestStoppedTests(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"test", "-C", filepath.Join("testdata", "stops"), "-json", "./goexit", "./gopanic", "./hang", "./named_test", "./panics"}, &out, &errb)
	if code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	recs, err := record.Read(&out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Test == "TestInNamedTest" {
			if r.Package != "example.com/stops/named_test" {
				t.Errorf("TestInNamedTest is recorded in package %s", r.Package)
			}
			continue
		}
		got = append(got, fmt.Sprintf("%s failed=%v skipped=%v", r.Test, r.Failed, r.Skipped))
	}
	want := []string{"TestGoexit failed=true skipped=false", "TestSkips failed=false skipped=true", "TestPanicsInAGoroutine failed=true skipped=false", "TestPasses failed=false skipped=false", "TestHangs failed=false skipped=true", "TestPanics failed=true skipped=false"}
	if !slices.Equal(got, want) {
		t.Errorf("records:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, s := range []string{
		"example.com/stops/gopanic TestPanicsInAGoroutine did not finish: the test binary stopped while it ran",
		"panic: boom in a goroutine",
		"gopanic_test.go:13",
		"residue: FAIL: 2 tests failed (the tests' own failures); 1 test did not finish (the test binary stopped)",
	} {
		if !strings.Contains(errb.String(), s) {
			t.Errorf("standard error lacks %q:\n%s", s, errb.String())
		}
	}
}

// TestNoTestRan runs a pattern that matches no test: the run passes, as go
// test does, and says that nothing was audited, and where.
func TestNoTestRan(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"test", "-C", filepath.Join("testdata", "stops"), "-run", "NoSuchTest", "./panics"}, &out, &errb)
	if code != exitClean {
		t.Errorf("exit code %d, want %d", code, exitClean)
	}
	for _, s := range []string{
		"residue: no test ran in example.com/stops/panics (-run matched none, a TestMain does not call m.Run, or the package has only examples, benchmarks or fuzz targets, which are not audited)\n",
		"residue: ok, but no test was audited: none ran\n",
	} {
		if !strings.Contains(errb.String(), s) {
			t.Errorf("standard error lacks %q:\n%s", s, errb.String())
		}
	}
}

// TestBaselineUpdates keeps, on -update-baseline, the entries of tests the
// run did not look at, lists the entries of tests that no longer exist,
// and refuses a baseline it cannot use before any test runs.
func TestBaselineUpdates(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline.json")
	other := `    {"package":"example.com/fixture/plain","test":"TestGlobal","probe":"globals","key":"example.com/fixture/plain.Registry[\"a\"]","count":1}`
	gone := `    {"package":"example.com/fixture/external","test":"TestRemoved","probe":"goroutines","key":"gone","count":1}`
	if err := os.WriteFile(base, []byte("{\"schema\": 1, \"accepted\": [\n"+other+",\n"+gone+"\n]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Every test of ./external runs: TestRemoved's entry is stale.
	code, out, stderr := auditFixture(t, "-baseline", base, "./external")
	if code != exitFindings || !strings.Contains(out, "example.com/fixture/external TestRemoved: goroutines gone") ||
		strings.Contains(out, "TestGlobal: globals") {
		t.Errorf("stale entries: exit code %d\n%s%s", code, out, stderr)
	}
	// Only TestSetMode runs: TestRemoved's entry may be of a test left
	// out, and is kept with plain's.
	code, out, stderr = auditFixture(t, "-baseline", base, "-update-baseline", "-run", "TestSetMode", "./external")
	if code != exitClean || !strings.Contains(out, "residue: wrote 3 findings to "+base+" (2 of them kept from it: their tests did not run)") {
		t.Errorf("-update-baseline -run: exit code %d\n%s%s", code, out, stderr)
	}
	data, _ := os.ReadFile(base)
	for _, e := range []string{strings.TrimSpace(other), strings.TrimSpace(gone), `"test":"TestSetMode"`} {
		if !strings.Contains(string(data), e) {
			t.Errorf("baseline lacks %s:\n%s", e, data)
		}
	}
	// A flag of the test binaries' may leave tests out as -run does.
	if code, out, stderr = auditFixture(t, "-baseline", base, "./external", "-test.run=TestSetMode"); code != exitClean || strings.Contains(out, "TestRemoved: goroutines gone") {
		t.Errorf("a test binary flag: exit code %d\n%s%s", code, out, stderr)
	}
	// Every test of ./external runs: TestRemoved's entry goes.
	if code, out, stderr = auditFixture(t, "-baseline", base, "-update-baseline", "./external"); code != exitClean {
		t.Errorf("-update-baseline: exit code %d\n%s%s", code, out, stderr)
	}
	if data, _ := os.ReadFile(base); strings.Contains(string(data), "TestRemoved") || !strings.Contains(string(data), "TestGlobal") {
		t.Errorf("baseline after a full run of ./external:\n%s", data)
	}

	for _, c := range []struct{ name, content, want string }{
		{"list.json", "[]", "not a residue baseline"},
		{"nokey.json", `{"schema": 1, "accepted": [{"package":"p","test":"T","probe":"globals"}]}`, `entry 1 lacks a package, test, probe or key: {"package":"p","test":"T","probe":"globals","key":"","count":0}`},
		{"noaccepted.json", `{"schema": 1}`, `no "accepted" list`},
		{"null.json", `{"schema": 1, "accepted": null}`, `no "accepted" list`},
		{"probe.json", `{"schema": 1, "accepted": [{"package":"p","test":"T","probe":"bogus","key":"k"}]}`, `entry 1 names probe "bogus"; the probes are goroutines, descriptors, processes, files, globals`},
		{"broken.json", `{"schema": 1,`, "not JSON"},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := auditFixture(t, "-baseline", path, "./external"); code != exitCommand || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit code %d, want %d and %q:\n%s", c.name, code, exitCommand, c.want, stderr)
		}
	}
	start := time.Now()
	code, _, stderr = auditFixture(t, "-update-baseline", "-baseline", filepath.Join(dir, "no", "such", "dir.json"), "./...")
	if code != exitCommand || !strings.Contains(stderr, "no such file or directory") || !strings.Contains(stderr, "no/such") {
		t.Errorf("a baseline in a missing directory: exit code %d\n%s", code, stderr)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the tests ran before the baseline's directory was found missing (%v)", time.Since(start))
	}
}

// TestGoOutput shows what a flag whose point is go test's output asked for
// (-list here), of a package that passes.
func TestGoOutput(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"test", "-C", filepath.Join("testdata", "stops"), "-list", ".", "./panics"}, &out, &errb)
	if code != exitClean || !strings.Contains(out.String(), "example.com/stops/panics (go test):\n  TestPanics\n") {
		t.Errorf("exit code %d:\n%s%s", code, out.String(), errb.String())
	}
}

// TestCommandLine: help is asked for and given; another command is named
// as unknown.
func TestCommandLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{[]string{"help"}, exitClean, "usage: residue test", ""},
		{[]string{"-h"}, exitClean, "usage: residue test", ""},
		{[]string{"tset", "./..."}, exitCommand, "", "residue: unknown command \"tset\": the one command is test\n\nusage: residue test"},
		{nil, exitCommand, "", "usage: residue test"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.HasPrefix(out.String(), c.out) || !strings.HasPrefix(errb.String(), c.err) || c.out == "" && out.Len() > 0 {
			t.Errorf("residue %v: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", c.args, code, c.code, out.String(), errb.String())
		}
	}
}

// TestUnattributedAreCounted: a global change parallel tests saw, which
// neither is given, is named in the run's last line.
func TestUnattributedAreCounted(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"test", "-C", filepath.Join("testdata", "stops"), "./parallel"}, &out, &errb)
	want := "residue: ok: 2 tests in 1 package left nothing behind; 1 global change seen while tests ran in parallel could not be attributed (listed above)\n"
	if code != exitClean || !strings.HasSuffix(errb.String(), want) || !strings.Contains(out.String(), `example.com/stops/parallel.mode: "prod" → "debug"`) {
		t.Errorf("exit code %d:\n%s%s", code, out.String(), errb.String())
	}
	// With -json the changes are in the records, not listed.
	out.Reset()
	errb.Reset()
	code = run([]string{"test", "-C", filepath.Join("testdata", "stops"), "-json", "./parallel"}, &out, &errb)
	want = "could not be attributed (in the records' unattributed)\n"
	if code != exitClean || !strings.HasSuffix(errb.String(), want) || !strings.Contains(out.String(), `"unattributed":[`) {
		t.Errorf("with -json, exit code %d:\n%s%s", code, out.String(), errb.String())
	}
}

// TestStoppedOnASecondRun: under -count=2, a test whose second run stops
// the test binary did not finish, though its first run ended.
func TestStoppedOnASecondRun(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"test", "-C", filepath.Join("testdata", "stops"), "-count=2", "./secondrun"}, &out, &errb)
	// (Its first run leaves its counter changed: a finding too.)
	if code != exitFailed || !strings.HasSuffix(errb.String(), "; 1 test did not finish (the test binary stopped)\n") ||
		!strings.Contains(out.String(), "example.com/stops/secondrun TestStopsTheSecondTime did not finish") {
		t.Errorf("exit code %d:\n%s%s", code, out.String(), errb.String())
	}
}

// TestSignalBeforeTheTests: a stop signal that came while the run was
// being prepared stops it before go test starts.
func TestSignalBeforeTheTests(t *testing.T) {
	signals := make(chan os.Signal, 1)
	signals <- os.Interrupt
	r := runTests(filepath.Join("testdata", "stops"), nil, []string{"./hang"}, &progress{w: io.Discard}, func(s string) string { return s }, signals)
	if r.err == nil || !strings.Contains(r.err.Error(), "stopped by interrupt before the tests ran") || len(r.pkgs) > 0 {
		t.Errorf("err %v, packages %v", r.err, r.pkgs)
	}
}

// TestTextReport compares what a user reads of a run, tables, finding
// lines, the tests' own failures and the last lines, with
// testdata/text.golden. The full reports (indented four spaces or more)
// are the probes' own, kept in their golden files; times, line numbers and
// temporary paths are normalized (golden.Normalize).
func TestTextReport(t *testing.T) {
	code, out, stderr := auditFixture(t, "-files", "./plain", "./external")
	if code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	waited := regexp.MustCompile(`\d+\.\d+ s went`)
	var b strings.Builder
	for _, line := range strings.Split(out+stderr, "\n") {
		if strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "residue: [") {
			continue
		}
		b.WriteString(waited.ReplaceAllString(line, "D went") + "\n")
	}
	golden.Check(t, "text", regexp.MustCompile(`\n{3,}`).ReplaceAllString(b.String(), "\n\n"))
}

// TestGinkgoFocus: a suite with a focused spec ends the test binary with
// exit status 197; the focused spec is audited, and the stop is named as
// Ginkgo's.
func TestGinkgoFocus(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"test", "-C", filepath.Join("testdata", "focus"), "-json", "."}, &out, &errb)
	if code != exitFailed || !strings.Contains(errb.String(), "example.com/focus TestFocused did not finish: Ginkgo ended the test binary with exit status 197 once its focused specs passed") {
		t.Errorf("exit code %d:\n%s", code, errb.String())
	}
	recs, err := record.Read(&out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Test+": "+r.Verdict)
	}
	if want := []string{"TestFocused: error", "a store is focused: clean"}; !slices.Equal(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

// TestFailedSpecs counts a suite's failed specs, not the one test that ran
// them, beside a plain test of the same package that fails.
func TestFailedSpecs(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"test", "-C", filepath.Join("testdata", "focus"), "./failing"}, &out, &errb)
	if want := "residue: FAIL: 1 test and 2 specs failed (the tests' own failures)\n"; code != exitFailed || !strings.HasSuffix(errb.String(), want) {
		t.Errorf("exit code %d, want %d and a last line %q:\n%s", code, exitFailed, want, errb.String())
	}
}

// TestDottedPackage audits a package with a dot in the last element of its
// path: its globals are read, and the findings are keyed by its import
// path, not as the runtime spells it in its symbols ("dotted%2ev2").
func TestDottedPackage(t *testing.T) {
	code, recs, stderr := auditJSON(t, "stops", "-within", "100ms", "./dotted.v2")
	if code != exitFindings {
		t.Errorf("exit code %d, want %d:\n%s", code, exitFindings, stderr)
	}
	var got []string
	for _, r := range recs {
		for _, f := range r.Findings {
			got = append(got, r.Package+" "+r.Test+": "+f.Key)
		}
	}
	want := []string{
		"example.com/stops/dotted.v2 TestCounts: example.com/stops/dotted.v2.count",
		"example.com/stops/dotted.v2 TestStarts: example.com/stops/dotted.v2.TestStarts.func1 created by example.com/stops/dotted.v2.TestStarts",
		"example.com/stops/dotted.v2 TestStarts: example.com/stops/dotted.v2.stopLater",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n  %s\nwant:\n  %s\nstderr:\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), stderr)
	}
}

// TestOldGoLine audits a module whose go line (1.20) is older than
// residue's: requiring residue raises the copy's go line, but its tests
// keep the GODEBUG defaults of their own, and pass as they do plain.
func TestOldGoLine(t *testing.T) {
	code, recs, stderr := auditJSON(t, "oldgo", "./...")
	if code != exitClean || len(recs) != 1 || recs[0].Failed {
		t.Fatalf("exit code %d, want %d, and TestSeedRepeats passing:\n%s", code, exitClean, stderr)
	}
}

// TestManyParallelTests audits more tests waiting in t.Parallel at once
// than there are marker frames: each test's descriptor is still its own
// (its function tells its stacks apart), and none is an error.
func TestManyParallelTests(t *testing.T) {
	code, recs, stderr := auditJSON(t, "stops", "-within", "100ms", "-globals", "off", "./manyparallel")
	if code != exitFindings {
		t.Errorf("exit code %d, want %d:\n%s", code, exitFindings, stderr)
	}
	if len(recs) != 24 {
		t.Fatalf("%d records, want 24:\n%s", len(recs), stderr)
	}
	for _, r := range recs {
		if r.Verdict != record.Found || r.Counts.Descriptors != 1 {
			t.Errorf("%s: %s, %d descriptors, want found, 1: %s%s", r.Test, r.Verdict, r.Counts.Descriptors, r.Error, r.Report)
		}
	}
}

// TestParallelTestsResumedAfterTheBudgetWasSpent audits tests that wait in
// t.Parallel while a sequential test makes more heap allocations than the
// allocation-stack budget, which counted against theirs as well: once they
// run, the file each opens and keeps is still found and told to be its own
// (before audit.Resumed, all three were clean).
func TestParallelTestsResumedAfterTheBudgetWasSpent(t *testing.T) {
	code, recs, stderr := auditJSON(t, "stops", "-within", "100ms", "-globals", "off", "./pausedparallel")
	if code != exitFindings || len(recs) != 4 {
		t.Fatalf("exit code %d, want %d, and 4 records, not %d:\n%s", code, exitFindings, len(recs), stderr)
	}
	for _, r := range recs {
		want := strings.HasPrefix(r.Test, "TestKeeps")
		if got := r.Verdict == record.Found && r.Counts.Descriptors == 1 && len(r.Findings) == 1 &&
			r.Findings[0].Key == "file opened by example.com/stops/pausedparallel."+r.Test; got != want {
			t.Errorf("%s: %s, %d descriptors, findings %+v; want a file opened by the test: %v", r.Test, r.Verdict, r.Counts.Descriptors, r.Findings, want)
		}
	}
}

// TestFirstUseOfAProtobufMessage audits a test that marshals a protobuf
// message type for the first time: the descriptors the runtime builds then
// are not the test's changes (gin's protobuf tests were blamed for 328).
func TestFirstUseOfAProtobufMessage(t *testing.T) {
	code, recs, stderr := auditJSON(t, "proto", "./...")
	if code != exitClean || len(recs) != 2 {
		t.Fatalf("exit code %d and %d records, want %d and 2:\n%s", code, len(recs), exitClean, stderr)
	}
	for _, r := range recs {
		if r.Verdict != record.Clean {
			t.Errorf("%s: %s, want clean: %+v", r.Test, r.Verdict, r.Findings)
		}
	}
}

// TestAFileClosedInACleanupIsNotLeft audits a parallel test that closes
// its file in a t.Cleanup while another opens one beside it and keeps it:
// the closed file, still held by the cleanup testing keeps after calling
// it, is not taken for the descriptor the other test left.
func TestAFileClosedInACleanupIsNotLeft(t *testing.T) {
	code, recs, stderr := auditJSON(t, "stops", "-globals", "off", "-parallel", "2", "./cleanupclose")
	if code != exitFindings || len(recs) != 2 {
		t.Fatalf("exit code %d and %d records, want %d and 2:\n%s", code, len(recs), exitFindings, stderr)
	}
	for _, r := range recs {
		want, descriptors := record.Clean, 0
		if r.Test == "TestKeepsOne" {
			want, descriptors = record.Found, 1
		}
		if r.Verdict != want || r.Counts.Descriptors != descriptors || r.Failed {
			t.Errorf("%s: %s with %d descriptors (failed %v), want %s with %d:\n%s%s", r.Test, r.Verdict, r.Counts.Descriptors, r.Failed, want, descriptors, r.Error, r.Report)
		}
	}
}

// TestIgnoreGlobal audits the dotted package leaving its counter out, by
// name and by package pattern: the test that changes only it is clean, and
// the other keeps its goroutine finding.
func TestIgnoreGlobal(t *testing.T) {
	for _, name := range []string{"example.com/stops/dotted.v2.count", "example.com/stops/..."} {
		code, recs, stderr := auditJSON(t, "stops", "-within", "100ms", "-ignore-global", name, "./dotted.v2")
		if code != exitFindings || len(recs) != 2 {
			t.Fatalf("-ignore-global %s: exit code %d and %d records, want %d and 2:\n%s", name, code, len(recs), exitFindings, stderr)
		}
		for _, r := range recs {
			switch {
			case r.Test == "TestCounts" && r.Verdict != record.Clean:
				t.Errorf("-ignore-global %s: TestCounts %s, want clean: %v", name, r.Verdict, r.Findings)
			case r.Test == "TestStarts" && (r.Verdict != record.Found || r.Counts.Goroutines != 1):
				t.Errorf("-ignore-global %s: TestStarts %s with %d goroutines, want found with 1", name, r.Verdict, r.Counts.Goroutines)
			}
		}
	}
}

// TestIgnoreGlobalNeedsAName refuses an empty name and one beside
// -globals off, before anything is built.
func TestIgnoreGlobalNeedsAName(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-ignore-global= ", "./..."}, `invalid value " " for flag -ignore-global: want a variable`},
		{[]string{"-globals", "off", "-ignore-global", "example.com/a.b", "."}, "-ignore-global example.com/a.b: -globals off compares no globals to leave out"},
	} {
		if _, err := parseArgs(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

// TestOutputWithoutANewline audits a test whose output leaves its last
// line open, so that go test's "--- PASS" for it is not at the start of a
// line: its own record says it ended, and it is not taken for a test the
// binary stopped in (fatih/color's TestNoFormat).
func TestOutputWithoutANewline(t *testing.T) {
	code, recs, stderr := auditJSON(t, "stops", "./nonewline")
	if code != exitClean || len(recs) != 2 {
		t.Fatalf("exit code %d and %d records, want %d and 2:\n%s", code, len(recs), exitClean, stderr)
	}
	for _, r := range recs {
		if r.Verdict != record.Clean || r.Failed || r.Error != "" {
			t.Errorf("%s: %s (failed %v, %q), want clean", r.Test, r.Verdict, r.Failed, r.Error)
		}
	}
}

// TestUUIDs audits tests that make UUIDs with github.com/google/uuid, whose
// package state moves with every UUID (the last time handed out, the clock
// sequence, the random pool) or is set on first use (the node ID): clean;
// tests that set the node ID or turn the pool on are reported for it.
func TestUUIDs(t *testing.T) {
	code, recs, stderr := auditJSON(t, "uuid", "./...")
	if code != exitFindings || len(recs) != 5 {
		t.Fatalf("exit code %d and %d records, want %d and 5:\n%s", code, len(recs), exitFindings, stderr)
	}
	for _, r := range recs {
		var keys []string
		for _, f := range r.Findings {
			keys = append(keys, f.Key)
		}
		if r.Test == "TestEnablesThePool" {
			if !slices.Equal(keys, []string{"github.com/google/uuid.poolEnabled"}) {
				t.Errorf("%s: findings %q, want the pool turned on:\n%s", r.Test, keys, r.Report)
			}
			continue
		}
		if r.Test != "TestSetsTheNode" {
			if len(keys) > 0 || r.Failed {
				t.Errorf("%s: findings %q (failed %v), want none:\n%s", r.Test, keys, r.Failed, r.Report)
			}
			continue
		}
		// SetNodeID sets the node ID, byte by byte, and names its source
		// "user".
		want := []string{"github.com/google/uuid.ifname"}
		for i := range 6 {
			want = append(want, fmt.Sprintf("github.com/google/uuid.nodeID[%d]", i))
		}
		if !slices.Equal(keys, want) {
			t.Errorf("%s: findings %q, want %q:\n%s", r.Test, keys, want, r.Report)
		}
	}
}
