//go:build linux

package matchers_test

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/residue-go/residue"
	. "github.com/residue-go/residue/matchers"
	"github.com/residue-go/residue/procs"
)

func TestNotToLeakProcessesPassesWhenEveryChildIsWaited(t *testing.T) {
	g := NewWithT(t)
	g.Expect(func() {
		if err := exec.Command("true").Run(); err != nil {
			panic(err)
		}
	}).NotTo(LeakProcesses())
}

func TestLeakProcessesNamesTheCommandAndTheLineThatStartedIt(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	var cmd *exec.Cmd
	var line int
	m := LeakProcesses(procs.Within(0))
	ok, err := m.Match(func() {
		cmd = exec.Command("sleep", "30")
		line = lineAfter()
		_ = cmd.Start()
	})
	defer func() {
		if cmd != nil && cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	if err != nil || !ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	msg := m.NegatedFailureMessage(nil)
	for _, want := range []string{
		"Expected the block not to leak child processes.\nThe block left 1 child process behind:\n\n",
		fmt.Sprintf("pid %d: sleep 30 (", cmd.Process.Pid),
		fmt.Sprintf("started by the block at %s:%d", file, line),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestLeakProcessesRejectsABadOption(t *testing.T) {
	_, err := LeakProcesses(procs.IgnoringCommand("[")).Match(func() {})
	if err == nil || !strings.HasPrefix(err.Error(), `LeakProcesses: procs.IgnoringCommand("["):`) {
		t.Errorf("err = %v", err)
	}
}

// The process probe is one of the combined checks: a clean child is no side
// effect, a child left running is.
func TestHaveSideEffectsSeesChildProcesses(t *testing.T) {
	g := NewWithT(t)
	g.Expect(func() {
		if err := exec.Command("true").Run(); err != nil {
			panic(err)
		}
	}).NotTo(HaveSideEffects(residue.WithoutGlobals()))

	var cmd *exec.Cmd
	m := HaveSideEffects(residue.WithoutGlobals(), procs.Within(0))
	ok, err := m.Match(func() {
		cmd = exec.Command("sleep", "30")
		_ = cmd.Start()
	})
	defer func() {
		if cmd != nil && cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	if err != nil || !ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	msg := m.NegatedFailureMessage(nil)
	if !strings.Contains(msg, "Child processes\n  The block left 1 child process behind:") || !strings.Contains(msg, ": sleep 30 (") {
		t.Errorf("message:\n%s", msg)
	}
}
