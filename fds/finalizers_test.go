//go:build linux

package fds_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/residue-go/residue/fds"
)

// waitForOwn is a block that depends on the runtime running a finalizer or
// cleanup it set: it drops an object, runs a GC, and waits for it.
func waitForOwn(kind string, failed *bool) func() {
	return func() {
		done := make(chan struct{})
		obj := &struct{ p *int }{}
		if kind == "cleanup" {
			runtime.AddCleanup(obj, func(done chan struct{}) { close(done) }, done)
		} else {
			runtime.SetFinalizer(obj, func(*struct{ p *int }) { close(done) })
		}
		obj = nil
		runtime.GC()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			*failed = true
		}
	}
}

func TestBlockThatWaitsForItsFinalizerRunsAsWithoutAProbe(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	// A leaking run first, so that the finalizer queue is held when the
	// blocks below start.
	leakingRun(t, ln, "")
	for _, kind := range []string{"finalizer", "cleanup"} {
		for name, find := range map[string]func(func(), ...fds.Option) (*fds.Report, error){"Find": fds.Find, "FindSockets": fds.FindSockets} {
			t.Run(kind+"/"+name, func(t *testing.T) {
				failed := false
				start := time.Now()
				r, err := find(waitForOwn(kind, &failed), fds.Within(0))
				if err != nil || failed || len(r.FDs) > 0 {
					t.Fatalf("waited %v for its %s (failed %v), err %v, report:\n%s", time.Since(start), kind, failed, err, r)
				}
				if took := time.Since(start); took > time.Second {
					t.Errorf("took %v", took)
				}
			})
		}
	}
}

// leakingRun checks a block that drops a dialed connection and runs a GC,
// as a test that leaks one does: the finalizer queue is held afterwards,
// and what earlier code dropped has been collected. It fails the test,
// its message starting with prefix, unless the socket is reported.
func leakingRun(t *testing.T, ln net.Listener, prefix string) {
	t.Helper()
	r, _ := fds.FindSockets(func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		_ = c
		runtime.GC()
	}, fds.Within(0))
	if len(r.FDs) == 0 {
		t.Fatalf("%sdropped socket not reported:\n%s", prefix, r)
	}
}

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestCleanVerdictForcesNoGC turns the collector off: any cycle during the
// runs below is one the probe forced.
func TestCleanVerdictForcesNoGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	dir := t.TempDir()
	clean := func() {
		f, _ := os.Create(filepath.Join(dir, "f"))
		f.Close()
		c, _ := net.Dial("tcp", ln.Addr().String())
		s, _ := ln.Accept()
		s.Close()
		c.Close()
	}
	if r, err := fds.Find(clean, fds.Within(0)); err != nil || len(r.FDs) > 0 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	// A run that leaves a dropped socket, whose finalizer then runs.
	leakingRun(t, ln, "")
	if s, _ := ln.Accept(); s != nil {
		s.Close()
	}
	runtime.GC()
	before := gcCycles()
	for range 50 {
		if r, err := fds.Find(clean, fds.Within(time.Second)); err != nil || len(r.FDs) > 0 {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
	}
	if n := gcCycles() - before; n != 0 {
		t.Errorf("50 clean runs forced %d GC cycles", n)
	}
}

// TestSettleWindowIsWaitedOnlyForWhatWouldBeReported leaves descriptors that
// are not reported: the window is not waited out for them.
func TestSettleWindowIsWaitedOnlyForWhatWouldBeReported(t *testing.T) {
	dir := t.TempDir()
	var left closer
	defer left.close()
	start := time.Now()
	r, err := fds.Find(func() {
		f, _ := os.Create(filepath.Join(dir, "cache.db"))
		left.keep(f)
	}, fds.Within(2*time.Second), fds.IgnoringPath(filepath.Join(dir, "*.db")))
	if err != nil || len(r.FDs) > 0 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("an ignored file cost %v (Waited %v)", took, r.Waited)
	}

	// Opened by a goroutine that is not the block's, while another probed
	// block runs: not the block's, so not waited for either.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	other := make(chan struct{})
	release := make(chan struct{})
	go fds.Find(func() { close(other); <-release }, fds.Within(0))
	<-other
	opened := make(chan net.Conn)
	go func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		opened <- c
	}()
	start = time.Now()
	r, err = fds.FindSockets(func() {
		left.keep(<-opened)
		s, _ := ln.Accept()
		left.keep(s)
	}, fds.Within(2*time.Second))
	close(release)
	if err != nil || len(r.FDs) > 0 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("descriptors that are not the block's cost %v (Waited %v)", took, r.Waited)
	}
}

// TestManyParallelBlocksAreExactOrSaySo runs more probed blocks at once than
// there are marker frames: each verdict is exact, or an error says it
// cannot be.
func TestManyParallelBlocksAreExactOrSaySo(t *testing.T) {
	dir := t.TempDir()
	const n = 24
	var (
		done, arrived sync.WaitGroup
		files         [n]*os.File
		reports       [n]*fds.Report
		errs          [n]error
	)
	done.Add(n)
	arrived.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			reports[i], errs[i] = fds.Find(func() {
				f, _ := os.Create(filepath.Join(dir, fmt.Sprint(i)))
				arrived.Done()
				arrived.Wait() // every block has opened its file
				if i%3 == 0 {
					files[i] = f
					return
				}
				f.Close()
			}, fds.Within(100*time.Millisecond))
		}()
	}
	done.Wait()
	shared := 0
	for i := range n {
		if files[i] != nil {
			defer files[i].Close()
		}
		r, err := reports[i], errs[i]
		if err != nil {
			if !strings.Contains(err.Error(), "cannot be told from those of another running at the same time") {
				t.Fatalf("block %d: %v", i, err)
			}
			shared++
			continue
		}
		if i%3 != 0 {
			if len(r.FDs) > 0 {
				t.Errorf("clean block %d blamed:\n%s", i, r)
			}
			continue
		}
		want := int(files[i].Fd())
		if len(r.FDs) != 1 || (r.FDs[0].Num != want && !slices.Contains(r.FDs[0].OneOf, want)) {
			t.Errorf("block %d: want fd %d:\n%s", i, want, r)
		}
	}
	if shared == 0 {
		t.Errorf("no run shared a marker frame: the test did not run more than %d blocks at once", n)
	}
}

// blockFinalizers keeps the finalizer goroutine in a finalizer of the
// test's own until the returned func is called: another finalizer that
// blocks. The probe's hold lets go first, since a finalizer waits and no
// run is under way.
func blockFinalizers(t *testing.T) (unblock func()) {
	t.Helper()
	release := make(chan struct{})
	running := make(chan struct{})
	obj := &struct{ p *int }{}
	runtime.SetFinalizer(obj, func(*struct{ p *int }) { close(running); <-release })
	obj = nil
	runtime.GC()
	select {
	case <-running:
	case <-time.After(5 * time.Second):
		t.Fatal("the test's finalizer did not run")
	}
	return func() { close(release) }
}

// TestAnotherBlockingFinalizerCostsOneWait blocks the finalizer goroutine
// with a finalizer of the test's own: the probe cannot put its sentinel in
// place (the queue is held all the same), and only the first run waits for
// it.
func TestAnotherBlockingFinalizerCostsOneWait(t *testing.T) {
	defer blockFinalizers(t)()
	start := time.Now()
	for range 4 {
		if r, err := fds.Find(func() {}, fds.Within(0)); err != nil || len(r.FDs) > 0 {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("4 clean runs took %v", took)
	}
}

// The same with runs that leave a dropped socket: putting a sentinel back
// after a run that found leftovers (rehold) waits no more, since the one
// queued behind the blocking finalizer holds the queue as well.
func TestAnotherBlockingFinalizerCostsOneWaitWithLeftovers(t *testing.T) {
	defer blockFinalizers(t)()
	ln := loopback(t)
	start := time.Now()
	for range 4 {
		r, err := fds.FindSockets(func() {
			c, _ := net.Dial("tcp", ln.Addr().String())
			_ = c // dropped without Close
		}, fds.Within(0))
		if err != nil || len(r.FDs) != 1 {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("4 runs with leftovers took %v", took)
	}
}

// lookForGoroutinesLeft is what net/http's tests and miekg/dns's do to find
// goroutines left running: list every goroutine of the process, up to five
// times 100 ms apart, until none but the expected ones is there. Here the
// only unexpected one is the finalizer goroutine, which runtime.Stack shows
// only while it runs a finalizer: the probe's sentinel, or another.
func lookForGoroutinesLeft() (looks int, left string) {
	buf := make([]byte, 2<<20)
	for looks = 1; looks <= 5; looks++ {
		dump := string(buf[:runtime.Stack(buf, true)])
		left = ""
		for _, g := range strings.Split(dump, "\n\n") {
			if strings.Contains(g, "runtime.runFinalizers") {
				left = g
			}
		}
		if left == "" {
			return looks, ""
		}
		time.Sleep(100 * time.Millisecond)
	}
	return looks - 1, left
}

// A block that looks for goroutines left running, and waits for them to end
// as such checks do, finds none of the probe's: at its first look where the
// sentinel is unlisted (see unlist), else at its second, 100 ms after the
// first, though the first came as the block started, before the sentinel's
// next tick (Bracket.Entered); and the run stays exact.
func TestALookForGoroutinesLeftFindsNoneOfTheProbes(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	for i := range 8 {
		// A leaking run before each, so that the queue is held when the
		// block starts, as in a test suite, and what earlier tests
		// dropped has been collected: a finalizer queued while the
		// block runs could be that of a descriptor it dropped, and the
		// sentinel does not step aside for it (one look more, under
		// load, when earlier tests had left garbage with finalizers).
		leakingRun(t, ln, fmt.Sprintf("run %d: ", i))
		var looks int
		var left string
		unlisted := false
		r, err := fds.Find(func() {
			unlisted = fds.SentinelUnlisted()
			looks, left = lookForGoroutinesLeft()
		}, fds.Within(0))
		if err != nil || len(r.FDs) > 0 || !r.Held {
			t.Fatalf("run %d: err %v, report:\n%s", i, err, r)
		}
		if left != "" {
			t.Fatalf("run %d: after %d looks, a goroutine was left:\n%s", i, looks, left)
		}
		want := 2
		if unlisted {
			want = 1
		} else if fds.CanUnlist() {
			t.Errorf("run %d: runtime.fingStatus was found, but the sentinel holding the finalizer goroutine did not unlist it (runtime.Stack still lists it)", i)
		}
		if looks > want {
			t.Errorf("run %d: the block's look for goroutines left found none only at look %d, want by look %d", i, looks, want)
		}
	}
}

// While the sentinel holds, the runtime lists no finalizer goroutine: not in
// runtime.Stack, not in the goroutine profile. Once it lets go, the next
// finalizer the runtime runs is listed as usual.
func TestTheSentinelIsNotListed(t *testing.T) {
	if !fds.CanUnlist() {
		t.Skip("runtime.fingStatus is not found here (no debug info, or another Go release)")
	}
	buf := make([]byte, 2<<20)
	listed := func() (inStack, inProfile bool) {
		inStack = strings.Contains(string(buf[:runtime.Stack(buf, true)]), "runtime.runFinalizers")
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		return inStack, strings.Contains(b.String(), "runtime.runFinalizers")
	}
	var holds, unlisted, inStack, inProfile bool
	r, err := fds.Find(func() {
		holds, unlisted = fds.SentinelHolds(), fds.SentinelUnlisted()
		inStack, inProfile = listed()
	}, fds.Within(0))
	if err != nil || !r.Held || !holds {
		t.Fatalf("err %v, sentinel holding %v, report:\n%s", err, holds, r)
	}
	if !unlisted || inStack || inProfile {
		t.Fatalf("the holding sentinel: unlisted %v, in runtime.Stack %v, in the goroutine profile %v", unlisted, inStack, inProfile)
	}
	// A finalizer of the test's own, queued now, waits behind the
	// sentinel until it lets go (no run is under way), then runs, and is
	// listed while it blocks.
	running, done := make(chan struct{}), make(chan struct{})
	func() {
		o := &struct{ _ *int }{}
		runtime.SetFinalizer(o, func(any) { close(running); <-done })
	}()
	runtime.GC()
	select {
	case <-running:
	case <-time.After(5 * time.Second):
		t.Fatal("the test's finalizer did not run within 5 s")
	}
	inStack, inProfile = listed()
	close(done)
	if !inStack || !inProfile {
		t.Fatalf("a finalizer of the test's own, running: in runtime.Stack %v, in the goroutine profile %v", inStack, inProfile)
	}
}

// The same with goleak, as a test that ends with
// defer goleak.VerifyNone(t) does: its retries wait up to 100 ms apart.
func TestGoleakInsideABlockFindsNoneOfTheProbes(t *testing.T) {
	// The goroutines there are before the run (the test's own, which waits
	// for the block's), without the sentinel of an earlier run.
	if _, left := lookForGoroutinesLeft(); left != "" {
		t.Fatalf("a finalizer runs before the run:\n%s", left)
	}
	before := goleak.IgnoreCurrent()
	var err error
	r, ferr := fds.Find(func() { err = goleak.Find(before) }, fds.Within(0))
	if ferr != nil || len(r.FDs) > 0 || !r.Held {
		t.Fatalf("err %v, report:\n%s", ferr, r)
	}
	if err != nil {
		t.Fatalf("goleak found goroutines inside the block: %v", err)
	}
}

// A socket a block drops before it looks for goroutines left running, with
// no GC in between, is reported every time: the sentinel runs a GC before it
// steps aside, which queues the socket's finalizer behind it, and so stays.
// One dropped before a GC and the look, or after the look, is reported or
// the report says that the queue was not held all along: in the first case
// its finalizer waits behind the sentinel while the block waits (see
// heldPatience); in the second the sentinel has stepped aside, and the GC
// that puts the next one in place may run the socket's finalizer first.
func TestADroppedSocketBesideALookIsReportedOrSaysSo(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	drop := func(gc bool) {
		c, _ := net.Dial("tcp", ln.Addr().String())
		_ = c // dropped without Close
		if gc {
			runtime.GC()
		}
	}
	for _, order := range []string{"drop, look", "drop, GC, look", "look, drop, GC"} {
		exact := 0
		const runs = 5
		for i := range runs {
			var left string
			r, err := fds.FindSockets(func() {
				switch order {
				case "drop, look":
					drop(false)
					_, left = lookForGoroutinesLeft()
				case "drop, GC, look":
					drop(true)
					_, _ = lookForGoroutinesLeft()
				case "look, drop, GC":
					_, _ = lookForGoroutinesLeft()
					drop(true)
				}
			}, fds.Within(0))
			switch {
			case err != nil:
				t.Fatalf("%s, run %d: %v", order, i, err)
			case len(r.FDs) == 1 && (r.Held || order != "drop, look"):
				exact++
			case order == "drop, look":
				t.Fatalf("%s, run %d: not reported, or the queue was let go (the sentinel was left: %v):\n%s", order, i, left != "", r)
			case r.Held:
				t.Fatalf("%s, run %d: the dropped socket was closed by its finalizer, and the report says the queue was held:\n%s", order, i, r)
			}
		}
		t.Logf("%s: %d of %d runs reported the socket", order, exact, runs)
	}
}

// Once no run is under way, a look at every goroutine, as
// goleak.VerifyTestMain makes after a package's tests, lets the sentinel go
// at its next tick, not after its idle patience (100 ms): looks a
// millisecond apart, as goleak's first retries are, find it gone within a
// few.
func TestALookAfterTheRunsLetsTheSentinelGo(t *testing.T) {
	buf := make([]byte, 1<<20)
	held := func() bool {
		runtime.Stack(buf, true) // a look
		return fds.SentinelHolds()
	}
	for i := range 5 {
		r, err := fds.Find(func() {}, fds.Within(0))
		if err != nil || !r.Held {
			t.Fatalf("run %d: err %v, report:\n%s", i, err, r)
		}
		start := time.Now()
		looks := 0
		for ; held(); looks++ {
			if looks == 0 {
				continue // the sentinel holds, as after every run
			}
			if time.Since(start) > time.Second {
				t.Fatalf("run %d: the sentinel still holds after %d looks in %v", i, looks, time.Since(start))
			}
			time.Sleep(time.Millisecond)
		}
		if looks == 0 {
			t.Fatalf("run %d: no sentinel held the finalizer goroutine after the run", i)
		}
		if took := time.Since(start); took >= 50*time.Millisecond {
			t.Errorf("run %d: the sentinel let go after %d looks in %v", i, looks, took)
		}
	}
}
