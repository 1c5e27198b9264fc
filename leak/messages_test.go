package leak_test

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/residue-go/residue/internal/golden"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/leak"
)

// A worker started by newPool, called from two handlers the block calls on
// two lines: the report leads from pool.go's go statement back through the
// handlers to both of the block's lines.
func TestPoolWorkerLeadsToTheBlocksLines(t *testing.T) {
	withoutGC(t)
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() {
		handleOrders(stop)   // way 1
		handleInvoices(stop) // way 2
	}, leak.Within(quick))
	if len(r.Goroutines) != 2 {
		t.Fatalf("want both workers:\n%s", r)
	}
	c := r.Goroutines[0].Origin
	if len(c) != 1 || !c[0].InBlock || len(c[0].From) != 2 {
		t.Fatalf("the origin should be newPool's go statement, reached from the block in two ways: %+v", c)
	}
	msg := r.String()
	for _, want := range []string{at(t, "pool_test.go", "go p.work(stop)"), "handleOrders", "handleInvoices",
		at(t, "messages_test.go", "// way 1"), at(t, "messages_test.go", "// way 2")} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	golden.Check(t, "pool_two_lines", msg)
}

// The worker's creator has exited before the block returns: the chain goes
// on from the exited goroutine's go statement to the block's line that
// started it.
func TestChainThroughAnExitedCreatorReachesTheBlock(t *testing.T) {
	withoutGC(t)
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() {
		done := make(chan struct{})
		startVia(stop, done) // via an exited creator
		<-done
	}, leak.Within(quick))
	if len(r.Goroutines) != 1 {
		t.Fatalf("want the worker:\n%s", r)
	}
	o := r.Goroutines[0].Origin
	if len(o) != 2 || !o[0].Exited || !o[1].InBlock || len(o[1].From) != 1 {
		t.Fatalf("origin should go through the exited creator to the block: %+v", o)
	}
	msg := r.String()
	for _, want := range []string{at(t, "pool_test.go", "go p.work(stop)"), "(exited; it was the block's)",
		at(t, "pool_test.go", "go func() {"), at(t, "messages_test.go", "// via an exited creator")} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	golden.Check(t, "exited_creator", msg)
}

// Runs reuse marker frames: a run that leaks through handleInvoices with the
// marker an earlier run used to leak through handleOrders shows only its own
// way, not the earlier run's, whose records are still in the profile.
func TestWaysOfAnEarlierRunWithTheSameMarkerAreNotShown(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	run := func(block func()) (*probes.Run, *leak.Report) {
		p, err := probes.KindOf("goroutines").New([]probes.Option{leak.Within(10 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		r, err := probes.Exec(block, p)
		if err != nil {
			t.Fatal(err)
		}
		return r, p.Report().Value().(*leak.Report)
	}
	withoutGC(t)
	first, _ := run(func() { handleOrders(stop) })
	for range probes.MaxExclusiveRuns * 2 {
		r, rep := run(func() { handleInvoices(stop) })
		if r.Marker() != first.Marker() {
			continue
		}
		// A GC cycle that ends during the run leaves the ways unknown, and
		// none is shown; but the earlier run's way never is.
		if msg := rep.String(); strings.Contains(msg, "handleOrders") {
			t.Fatalf("the earlier run's way, through handleOrders, is shown:\n%s", msg)
		}
		o := rep.Goroutines[0].Origin
		if len(o) != 1 || len(o[0].From) > 1 || (len(o[0].From) == 1 && !strings.HasSuffix(o[0].From[0][1].Func, "handleInvoices")) {
			t.Fatalf("want at most this run's way, through handleInvoices:\n%s", rep)
		}
		return
	}
	t.Skip("no run got the first run's marker again")
}

// at returns "file:line" for the one line of file, in this directory, that
// contains text.
func at(t *testing.T, file, text string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	found := ""
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, text) && !strings.Contains(l, "at(t, ") {
			if found != "" {
				t.Fatalf("%q is on more than one line of %s", text, file)
			}
			found = fmt.Sprintf("%s:%d", file, i+1)
		}
	}
	if found == "" {
		t.Fatalf("%q is not in %s", text, file)
	}
	return found
}

// A finding's key names the functions of the runtime's own creation chain,
// not what the memory profile adds, which depends on the run.
func TestFindingKeyLeavesOutWhatTheProfileAdds(t *testing.T) {
	withoutGC(t)
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() {
		done := make(chan struct{})
		startVia(stop, done)
		<-done
	}, leak.Within(quick))
	f := leak.FindingsOf(r)
	if len(f) != 1 || len(r.Goroutines[0].Origin) < 2 {
		t.Fatalf("want one finding with an origin the profile completed:\n%s", r)
	}
	if want := "github.com/residue-go/residue/leak_test.(*pool).work created by github.com/residue-go/residue/leak_test.newPool"; f[0].Key != want {
		t.Errorf("key = %q, want %q", f[0].Key, want)
	}
}

// withoutGC keeps GC cycles from ending while a test's runs are under way,
// after one has: the memory profile then tells each run's allocations from
// earlier runs' (see the limitations in docs/goroutines.md), so the ways a
// test expects are exactly its own.
func withoutGC(t *testing.T) {
	runtime.GC()
	old := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// A goroutine found running or runnable is keyed by the function it
// started in, not by wherever the look caught it, which changes from run
// to run (a baseline entry would stop matching).
func TestARunningGoroutineIsKeyedByWhereItStarted(t *testing.T) {
	var stop atomic.Bool
	defer stop.Store(true)
	var spinning sync.WaitGroup
	spinning.Add(1)
	r := find(t, func() {
		go spinEntry(&stop, &spinning)
		spinning.Wait()
	}, leak.Within(quick))
	f := leak.FindingsOf(r)
	if len(f) != 1 || len(r.Goroutines) != 1 {
		t.Fatalf("want one finding:\n%s", r)
	}
	if st := r.Goroutines[0].State; st != "running" && st != "runnable" {
		t.Skipf("the goroutine was found %q, not running or runnable", st)
	}
	if want := "github.com/residue-go/residue/leak_test.spinEntry created by github.com/residue-go/residue/leak_test.TestARunningGoroutineIsKeyedByWhereItStarted.func1"; f[0].Key != want {
		t.Errorf("key = %q, want %q (found in %v)", f[0].Key, want, r.Goroutines[0].Stack)
	}
}

var spinSink atomic.Uint64

// spinEntry spins, almost all of the time in spinA and spinB, never
// blocking, until stop is set.
//
//go:noinline
func spinEntry(stop *atomic.Bool, started *sync.WaitGroup) {
	started.Done()
	for !stop.Load() {
		spinA(stop)
		spinB(stop)
	}
}

//go:noinline
func spinA(stop *atomic.Bool) {
	for i := 0; i < 10_000_000 && !stop.Load(); i++ {
		spinSink.Add(uint64(i))
	}
}

//go:noinline
func spinB(stop *atomic.Bool) {
	for i := 0; i < 10_000_000 && !stop.Load(); i++ {
		spinSink.Add(uint64(i) * 3)
	}
}

// cycler ends two GC cycles once the block has returned, before the
// goroutine probe looks, as the descriptor probe's attribution does.
type cycler struct{ cycles uint64 }

func (*cycler) Before(*probes.Run) error { return nil }
func (*cycler) Report() probes.Report    { return nil }

func (c *cycler) After(*probes.Run) error {
	runtime.GC()
	runtime.GC()
	c.cycles = gcCycles()
	return nil
}

func gcCycles() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return uint64(ms.NumGC)
}

// Once two GC cycles have ended since the block returned, its allocations
// are in the published memory profile: the way from the block to a
// leftover's go statement is traced from it, with no cycle of the
// goroutine probe's own (two, before).
func TestCreationsAreTracedWithoutCyclesOnceOthersPublished(t *testing.T) {
	withoutGC(t)
	stop := make(chan struct{})
	defer close(stop)
	p, err := leak.NewProbe(leak.Within(0))
	if err != nil {
		t.Fatal(err)
	}
	c := &cycler{}
	// Afters run in the reverse order of the Befores: the cycler's first.
	if _, err := probes.Exec(func() { spawnTraced(stop) }, p, c); err != nil {
		t.Fatal(err)
	}
	if n := gcCycles() - c.cycles; n != 0 {
		t.Errorf("the goroutine probe ran %d GC cycles after the block's allocations were published", n)
	}
	r := p.Report().Value().(*leak.Report)
	if len(r.Goroutines) != 1 {
		t.Fatalf("want the worker:\n%s", r)
	}
	if o := r.Goroutines[0].Origin; len(o) != 1 || !o[0].InBlock || len(o[0].From) != 1 {
		t.Errorf("the way from the block to spawnTraced's go statement was not traced: %+v", o)
	}
}

// spawnTraced starts a goroutine from a go statement no other test runs:
// no earlier run's allocations are at its line.
//
//go:noinline
func spawnTraced(stop chan struct{}) {
	go func() { blockedOn(stop) }()
}
