//go:build linux

package fds_test

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/residue-go/residue"
)

// recordingT is a testing.TB whose cleanups and failures are kept, so that
// a test can run residue.Check's verdict itself and look at it.
type recordingT struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	errors   []string
}

func (r *recordingT) Helper() {}
func (r *recordingT) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}
func (r *recordingT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recordingT) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

// verdict runs the cleanups, last first, and returns the failures.
func (r *recordingT) verdict() string {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return strings.Join(r.errors, "\n")
}

func TestCheckReportsWhatTheTestLeftOpen(t *testing.T) {
	rt := &recordingT{TB: t}
	residue.Check(rt, residue.Within(0))
	fileLine := nextLine()
	f, _ := os.Open(os.DevNull)
	defer f.Close()
	var g *os.File
	var subLine int
	t.Run("sub", func(t *testing.T) {
		subLine = nextLine()
		g, _ = os.Open(os.DevNull)
	})
	defer g.Close()
	lnLine := nextLine()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	msg := rt.verdict()
	for _, want := range []string{
		fmt.Sprintf("fd %d: device /dev/null", f.Fd()),
		fmt.Sprintf("fd %d: device /dev/null", g.Fd()),
		"listener on " + ln.Addr().String(),
		fmt.Sprintf("opened by the test at %s:%d", thisFile(), fileLine),
		fmt.Sprintf("opened by the test at %s:%d", thisFile(), subLine),
		fmt.Sprintf("opened by the test at %s:%d", thisFile(), lnLine),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the verdict lacks %q:\n%s", want, msg)
		}
	}
	for _, not := range []string{"residue/testing.go", "testing/testing.go"} {
		if strings.Contains(msg, not) {
			t.Errorf("the verdict names %s:\n%s", not, msg)
		}
	}
}

func thisFile() string {
	wd, _ := os.Getwd()
	return wd + "/adopt_test.go"
}

// TestParallelSubtestsOfOneClosureAreNotBlamedForEachOther runs subtests
// made from one closure in parallel, each checked: the function that adopted
// their runs is the same, so the clean one must pass or say it cannot tell.
func TestParallelSubtestsOfOneClosureAreNotBlamedForEachOther(t *testing.T) {
	var opened, checked sync.WaitGroup
	opened.Add(2)
	checked.Add(2)
	verdicts := make([]string, 2)
	var leaked *os.File
	t.Run("group", func(t *testing.T) {
		for i := range 2 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				rt := &recordingT{TB: t}
				residue.Check(rt, residue.Within(0))
				checked.Done()
				checked.Wait() // both runs are under way
				f, _ := os.Open(os.DevNull)
				opened.Done()
				opened.Wait()
				if i == 0 {
					leaked = f
				} else {
					f.Close()
				}
				verdicts[i] = rt.verdict()
			})
		}
	})
	defer leaked.Close()
	if v := verdicts[1]; strings.Contains(v, "/dev/null") && !strings.Contains(v, "cannot be told") {
		t.Errorf("the clean subtest was blamed:\n%s", v)
	}
	if v := verdicts[0]; !strings.Contains(v, "/dev/null") && !strings.Contains(v, "cannot be told") {
		t.Errorf("the leaking subtest passed:\n%s", v)
	}
}
