package residue_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/alloc"
	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/files"
	"github.com/residue-go/residue/globals"
	"github.com/residue-go/residue/internal/env"
	"github.com/residue-go/residue/internal/golden"
	"github.com/residue-go/residue/leak"
	"github.com/residue-go/residue/procs"
)

// Registry is a package-level variable the tests change.
var Registry = map[string]int{"a": 1}

var quick = residue.Within(50 * time.Millisecond)

// only keeps the globals probe to this package, so that the tests do not
// depend on what the rest of the process does meanwhile.
var only = globals.InPackages("github.com/residue-go/residue_test")

func TestFindReportsEveryKindOfResidue(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	var ln net.Listener
	defer func() { ln.Close() }()
	report, err := residue.Find(func() {
		go func() { <-stop }()
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		Registry["b"] = 2
	}, quick, only)
	defer delete(Registry, "b")
	if err != nil {
		t.Fatal(err)
	}
	if !report.Found() || len(residue.Of[*leak.Report](report).Goroutines) == 0 || len(residue.Of[*fds.Report](report).FDs) == 0 ||
		len(residue.Of[*globals.Report](report).Changes) == 0 || residue.Of[*alloc.Measurement](report) != nil {
		t.Fatalf("report:\n%s", report)
	}
	msg := report.String()
	golden.Check(t, "find-every-kind", msg)
	for _, want := range []string{
		"The block left side effects (goroutines, file descriptors, global state):",
		"Goroutines\n  The block left 1 goroutine running",
		"File descriptors\n",
		"127.0.0.1:",
		"Global state\n",
		`residue_test.Registry: added "b": 2`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestFindCleanBlock(t *testing.T) {
	report, err := residue.Find(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); c, _ := net.Dial("tcp", ln.Addr().String()); c.Close() }()
		<-done
		ln.Close()
	}, only)
	if err != nil || report.Found() {
		t.Fatalf("%v\n%s", err, report)
	}
	if report.String() != "The block left nothing behind." {
		t.Errorf("clean text: %s", report)
	}
}

// stopsOfTheWorld counts the process's stop-the-world pauses other than
// a GC's: a dump of every goroutine's stack is one.
func stopsOfTheWorld() uint64 {
	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}
	metrics.Read(s)
	var n uint64
	for _, c := range s[0].Value.Float64Histogram().Counts {
		n += c
	}
	return n
}

// A clean check stops the world three times: to let the scheduler poll the
// network before it looks, and for one look at every goroutine on each side
// of the block, which the goroutine and globals probes share.
func TestACleanCheckLooksAtEveryGoroutineOnceEachSide(t *testing.T) {
	clean := func() { _ = make([]byte, 10) }
	least := uint64(1 << 62)
	for range 5 {
		before := stopsOfTheWorld()
		r, err := residue.Find(clean)
		if err != nil || r.Found() {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
		least = min(least, stopsOfTheWorld()-before)
	}
	if least > 3 {
		t.Errorf("a clean check stopped the world %d times, want 3", least)
	}
}

func TestAllocationBudget(t *testing.T) {
	alloc.SkipUnderRace(t)
	var sink []byte
	report, err := residue.Find(func() { sink = make([]byte, 1<<10) }, alloc.AtMost(0), only)
	if err != nil {
		t.Fatal(err)
	}
	if m := residue.Of[*alloc.Measurement](report); !report.Found() || m.Objects != 1 {
		t.Fatalf("report:\n%s", report)
	}
	if msg := report.String(); !strings.Contains(msg, "Allocations\n  The block allocated 1 object, 1 KiB; the budget is at most 0 objects.") {
		t.Errorf("message:\n%s", msg)
	}
	_ = sink
	report, err = residue.Find(func() { sink = make([]byte, 1<<10) }, alloc.AtMost(1), only)
	if err != nil || report.Found() {
		t.Fatalf("within budget: %v\n%s", err, report)
	}
}

func TestFindErrors(t *testing.T) {
	_, err := residue.Find(func() { panic("boom") }, only)
	if err == nil || !strings.Contains(err.Error(), "the block panicked: boom") {
		t.Fatalf("err = %v", err)
	}
}

// fakeT records what Check reports; the probes behind it are real.
type fakeT struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (f *fakeT) Helper()           {}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) { f.Errorf(format, args...); panic("fatal") }
func (f *fakeT) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestCheckFailsATestThatLeaves(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	ft := &fakeT{}
	func() {
		residue.Check(ft, quick, only)
		go func() { <-stop }() // started by the test body itself
	}()
	ft.end()
	if len(ft.errors) != 1 || !strings.Contains(ft.errors[0], "residue.Check: The test left side effects (goroutines)") {
		t.Fatalf("errors: %q", ft.errors)
	}
	golden.Check(t, "check-goroutine", ft.errors[0])

	ft = &fakeT{}
	func() {
		residue.Check(ft, quick, only)
		done := make(chan struct{})
		go func() { close(done) }()
		<-done
	}()
	ft.end()
	if len(ft.errors) != 0 {
		t.Fatalf("clean test failed: %q", ft.errors)
	}
}

// TestVerifyTestMain runs this test binary again with VerifyTestMain in
// charge (see TestMain) and one leaking test.
func TestVerifyTestMain(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		test string
		code int
		want string
	}{
		{"TestLeakyForVerifyTestMain", 1, "residue.VerifyTestMain: The tests left side effects (goroutines)"},
		{"TestCleanForVerifyTestMain", 0, "PASS"},
	} {
		cmd := exec.Command(exe, "-test.run=^"+c.test+"$")
		cmd.Env = append(os.Environ(), "RESIDUE_VERIFY_TEST_MAIN=1")
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: exit %d, output:\n%s", c.test, cmd.ProcessState.ExitCode(), out)
		}
	}
}

func TestLeakyForVerifyTestMain(t *testing.T) {
	if os.Getenv("RESIDUE_VERIFY_TEST_MAIN") == "" {
		t.Skip("run by TestVerifyTestMain")
	}
	go func() { select {} }()
}

func TestCleanForVerifyTestMain(t *testing.T) {
	if os.Getenv("RESIDUE_VERIFY_TEST_MAIN") == "" {
		t.Skip("run by TestVerifyTestMain")
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("RESIDUE_VERIFY_TEST_MAIN") != "" {
		os.Exit(residue.VerifyTestMain(m, quick, only))
	}
	os.Exit(m.Run())
}

// A combined check in a binary without debug info runs every other probe
// and says, once per binary and in each report, that globals were not
// checked; RESIDUE_REQUIRE_GLOBALS=1 makes that an error.
func TestCombinedCheckWithoutDebugInfo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	exe := filepath.Join(t.TempDir(), "nodebug")
	build := exec.Command("go", "build", "-ldflags=-w", "-o", exe, "./testdata/nodebug")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var stdout, stderr strings.Builder
	run := exec.Command(exe)
	run.Env = append(os.Environ(), env.RequireGlobals+"=")
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if n := strings.Count(out, "The block left side effects (goroutines)"); n != 2 {
		t.Errorf("want the goroutine reported twice, got %d:\n%s", n, out)
	}
	if n := strings.Count(out, "(global state was not checked: this test binary has no debug info"); n != 2 {
		t.Errorf("want the note in both reports, got %d:\n%s", n, out)
	}
	if n := strings.Count(stderr.String(), "residue: global state was not checked"); n != 1 {
		t.Errorf("want the note once on stderr, got %d:\n%s", n, stderr.String())
	}

	strict := exec.Command(exe)
	strict.Env = append(os.Environ(), env.RequireGlobals+"=1")
	out2, err := strict.CombinedOutput()
	if err == nil || !strings.Contains(string(out2), "error: cannot list package-level variables") || !strings.Contains(string(out2), "-ldflags=-w=0") {
		t.Errorf("with %s=1: err %v, output:\n%s", env.RequireGlobals, err, out2)
	}
}

// A parallel test's change to a global cannot be told from another
// parallel test's: Check logs it and does not fail the test.
func TestCheckLogsGlobalChangesOfParallelTests(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestParallelChangeForCheck$", "-test.v")
	cmd.Env = append(os.Environ(), "RESIDUE_PARALLEL_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "not judged, as the test ran in parallel") ||
		!strings.Contains(string(out), `residue_test.Registry: added "parallel"`) {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
}

func TestParallelChangeForCheck(t *testing.T) {
	if os.Getenv("RESIDUE_PARALLEL_CHILD") == "" {
		t.Skip("run by TestCheckLogsGlobalChangesOfParallelTests")
	}
	t.Parallel()
	residue.Check(t, quick, only)
	Registry["parallel"] = 1
}

// residue.Within reaches every probe that settles, without turning on
// the on-demand ones.
func TestWithinReachesEverySettlingProbe(t *testing.T) {
	report, err := residue.Find(func() {
		cmd := exec.Command("sleep", "5")
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}, residue.Within(10*time.Millisecond), only)
	if err != nil {
		t.Fatal(err)
	}
	p := residue.Of[*procs.Report](report)
	if len(p.Processes) == 0 || p.Within != 10*time.Millisecond {
		t.Errorf("the process probe missed the child or kept its own window:\n%s", report)
	}
	if g, f := residue.Of[*leak.Report](report), residue.Of[*fds.Report](report); g.Within != 10*time.Millisecond || f.Within != 10*time.Millisecond {
		t.Errorf("settle windows: goroutines %v, descriptors %v", g.Within, f.Within)
	}
	if f := residue.Of[*files.Report](report); f != nil {
		t.Errorf("residue.Within turned the on-demand files probe on")
	}
}

// One option allows an idle keep-alive connection in a combined check: its
// descriptor and its reader and writer goroutines.
// TestAllowingIdleHTTPConns allows idle keep-alive connections in a
// combined check with the goroutine and descriptor probes' options.
func TestAllowingIdleHTTPConns(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func() {
		resp, err := client.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	report, err := residue.Find(get, residue.Within(50*time.Millisecond), only)
	if err != nil {
		t.Fatal(err)
	}
	if len(residue.Of[*leak.Report](report).Goroutines) == 0 || len(residue.Of[*fds.Report](report).FDs) == 0 {
		t.Fatalf("without the option, want the idle connection's goroutines and socket:\n%s", report)
	}
	client.CloseIdleConnections()
	report, err = residue.Find(get, residue.Within(5*time.Second),
		leak.IgnoringIdleHTTPConns(), fds.IgnoringIdleHTTPConns(), only)
	if err != nil || report.Found() {
		t.Fatalf("with the option: %v\n%s", err, report)
	}
	if w := residue.Of[*leak.Report](report).Waited + residue.Of[*fds.Report](report).Waited; w > 2*time.Second {
		t.Errorf("the allowed connection held the verdict back %v", w)
	}
}

// TestSettleWindowsOverlap checks that a block leaving both a goroutine and
// a socket waits one settle window, not one per probe: each probe's window
// starts when the check starts looking.
func TestSettleWindowsOverlap(t *testing.T) {
	const window = time.Second
	stop := make(chan struct{})
	var ln net.Listener
	start := time.Now()
	rep, err := residue.Find(func() {
		go func() { <-stop }()
		ln, _ = net.Listen("tcp", "127.0.0.1:0")
	}, residue.WithoutGlobals(), residue.Within(window))
	took := time.Since(start)
	close(stop)
	if ln != nil {
		ln.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if msg := rep.String(); !strings.Contains(msg, "1 goroutine") || !strings.Contains(msg, "listener on") {
		t.Fatalf("want the goroutine and the listener reported:\n%s", msg)
	}
	if took >= window*9/5 {
		t.Errorf("the check took %v: two %v windows one after the other, not one", took, window)
	}
}
