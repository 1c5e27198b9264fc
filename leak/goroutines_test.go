package leak_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/leak"
)

// quick is the settle window of tests that expect a leak: long enough for a
// goroutine that is about to exit to do so on a loaded machine under -race.
const quick = 200 * time.Millisecond

// blockedOn parks on ch; a named function makes stacks easy to check.
//
//go:noinline
func blockedOn(ch chan struct{}) { <-ch }

func find(t *testing.T, block func(), opts ...leak.Option) *leak.Report {
	t.Helper()
	r, err := leak.Find(block, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCleanBlockPassesWithoutWaiting(t *testing.T) {
	start := time.Now()
	r := find(t, func() {
		done := make(chan struct{})
		go func() { close(done) }()
		<-done
	})
	if len(r.Goroutines) > 0 {
		t.Fatalf("clean block reported:\n%s", r)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("a clean block took %v: the verdict should not wait out the settle window", d)
	}
}

func TestLeakIsReportedWithOriginInTheBlock(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() { go blockedOn(stop) }, leak.Within(quick))
	if len(r.Goroutines) != 1 {
		t.Fatalf("want 1 goroutine, got:\n%s", r)
	}
	g := r.Goroutines[0]
	if g.State != "chan receive" || !strings.HasSuffix(g.Stack[0].Func, "leak_test.blockedOn") {
		t.Errorf("state or stack wrong: %+v", g)
	}
	if len(g.Origin) != 1 || !g.Origin[0].InBlock || !strings.HasSuffix(g.Origin[0].File, "goroutines_test.go") {
		t.Errorf("origin should be the block's go statement: %+v", g.Origin)
	}
	msg := r.String()
	for _, want := range []string{"The block left 1 goroutine running", "[chan receive", "leak_test.blockedOn", "— in the block", "goroutines_test.go:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestGrandchildOfExitedChildCounts(t *testing.T) {
	withoutGC(t)
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() {
		started := make(chan struct{})
		go func() {
			go blockedOn(stop)
			close(started)
		}()
		<-started
	}, leak.Within(quick))
	if len(r.Goroutines) != 1 {
		t.Fatalf("want the grandchild, got:\n%s", r)
	}
	// The child has exited: "created by" names its go statement only; the
	// memory profile leads on to the block's own go statement, the line
	// above.
	o := r.Goroutines[0].Origin
	if len(o) != 2 || !o[0].Exited || o[0].InBlock || o[0].Goroutine == 0 {
		t.Fatalf("origin should go through the exited child: %+v", o)
	}
	if !o[1].InBlock || o[1].Line != o[0].Line-1 || !strings.HasSuffix(o[1].Func, "TestGrandchildOfExitedChildCounts.func1") {
		t.Errorf("origin should end at the block's go statement: %+v", o[1])
	}
	if !strings.Contains(r.String(), "(exited; it was the block's)") {
		t.Errorf("message does not explain the exited creator:\n%s", r)
	}
}

func TestChainThroughLiveParents(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() {
		started := make(chan struct{})
		go func() {
			go blockedOn(stop)
			close(started)
			<-stop
		}()
		<-started
	}, leak.Within(quick))
	if len(r.Goroutines) != 2 {
		t.Fatalf("want parent and child, got:\n%s", r)
	}
	// Goroutine IDs come from per-processor batches, so the child's may be
	// the smaller one: tell them apart by what they run.
	parent, child := r.Goroutines[0], r.Goroutines[1]
	if strings.HasSuffix(parent.Stack[0].Func, "leak_test.blockedOn") {
		parent, child = child, parent
	}
	if len(child.Origin) != 2 || child.Origin[0].Goroutine != parent.ID || !child.Origin[1].InBlock {
		t.Errorf("child's origin should lead through its parent to the block: %+v", child.Origin)
	}
}

func TestGoroutineThatExitsWithinTheWindowIsNotReported(t *testing.T) {
	r := find(t, func() {
		go func() { time.Sleep(30 * time.Millisecond) }()
	}, leak.Within(time.Second))
	if len(r.Goroutines) > 0 {
		t.Fatalf("goroutine that ended within the window reported:\n%s", r)
	}
}

func TestWithinBoundsTheWait(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	start := time.Now()
	r := find(t, func() { go func() { time.Sleep(time.Hour) }() }, leak.Within(100*time.Millisecond))
	d := time.Since(start)
	if len(r.Goroutines) == 0 || d < 100*time.Millisecond || d > 600*time.Millisecond {
		t.Fatalf("leaked=%v after %v, want a report after about 100ms", len(r.Goroutines) > 0, d)
	}
	if g := r.Goroutines[0]; g.Waited < 50*time.Millisecond || g.StuckForever {
		t.Errorf("a sleeping goroutine: waited %v, stuck %v", g.Waited, g.StuckForever)
	}
}

func TestNilChannelIsStuckForeverAndReportedAtOnce(t *testing.T) {
	start := time.Now()
	r := find(t, func() {
		go func() {
			var never chan int
			<-never
		}()
	}, leak.Within(10*time.Second))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("provable leak took %v", d)
	}
	if len(r.Goroutines) != 1 || !r.Goroutines[0].StuckForever {
		t.Fatalf("want one goroutine stuck forever:\n%s", r)
	}
	if !strings.Contains(r.String(), "stuck forever") {
		t.Errorf("message does not say stuck forever:\n%s", r)
	}
}

func TestLeakProfileProvesChannelLeaks(t *testing.T) {
	if pprof.Lookup("goroutineleak") == nil {
		t.Skip("this runtime has no goroutineleak profile (Go 1.27 has it by default)")
	}
	start := time.Now()
	r := find(t, func() {
		ch := make(chan int)
		go func() { <-ch }()
	}, leak.Within(10*time.Second))
	if d := time.Since(start); d > time.Second || len(r.Goroutines) != 1 || !r.Goroutines[0].StuckForever {
		t.Fatalf("after %v:\n%s", d, r)
	}
}

func TestFilters(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	leakBoth := func() {
		go blockedOn(stop)
		go func() { time.Sleep(time.Hour) }()
	}
	cases := []struct {
		name string
		opt  leak.Option
		left int
	}{
		{"top function exact", leak.IgnoringTopFunction("github.com/residue-go/residue/leak_test.blockedOn"), 1},
		{"top function prefix", leak.IgnoringTopFunction("github.com/residue-go/residue/leak_test.blocked..."), 1},
		{"top function with state", leak.IgnoringTopFunction("github.com/residue-go/residue/leak_test.blockedOn [chan receive]"), 1},
		{"top function wrong state", leak.IgnoringTopFunction("github.com/residue-go/residue/leak_test.blockedOn [select]"), 2},
		{"top function sleep", leak.IgnoringTopFunction("time.Sleep"), 1},
		{"creator prefix", leak.IgnoringCreator("github.com/residue-go/residue/leak_test.TestFilters..."), 0},
		{"creator other", leak.IgnoringCreator("net/http.(*Server).Serve"), 2},
		{"any function", leak.IgnoringAnyFunction("github.com/residue-go/residue/leak_test.TestFilters.func1.1"), 1},
		{"none", leak.Within(10 * time.Millisecond), 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := find(t, leakBoth, c.opt, leak.Within(10*time.Millisecond))
			if len(r.Goroutines) != c.left {
				t.Errorf("%d left, want %d:\n%s", len(r.Goroutines), c.left, r)
			}
		})
	}
}

func TestLabelResetInsideBlockStillAttributedByAncestry(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() {
		pprof.Do(context.Background(), pprof.Labels("user", "own"), func(context.Context) {
			go blockedOn(stop)
		})
	}, leak.Within(quick))
	if len(r.Goroutines) != 1 {
		t.Fatalf("goroutine started under the user's own labels was missed:\n%s", r)
	}
}

func TestOtherGoroutinesAreNeverReported(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	// Started before, and concurrently with, the block by an unprobed caller.
	go blockedOn(stop)
	started := make(chan struct{})
	r := find(t, func() {
		go func() { go blockedOn(stop); close(started) }()
		<-started
		time.Sleep(5 * time.Millisecond)
	}, leak.Within(quick))
	if len(r.Goroutines) != 1 {
		t.Fatalf("want only the block's own goroutine:\n%s", r)
	}
	go blockedOn(stop) // a concurrent unrelated goroutine started after the block
	r = find(t, func() {}, leak.Within(quick))
	if len(r.Goroutines) > 0 {
		t.Fatalf("unrelated goroutines reported:\n%s", r)
	}
}

func TestLazyStdlibGoroutinesAreNotLeaks(t *testing.T) {
	// os/signal starts a process-lifetime goroutine on first use; nothing
	// else in this test binary uses it, so the block below starts it.
	r := find(t, func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		signal.Stop(c)
	}, leak.Within(quick))
	if len(r.Goroutines) > 0 {
		t.Fatalf("%s", r)
	}
	// Without the built-in ignore list the goroutine is there to be seen.
	stacks := make([]byte, 1<<20)
	if !strings.Contains(string(stacks[:runtime.Stack(stacks, true)]), "os/signal.") {
		t.Fatal("the os/signal goroutine did not start: the test proves nothing")
	}
}

// runConcurrently runs 8 probed blocks at once, the even ones leaking one
// goroutine through leakOne (identical code in each), and returns each run's
// report with the ID of the goroutine it leaked.
func runConcurrently(t *testing.T, within time.Duration, leakOne func(stop chan struct{}, id func(uint64))) ([]*leak.Report, []uint64) {
	stop := make(chan struct{})
	defer close(stop)
	var wg sync.WaitGroup
	reports := make([]*leak.Report, 8)
	ids := make([]uint64, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			reports[i], err = leak.Find(func() {
				if i%2 == 0 {
					leakOne(stop, func(id uint64) { ids[i] = id })
				}
			}, leak.Within(within))
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return reports, ids
}

func TestConcurrentRunsReportOnlyTheirOwnGoroutines(t *testing.T) {
	for round := range 100 {
		reports, ids := runConcurrently(t, 30*time.Millisecond, func(stop chan struct{}, id func(uint64)) {
			started := make(chan struct{})
			go func() {
				id(stack.CurrentID())
				close(started)
				blockedOn(stop)
			}()
			<-started
		})
		for i, r := range reports {
			switch {
			case i%2 == 1 && len(r.Goroutines) > 0:
				t.Fatalf("round %d: clean run %d reported:\n%s", round, i, r)
			case i%2 == 0 && (len(r.Goroutines) != 1 || r.Goroutines[0].ID != ids[i] || r.Goroutines[0].Ambiguous):
				t.Fatalf("round %d: run %d should report goroutine %d only:\n%s", round, i, ids[i], r)
			}
		}
	}
}

// When a leaked goroutine's creator has exited and a concurrent run left a
// goroutine with the very same stack, the label counts still give each run
// its exact number of goroutines, but which of the twins is whose cannot be
// known: the report says so.
func TestConcurrentTwinsWithExitedCreatorsAreCountedExactly(t *testing.T) {
	// The intermediate goroutines exit right after starting the twins; the
	// window gives them time to, even on a loaded machine.
	for round := range 50 {
		reports, ids := runConcurrently(t, quick, func(stop chan struct{}, id func(uint64)) {
			started := make(chan struct{})
			go func() {
				go func() {
					id(stack.CurrentID())
					close(started)
					blockedOn(stop)
				}()
			}()
			<-started
		})
		for i, r := range reports {
			switch {
			case i%2 == 1 && len(r.Goroutines) > 0:
				t.Fatalf("round %d: clean run %d reported:\n%s", round, i, r)
			case i%2 == 0 && len(r.Goroutines) != 1:
				t.Fatalf("round %d: run %d should report exactly one goroutine:\n%s", round, i, r)
			case i%2 == 0 && r.Goroutines[0].ID != ids[i] && !r.Goroutines[0].Ambiguous:
				t.Fatalf("round %d: run %d reported another run's goroutine without saying so:\n%s", round, i, r)
			case i%2 == 0 && r.Goroutines[0].Ambiguous && !strings.Contains(r.String(), "so the two cannot be told apart: the count is right"):
				t.Fatalf("round %d: ambiguity not explained:\n%s", round, r)
			}
		}
	}
}

func TestPanicInBlockIsAnErrorAndLeavesNothingBehind(t *testing.T) {
	before := runtime.NumGoroutine()
	_, err := leak.Find(func() { panic(fmt.Errorf("bad input")) })
	if err == nil || !strings.Contains(err.Error(), "the block panicked: bad input") {
		t.Fatalf("err = %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines %d → %d", before, after)
	}
}

func TestNestedRunsBothSeeTheInnerLeak(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	var inner *leak.Report
	outer := find(t, func() {
		inner = find(t, func() { go blockedOn(stop) }, leak.Within(quick))
	}, leak.Within(quick))
	if len(inner.Goroutines) != 1 || len(outer.Goroutines) != 1 || inner.Goroutines[0].ID != outer.Goroutines[0].ID || outer.Goroutines[0].ID == 0 {
		t.Fatalf("inner:\n%s\nouter:\n%s", inner, outer)
	}
}

// A goroutine whose text the parser cannot read is shown as the runtime
// wrote it, never dropped.
func TestReportShowsUnknownStacksRaw(t *testing.T) {
	r := &leak.Report{Within: time.Second, Goroutines: []leak.Goroutine{
		{ID: 7, State: "chan receive", Raw: "goroutine 7 [chan receive]:\nsome future format\n\tat somewhere"},
	}}
	if got := r.String(); !strings.Contains(got, "    some future format\n    \tat somewhere") {
		t.Fatalf("raw text missing:\n%s", got)
	}
}

// A goroutine found ready to run at the window's last look (one a timer or
// a message has just woken, or, here, one not yet scheduled once) is
// looked at again until it waits: it is reported where it waits, and its
// finding keeps one key from run to run.
func TestAGoroutineReadyAtTheLastLookIsReportedWhereItWaits(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() { go func() { blockedOn(stop) }() }, leak.Within(0))
	if len(r.Goroutines) != 1 {
		t.Fatalf("want 1 goroutine, got:\n%s", r)
	}
	g := r.Goroutines[0]
	if g.State != "chan receive" || !strings.HasSuffix(g.Stack[0].Func, "leak_test.blockedOn") {
		t.Errorf("reported as it was before it first ran (%s), not where it waits:\n%s", g.State, r)
	}
	if fs := leak.FindingsOf(r); len(fs) != 1 || !strings.HasPrefix(fs[0].Key, "github.com/residue-go/residue/leak_test.blockedOn created by") {
		t.Errorf("findings %+v, want one keyed by blockedOn", fs)
	}
}
