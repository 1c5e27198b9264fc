package globals_test

import (
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/residue-go/residue/globals"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

var sharedCounter int

// A test running in parallel while the block runs may be the one that
// changed what is reported: the report names it.
func TestParallelTestsAreNamedInTheReport(t *testing.T) {
	defer func() { sharedCounter = 0 }()
	blockRunning, written, checked := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var report *globals.Report
	t.Run("group", func(t *testing.T) {
		t.Run("checked", func(t *testing.T) {
			t.Parallel()
			report = find(t, func() {
				close(blockRunning)
				<-written
			})
			close(checked)
		})
		t.Run("writer", func(t *testing.T) {
			t.Parallel()
			<-blockRunning
			sharedCounter++
			close(written)
			<-checked // still running when the block ends
		})
	})
	s := report.String()
	if !strings.Contains(s, thisPackage+".sharedCounter: 0 → 1") ||
		!strings.Contains(s, "Other checks ran at the same time: a change may be theirs.") ||
		!strings.Contains(s, "1 test running in parallel: "+thisPackage+".TestParallelTestsAreNamedInTheReport.func") {
		t.Errorf("the report does not say a parallel test ran:\n%s", s)
	}
	if strings.Contains(s, "other check") {
		t.Errorf("the test's own check or its parent tests were counted:\n%s", s)
	}
}

// Another check under way while the block runs is named too; a check
// alone, or one nested in the block, is not.
func TestOtherChecksAreNamedInTheReport(t *testing.T) {
	defer func() { sharedCounter = 0 }()
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_, _ = globals.Find(func() {
			close(started)
			<-release
		}, globals.InPackages(thisPackage))
	}()
	<-started
	r := find(t, func() { sharedCounter++ })
	close(release)
	<-done
	if len(r.Concurrent) != 1 || !strings.HasPrefix(r.Concurrent[0], "1 other check (runs ") {
		t.Errorf("the other check is not named: %q\n%s", r.Concurrent, r)
	}
	r = find(t, func() {
		sharedCounter++
		_, _ = globals.Find(func() {}, globals.InPackages(thisPackage))
	})
	if len(r.Concurrent) != 0 || strings.Contains(r.String(), "at the same time") {
		t.Errorf("a check alone or nested was said to have company: %q", r.Concurrent)
	}
}

// A test whose check has started but which is paused in t.Parallel (as
// every test is under the audit command, whose check comes first) runs no
// code while the block does: it is not company.
func TestChecksPausedInParallelAreNotCompany(t *testing.T) {
	defer func() { sharedCounter = 0 }()
	var report *globals.Report
	t.Run("group", func(t *testing.T) {
		t.Run("paused", func(t *testing.T) {
			run, err := probes.Start()
			if err != nil {
				t.Fatal(err)
			}
			restore := run.Adopt()
			t.Parallel() // waits until the group's function returns
			restore()
			_ = run.Finish()
		})
		report = find(t, func() { sharedCounter++ })
	})
	if len(report.Concurrent) != 0 {
		t.Errorf("a check paused in t.Parallel was counted: %q\n%s", report.Concurrent, report)
	}
}

// A goroutine that is no test's and no check's, ready to run when a check
// starts (as a Ginkgo suite's signal goroutine is once RunSpecs has
// returned), runs before the first snapshot: its change is not taken for
// the block's. With one P, it would otherwise run as soon as the check
// waits for its block, between the snapshots.
func TestAStragglerRunsBeforeTheFirstSnapshot(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var state int
	for i := range 20 {
		ready, done := make(chan struct{}), make(chan struct{})
		go func() {
			<-ready
			state++
			close(done)
		}()
		time.Sleep(time.Millisecond) // it waits on ready
		close(ready)                 // now it is runnable, and this goroutine runs on
		r, err := globals.Find(func() {}, globals.Watching(&state))
		<-done
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Changes) > 0 {
			t.Fatalf("run %d: the straggler's change was taken for the block's:\n%s", i, r)
		}
	}
}

// A goroutine that keeps running through a whole straggler wait (a busy
// loop an earlier test left) is not waited for by the checks that follow:
// gin's suite, with two such loops left, waited 50 ms in every check.
func TestABusyGoroutineIsWaitedForOnce(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	stop := make(chan struct{})
	ids := make(chan uint64, 1)
	var spins atomic.Int64
	go func() {
		ids <- stack.CurrentID()
		for {
			select {
			case <-stop:
				return
			default:
				spins.Add(1)
			}
		}
	}()
	defer close(stop)
	id := <-ids
	var x int
	for i := range 2 {
		if _, err := globals.Find(func() {}, globals.Watching(&x)); err != nil {
			t.Fatal(err)
		}
		if !globals.WaitedInVain(id) {
			t.Fatalf("check %d: the busy goroutine is still waited for", i)
		}
	}
}

// A goroutine blocked reading a connection whose data has come runs only
// once the scheduler polls the network; on a loaded machine that could be
// after the first snapshot, and its change was the block's. The check
// makes the scheduler poll first, and the goroutine is a straggler. How
// often the change is taken for the block's without the poll depends on
// the load (0–7 in 400 on a quiet 2-core machine, 138–175 under -race
// beside two busy processes; 0 with the poll there, 0–3 with the 20 µs
// sleep that polled before it, 26–29 with a microsecond's): the two are
// measured in turns, in the same conditions, and the poll must halve the
// rate at least.
func TestAStragglerOnTheNetworkRunsBeforeTheFirstSnapshot(t *testing.T) {
	if os.Getenv("RESIDUE_TEST_SPIN") != "" {
		for {
		}
	}
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	spin := exec.Command(os.Args[0], "-test.run=^TestAStragglerOnTheNetworkRunsBeforeTheFirstSnapshot$")
	spin.Env = append(os.Environ(), "RESIDUE_TEST_SPIN=1", "GOMAXPROCS=4")
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer spin.Wait()
	defer spin.Process.Kill()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer globals.PollFirst(true)
	var state int
	// blamed is whether one run takes the reader's change for the block's.
	blamed := func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			var b [1]byte
			s.Read(b[:])
			state++
			close(done)
		}()
		time.Sleep(100 * time.Microsecond) // it waits on the connection
		c.Write([]byte{1})                 // its data has come
		r, err := globals.Find(func() {}, globals.Watching(&state))
		<-done
		c.Close()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Changes) > 0
	}
	const runs = 400
	var with, without int
	for range runs {
		globals.PollFirst(true)
		if blamed() {
			with++
		}
		globals.PollFirst(false)
		if blamed() {
			without++
		}
	}
	t.Logf("taken for the block's in %d of %d runs, %d without the poll", with, runs, without)
	if with > 5 && 2*with > without {
		t.Errorf("a goroutine reading a connection whose data had come changed the watched variable after the first snapshot, "+
			"and was blamed on the block, in %d of %d checks; in %d without the poll before the snapshot, which should at least halve that",
			with, runs, without)
	}
}
