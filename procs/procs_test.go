//go:build linux

package procs_test

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/procs"
)

func lineAfter() int {
	_, _, line, _ := runtime.Caller(1)
	return line + 1
}

func thisFile() string {
	_, file, _, _ := runtime.Caller(0)
	return file
}

// stop kills and reaps the processes a test left on purpose.
func stop(cmds ...*exec.Cmd) {
	for _, c := range cmds {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
}

func TestARunningChildIsReportedWithItsCommandAndLine(t *testing.T) {
	var cmd *exec.Cmd
	var line int
	rep, err := procs.Find(func() {
		cmd = exec.Command("sleep", "30")
		line = lineAfter()
		if err := cmd.Start(); err != nil {
			panic(err)
		}
	}, procs.Within(0))
	defer stop(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Processes) != 1 {
		t.Fatalf("want 1 process, got %+v", rep)
	}
	p := rep.Processes[0]
	if p.PID != cmd.Process.Pid || strings.Join(p.Args, " ") != "sleep 30" || p.Zombie || p.By != "block" {
		t.Errorf("process = %+v, want pid %d running sleep 30 started by the block", p, cmd.Process.Pid)
	}
	msg := rep.String()
	for _, want := range []string{
		"The block left 1 child process behind:\n\npid ",
		": sleep 30 (",
		")\n    still running: stop it",
		fmt.Sprintf("started by the block at %s:%d", thisFile(), line),
		"os/exec.(*Cmd).Start",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	f := procs.FindingsOf(rep)
	if len(f) != 1 || f[0].Key != "process sleep started by github.com/residue-go/residue/procs_test.TestARunningChildIsReportedWithItsCommandAndLine.func1" {
		t.Errorf("findings = %+v", f)
	}
	t.Log("\n" + msg)
}

func TestAZombieIsReported(t *testing.T) {
	var cmd *exec.Cmd
	rep, err := procs.Find(func() {
		cmd = exec.Command("true")
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		waitUntilExited(cmd.Process.Pid)
	}, procs.Within(0))
	defer stop(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Processes) != 1 || !rep.Processes[0].Zombie || rep.Processes[0].State != "zombie" {
		t.Fatalf("want one zombie, got %+v", rep.Processes)
	}
	if msg := rep.String(); !strings.Contains(msg, ": true (zombie)\n    exited, but never waited for: call cmd.Wait") {
		t.Errorf("message:\n%s", msg)
	}
}

// waitUntilExited waits, up to 5s, for the kernel to show pid as a zombie.
func waitUntilExited(pid int) {
	for range 500 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i:]), ") Z") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAWaitedChildIsNotReported(t *testing.T) {
	rep, err := procs.Find(func() {
		if err := exec.Command("true").Run(); err != nil {
			panic(err)
		}
		out, _ := exec.Command("echo", "hi").Output()
		_ = out
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Processes) > 0 || len(rep.Others) > 0 {
		t.Fatalf("a waited child was reported:\n%s", rep)
	}
}

// A child waited for by a goroutine within the settle window is fine; the
// same child is reported when the window is shorter than its life.
func TestSettleWindow(t *testing.T) {
	start := func() {
		cmd := exec.Command("sleep", "0.3")
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		go cmd.Wait()
	}
	rep, err := procs.Find(start, procs.Within(3*time.Second))
	if err != nil || len(rep.Processes) > 0 {
		t.Fatalf("reported within the window: %v\n%s", err, rep)
	}
	if rep.Waited < 200*time.Millisecond {
		t.Errorf("waited only %v for a child living 300ms", rep.Waited)
	}
	rep, err = procs.Find(start, procs.Within(0))
	if err != nil || len(rep.Processes) != 1 {
		t.Fatalf("without a window: %v\n%s", err, rep)
	}
	time.Sleep(500 * time.Millisecond) // its goroutine reaps it
}

func TestChildrenFromBeforeTheBlockAreNotReported(t *testing.T) {
	before := exec.Command("sleep", "30")
	if err := before.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop(before)
	rep, err := procs.Find(func() {}, procs.Within(0))
	if err != nil || len(rep.Processes) > 0 || len(rep.Others) > 0 {
		t.Fatalf("%v\n%s", err, rep)
	}
}

func TestAChildStartedByAGoroutineOfTheBlock(t *testing.T) {
	var mu sync.Mutex
	var cmd *exec.Cmd
	done := make(chan struct{})
	rep, err := procs.Find(func() {
		go func() {
			defer close(done)
			c := exec.Command("sleep", "30")
			_ = c.Start()
			mu.Lock()
			cmd = c
			mu.Unlock()
		}()
		<-done
	}, procs.Within(0))
	mu.Lock()
	defer stop(cmd)
	mu.Unlock()
	if err != nil || len(rep.Processes) != 1 || rep.Processes[0].By != "goroutine" {
		t.Fatalf("%v\n%+v", err, rep)
	}
	if !strings.Contains(rep.String(), "started by a goroutine the block started, running github.com/residue-go/residue/procs_test.TestAChildStartedByAGoroutineOfTheBlock.func1.1") {
		t.Errorf("message:\n%s", rep)
	}
}

// Two blocks running at once, each leaving one child: each report has
// exactly its own, by PID.
func TestConcurrentBlocksAreNotBlamedForEachOther(t *testing.T) {
	var wg sync.WaitGroup
	var reps [2]*procs.Report
	var cmds [2]*exec.Cmd
	var errs [2]error
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = procs.Find(func() {
				// Both runs have looked at the process table before
				// either starts a child.
				entered.Done()
				entered.Wait()
				cmds[i] = exec.Command("sleep", fmt.Sprint(30+i))
				_ = cmds[i].Start()
				started <- struct{}{}
				<-release
			}, procs.Within(0))
		}()
	}
	<-started
	<-started
	close(release)
	wg.Wait()
	defer stop(cmds[:]...)
	for i := range 2 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		// Both children are new to each run; the stacks give each run
		// one process, and the other to the other run.
		if len(reps[i].Processes) != 1 || len(reps[i].Others) != 1 {
			t.Fatalf("run %d: %+v", i, reps[i])
		}
		p := reps[i].Processes[0]
		if len(p.OneOf) != 2 || !strings.HasPrefix(strings.Join(p.Args, " "), "sleep 3") {
			t.Errorf("run %d: %+v", i, p)
		}
	}
}

func TestOptions(t *testing.T) {
	if _, err := procs.Find(func() {}, procs.Within(-time.Second)); err == nil || !strings.Contains(err.Error(), "procs.Within(-1s): the settle window must not be negative") {
		t.Errorf("err = %v", err)
	}
	if _, err := procs.Find(func() {}, procs.IgnoringCommand("[")); err == nil || !strings.HasPrefix(err.Error(), `procs.IgnoringCommand("["):`) {
		t.Errorf("err = %v", err)
	}
	var cmd *exec.Cmd
	rep, err := procs.Find(func() {
		cmd = exec.Command("sleep", "30")
		_ = cmd.Start()
	}, procs.Within(0), procs.IgnoringCommand("sl*"))
	defer stop(cmd)
	if err != nil || len(rep.Processes) > 0 {
		t.Fatalf("ignored command reported: %v\n%s", err, rep)
	}
}

// A child started after the block's first memprof.StackBudget allocations
// has no stack: it is still the block's, and the report says why it has
// no line.
func TestAChildStartedPastTheStackBudget(t *testing.T) {
	defer func(old uint64) { memprof.StackBudget.Store(old) }(memprof.StackBudget.Load())
	memprof.StackBudget.Store(20000)
	var cmd *exec.Cmd
	rep, err := procs.Find(func() {
		memprof.Churn(200_000)
		cmd = exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			panic(err)
		}
	}, procs.Within(0))
	defer stop(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Processes) != 1 || rep.Processes[0].By != "alone" {
		t.Fatalf("want 1 process with no stack, got %+v", rep)
	}
	if msg := rep.String(); !strings.Contains(msg, "started while the block ran, no stack: over 20000 heap allocations were made while the block ran (by it or by goroutines left running before it), and their stacks are recorded for that many only") {
		t.Errorf("the message does not say why there is no stack:\n%s", msg)
	}
}
