package residue_test

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue"
)

// TestCheckNestedInVerifyTestMain runs this test binary again with
// VerifyTestMain in charge (see TestMain) and one test that calls Check and
// leaves something behind. The nested Check reports it at the test's line,
// and so does VerifyTestMain: the test's run adds to the binary's instead of
// hiding what it left from it.
func TestCheckNestedInVerifyTestMain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("nested_test.go")
	if err != nil {
		t.Fatal(err)
	}
	// lineOf is the line of this file that carries the comment "// " + tag.
	lineOf := func(tag string) string {
		for i, l := range strings.Split(string(src), "\n") {
			if strings.HasSuffix(l, "// "+tag) {
				return "/nested_test.go:" + strconv.Itoa(i+1)
			}
		}
		t.Fatalf("no line tagged %q", tag)
		return ""
	}
	for _, c := range []struct {
		test, kind, check, main string
		with                    string // another test run with it
	}{
		{"TestFileLeftForNestedCheck", "file descriptors", "opened by the test at *" + lineOf("file opened"), "fd ", ""},
		{"TestSocketDroppedForNestedCheck", "file descriptors", "opened by the test at *" + lineOf("socket dialed"), "tcp4 127.0.0.1:", ""},
		{"TestGoroutineLeftForNestedCheck", "goroutines", lineOf("goroutine started"), lineOf("goroutine started"), ""},
		// A test paused by t.Parallel, its Check under way, waits for its
		// turn and not for a finalizer: it does not make the hold let go.
		{"TestFileLeftForNestedCheck", "file descriptors", "opened by the test at *" + lineOf("file opened"), "fd ", "TestPausedBesideNestedCheck"},
	} {
		run := "^" + c.test + "$"
		if c.with != "" {
			run = "^(" + c.test + "|" + c.with + ")$"
		}
		t.Run(run, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run="+run, "-test.v")
			cmd.Env = append(os.Environ(), "RESIDUE_VERIFY_TEST_MAIN=1")
			out, _ := cmd.CombinedOutput()
			check, main, _ := strings.Cut(string(out), "residue.VerifyTestMain:")
			if cmd.ProcessState.ExitCode() != 1 ||
				!strings.Contains(check, "--- FAIL: "+c.test) ||
				!strings.Contains(check, "residue.Check: The test left side effects ("+c.kind+")") ||
				!regexp.MustCompile(strings.ReplaceAll(regexp.QuoteMeta(c.check), `\*`, `\S*`)).MatchString(check) {
				t.Fatalf("want the test failed by its Check, with %q; exit %d, output:\n%s", c.check, cmd.ProcessState.ExitCode(), out)
			}
			if !strings.Contains(main, "The tests left side effects") || !strings.Contains(main, c.main) {
				t.Fatalf("want VerifyTestMain to report it too, with %q; output:\n%s", c.main, out)
			}
		})
	}
}

// The tests below run only under TestCheckNestedInVerifyTestMain. Each
// drops what it leaves: only the finalizer queue, held while runs are under
// way, keeps it open until it is judged.

func TestPausedBesideNestedCheck(t *testing.T) {
	if os.Getenv("RESIDUE_VERIFY_TEST_MAIN") == "" {
		t.Skip("run by TestCheckNestedInVerifyTestMain")
	}
	residue.Check(t, quick, only)
	t.Parallel()
}

func TestFileLeftForNestedCheck(t *testing.T) {
	if os.Getenv("RESIDUE_VERIFY_TEST_MAIN") == "" {
		t.Skip("run by TestCheckNestedInVerifyTestMain")
	}
	residue.Check(t, quick, only)
	f, err := os.CreateTemp(t.TempDir(), "left") // file opened
	if err != nil {
		t.Fatal(err)
	}
	_ = f
	t.Run("sub", func(t *testing.T) { runtime.GC() })
}

func TestSocketDroppedForNestedCheck(t *testing.T) {
	if os.Getenv("RESIDUE_VERIFY_TEST_MAIN") == "" {
		t.Skip("run by TestCheckNestedInVerifyTestMain")
	}
	residue.Check(t, quick, only)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String()) // socket dialed
	if err != nil {
		t.Fatal(err)
	}
	_ = c
	runtime.GC()
}

func TestGoroutineLeftForNestedCheck(t *testing.T) {
	if os.Getenv("RESIDUE_VERIFY_TEST_MAIN") == "" {
		t.Skip("run by TestCheckNestedInVerifyTestMain")
	}
	residue.Check(t, quick, only)
	never := make(chan struct{})
	go func() { <-never }() // goroutine started
}

// A test that waits for a finalizer of its own is not held up by the
// finalizer queue VerifyTestMain and its Check hold: the hold lets go once
// the test's goroutines are all blocked, even though VerifyTestMain's own
// goroutine is blocked in m.Run the whole time.
func TestFinalizerWaitUnderVerifyTestMain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(exe, "-test.run=^TestWaitsForItsFinalizer$", "-test.v")
	cmd.Env = append(os.Environ(), "RESIDUE_VERIFY_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestWaitsForItsFinalizer/check") ||
		!strings.Contains(string(out), "--- PASS: TestWaitsForItsFinalizer/plain") {
		t.Fatalf("err %v after %v, output:\n%s", err, time.Since(start), out)
	}
}

func TestWaitsForItsFinalizer(t *testing.T) {
	if os.Getenv("RESIDUE_VERIFY_TEST_MAIN") == "" {
		t.Skip("run by TestFinalizerWaitUnderVerifyTestMain")
	}
	wait := func(t *testing.T) {
		done := make(chan struct{})
		obj := &struct{ p *int }{}
		runtime.SetFinalizer(obj, func(*struct{ p *int }) { close(done) })
		obj = nil
		runtime.GC()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the finalizer did not run within 5s")
		}
	}
	t.Run("plain", wait)
	t.Run("check", func(t *testing.T) {
		residue.Check(t, quick, only)
		wait(t)
	})
}
