package globals_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The scenarios program (testdata/scenarios) runs one block, named by its
// argument, under globals.Find as the first thing the process does: each
// scenario gets a fresh process, where lazy caches are still empty.

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// scenarioBinary builds testdata/scenarios once per test run, with debug
// info (ldflags "-w=0") or stripped ("-s -w").
func scenarioBinary(t *testing.T, ldflags string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "residue-globals-")
		if buildErr != nil {
			return
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, flags := range []string{"-w=0", "-s -w"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := exec.Command("go", "build", "-ldflags="+flags, "-o", filepath.Join(buildDir, name(flags)), "./testdata/scenarios").CombinedOutput()
				if err != nil {
					errs[i] = &buildError{flags, err, out}
				}
			}()
		}
		wg.Wait()
		for _, e := range errs {
			if e != nil {
				buildErr = e
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building testdata/scenarios: %v", buildErr)
	}
	return filepath.Join(buildDir, name(ldflags))
}

func name(ldflags string) string {
	if ldflags == "-w=0" {
		return "scenarios-dwarf"
	}
	return "scenarios-stripped"
}

type buildError struct {
	flags string
	err   error
	out   []byte
}

func (e *buildError) Error() string {
	return "go build -ldflags=" + e.flags + ": " + e.err.Error() + "\n" + string(e.out)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

type scenarioResult struct {
	changes map[string][]string // variable -> lines
	report  string
}

func runFresh(t *testing.T, ldflags, scenario string) scenarioResult {
	t.Helper()
	return runProgram(t, scenarioBinary(t, ldflags), scenario)
}

// runProgram runs a program that prints CHANGE lines and a REPORT.
func runProgram(t *testing.T, exe, scenario string) scenarioResult {
	t.Helper()
	cmd := exec.Command(exe, scenario)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	res := scenarioResult{changes: map[string][]string{}}
	head, report, _ := strings.Cut(out.String(), "REPORT\n")
	res.report = strings.TrimSpace(report)
	if err != nil {
		res.report = out.String()
		return res
	}
	for _, line := range strings.Split(head, "\n") {
		if f := strings.SplitN(line, "\t", 3); len(f) == 3 && f[0] == "CHANGE" {
			res.changes[f[1]] = append(res.changes[f[1]], f[2])
		}
	}
	return res
}

// The blocks of testdata/scenarios that change no program state, though
// they fill lazy caches when they run first in a process.
var cleanScenarios = []string{
	"encoding/json round trip",
	"regexp compile and match",
	"text/template execute",
	"fmt",
	"strconv",
	"sort",
	"time formatting",
	"HTTP round trip to an httptest server",
	"signal.Notify and Stop",
	"net.LookupHost of localhost",
	"mime type lookup",
	"user package slice left empty with spare capacity",
	// Caches of the standard library's cryptography (the rules cachedEntry
	// and filledByOnce).
	"crypto/elliptic curve parameters",
	"crypto/ecdsa sign and verify",
	"crypto/ed25519 sign and verify",
	"HTTPS round trip to an httptest TLS server",
	"gob encoding of a type not encoded before",
	"drawing from a package's own random generators",
	"net.Interfaces",
}

func TestCleanBlocksInFreshProcessesReportNothing(t *testing.T) {
	for _, s := range cleanScenarios {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			res := runFresh(t, "-w=0", s)
			if !strings.HasPrefix(res.report, "The block changed no package-level variable") {
				t.Errorf("a clean block was reported:\n%s", res.report)
			}
		})
	}
}

// The blocks of testdata/scenarios that change global state, each with the
// variable the report must name.
var recallScenarios = []struct{ scenario, variable, line string }{
	{"mime.AddExtensionType", "mime.mimeTypes", `mime.mimeTypes: added ".residue": "text/x-residue; charset=utf-8"`},
	{"http.HandleFunc on DefaultServeMux", "net/http.DefaultServeMux", `net/http.DefaultServeMux.patterns: added "/residue-hello": main.`},
	{"gob.Register", "encoding/gob.nameToConcreteType", `encoding/gob.nameToConcreteType: added "main.gobPayload": type main.gobPayload`},
	{"replacing a package's random generator", "main.pkgRand", `main.pkgRand.src: rand.rngSource(0x`},
	{"flag.Set on the default FlagSet", "flag.CommandLine", `flag.CommandLine.actual: added "residue-scenario-flag"`},
	{"log.SetPrefix", "log.std", `log.std.prefix: "" → "residue: "`},
	{"sql.Register", "database/sql.drivers", `database/sql.drivers: added "residue-fake": main.fakeDriver{}`},
	{"expvar.NewInt", "expvar.vars", `expvar.vars.m: added "residue_hits": &expvar.Int{i: 1}`},
	{"os.Setenv", "environment", `environment: added $RESIDUE_SCENARIO_VAR="1"`},
	{"os.Chdir", "working directory", `working directory: `},
	{"os.Args", "os.Args", `os.Args: added [`},
	{"user package map", "main.userMap", `main.userMap: added "b": 2`},
	{"user package slice", "main.userSlice", `main.userSlice: added [1]: "y"`},
	{"user package struct field", "main.userSettings", `main.userSettings.Timeout: 5s → 10s`},
	{"user package pointer", "main.userPointer", `main.userPointer.retries: 1 → 2`},
	{"user package map beside the crypto caches", "main.userMap", `main.userMap: added "b": 2`},
}

// A block that fills the standard library's crypto caches (the clean
// scenarios above) and changes a variable of its own is reported for that
// change alone.
func TestACryptoCacheBesideARealChangeReportsTheChangeAlone(t *testing.T) {
	res := runFresh(t, "-w=0", "user package map beside the crypto caches")
	if len(res.changes) != 1 || len(res.changes["main.userMap"]) != 1 {
		t.Errorf("want the one change to main.userMap, got:\n%s", res.report)
	}
}

func TestRecallInFreshProcesses(t *testing.T) {
	for _, r := range recallScenarios {
		t.Run(r.scenario, func(t *testing.T) {
			t.Parallel()
			res := runFresh(t, "-w=0", r.scenario)
			lines := res.changes[r.variable]
			if len(lines) == 0 {
				t.Fatalf("no change reported for %s:\n%s", r.variable, res.report)
			}
			if !strings.Contains(strings.Join(lines, "\n"), r.line) {
				t.Errorf("the report on %s does not say %q:\n%s", r.variable, r.line, res.report)
			}
		})
	}
}

func TestWithoutDebugInfoTheErrorSaysWhatToRun(t *testing.T) {
	res := runFresh(t, "-s -w", "fmt")
	for _, want := range []string{
		"ERROR: cannot list package-level variables",
		"has no DWARF debug info",
		"go test -ldflags=-w=0 ./...",
		"ginkgo --ldflags=-w=0",
		"globals.Watching(",
	} {
		if !strings.Contains(res.report, want) {
			t.Errorf("the no-DWARF output lacks %q:\n%s", want, res.report)
		}
	}
	if strings.Contains(res.report, "REPORT") || strings.Contains(res.report, "changed no") {
		t.Errorf("a binary without debug info produced a report instead of an error:\n%s", res.report)
	}
}

func TestWatchingWorksWithoutDebugInfo(t *testing.T) {
	res := runFresh(t, "-s -w", "watching without debug info")
	if !strings.Contains(strings.Join(res.changes["main.userMap"], "\n"), `main.userMap: added "b": 2`) &&
		!strings.Contains(res.report, `added "b": 2`) {
		t.Errorf("Watching did not report the change without debug info:\n%s", res.report)
	}
}

func TestPositionIndependentExecutable(t *testing.T) {
	if testing.Short() {
		t.Skip("building a position-independent executable compiles the standard library again")
	}
	exe := filepath.Join(t.TempDir(), "scenarios-pie")
	out, err := exec.Command("go", "build", "-buildmode=pie", "-ldflags=-w=0", "-o", exe, "./testdata/scenarios").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -buildmode=pie: %v\n%s", err, out)
	}
	out, err = exec.Command(exe, "user package struct field").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "main.userSettings.Timeout: 5s → 10s") {
		t.Errorf("a position-independent executable was not read right (%v):\n%s", err, out)
	}
	// mime's table is filled before the first snapshot by a call to its
	// own function, found at its address moved by the load slide.
	out, err = exec.Command(exe, "mime.AddExtensionType").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `mime.mimeTypes: added ".residue"`) {
		t.Errorf("mime's table was not filled first in a position-independent executable (%v):\n%s", err, out)
	}
}

// A TestMain that checks m.Run: the testing package parsing the command
// line into flag.CommandLine (its test.* flags, and a flag of the package
// under test) is not reported.
func TestTestingSetUpIsNotReported(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs another test binary")
	}
	out := filepath.Join(t.TempDir(), "report")
	cmd := exec.Command("go", "test", "-count=1", "-ldflags=-w=0", "./testdata/testmain", "-args", "-test.v", "-testmain.verbose")
	cmd.Env = append(os.Environ(), "RESIDUE_TESTMAIN_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test ./testdata/testmain: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	if !strings.HasPrefix(report, "The block changed no package-level variable") {
		t.Errorf("the set-up of testing was reported:\n%s", report)
	}
}

// A program too small for the linker to keep a run-time type of
// http.ServeMux reads the mux through the layout DWARF gives: its rule
// still applies, by the name DWARF gives the layout, and the route is
// reported by its pattern, not by the routing tree's nodes.
func TestServeMuxWithoutRunTimeType(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "smallmux")
	if out, err := exec.Command("go", "build", "-ldflags=-w=0", "-o", exe, "./testdata/smallmux").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `net/http.DefaultServeMux.patterns: added "/small": main.hello`
	if !strings.Contains(string(out), want) || strings.Contains(string(out), "tree") {
		t.Errorf("report:\n%s\nwant a line %q and no routing tree", out, want)
	}
}
