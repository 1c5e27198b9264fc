package fds

import (
	"maps"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// The runtime closes an os.File or net.Conn that became unreachable without
// Close through its finalizer, once a GC cycle has found it so. A block that
// drops a descriptor would then be reported only when no GC happened to run.
//
// Finalizers run one at a time, on one goroutine. A sentinel finalizer that
// blocks holds every later one back, so the probe keeps one holding the
// finalizer goroutine while runs are under way, and between them too for as
// long as no other finalizer is waiting: then the next run finds the queue
// held and needs no GC to hold it. The sentinel lets go
//   - when no run is under way and other finalizers are waiting, so that
//     code outside the runs sees its finalizers run as usual (within a few
//     milliseconds). A run that found leftovers puts a sentinel back once
//     they have run (rehold); otherwise the next run does, which takes a GC;
//   - when no run has been under way for idlePatience, so that a process
//     whose checks are over has no goroutine of residue's left; and sooner,
//     at its next look at the queue, when every goroutine was looked at
//     with no run under way (idleLooks);
//   - when finalizers queued since a block started have waited heldPatience
//     and the block is blocked: it may be waiting for one of its own. The
//     runs then under way are told (Report.Held false), since a descriptor
//     the block dropped may then be closed. Not for lookHold after the
//     block's first look at every goroutine (below): it then waits for
//     goroutines to end;
//   - where the runtime lists the sentinel among the goroutines (where it
//     cannot unlist itself: see unlist), when a block stopped the world
//     (runtime.Stack of every goroutine, a goroutine profile: a look, see
//     lookedAt) and every run's block is found waiting lookedPatience/2 and
//     lookedPatience after it, with no finalizer queued since any of them
//     started (stepAside). That is a test looking for goroutines left
//     running and waiting for them to end, as goleak.VerifyNone and
//     net/http's interestingGoroutines do: the finalizer goroutine runs the
//     sentinel, so they see it, and after the wait they see the process as
//     it would be without the probe. A new
//     sentinel is armed as the old one lets go, and the next GC puts it in
//     place; a run is told (Report.Held false) only when a finalizer other
//     than the sentinel was queued in between, which is the only way a
//     descriptor its block dropped could have been closed.
// A run that leaves nothing forces no GC.

// sentinel has a pointer field so that it is never a tiny allocation, whose
// finalizer could be delayed indefinitely.
type sentinel struct{ _ *int }

const (
	// heldPatience is how long finalizers may wait behind the hold while a
	// block is still running.
	heldPatience = 10 * time.Millisecond
	// holdFor is how long joinHold waits for the sentinel to reach the
	// finalizer goroutine; another finalizer that blocks can keep it from
	// doing so, and holds the queue just as well.
	holdFor = 2 * time.Second
	// sentinelTick is how often a holding sentinel looks at the queue.
	sentinelTick = 2 * time.Millisecond
	// idlePatience is how long the sentinel holds the queue with no run
	// under way: checks that follow one another keep it, and a process
	// whose checks are over (a TestMain that then looks for goroutines
	// left, as goleak.VerifyTestMain does) does not see it.
	idlePatience = 100 * time.Millisecond
	// lookedPatience is how long the blocks must wait after a look before
	// the sentinel steps aside (stepAside): they are looked at halfway and
	// at the end, and a block found running ends the wait.
	// goleak.VerifyNone waits up to 65 ms and then 100 ms between looks,
	// net/http's and miekg/dns's interestingGoroutines 100 ms.
	lookedPatience = 50 * time.Millisecond
	// lookHold is how long after a block's first look the sentinel keeps
	// holding finalizers queued since the block started (a descriptor it
	// dropped before the look), rather than letting go when the block
	// waits (heldPatience): the wait is for goroutines to end. A block that
	// waits for a finalizer of its own after a look waits that much longer.
	lookHold = time.Second
)

var finalizers = struct {
	sync.Mutex
	release chan struct{} // closed to let go; nil when no sentinel holds
	queued  bool          // a sentinel is queued behind another finalizer
	armed   chan struct{} // a sentinel waits for a GC to queue it; closed when it runs
	runs    map[*holdTicket]bool
	idle    time.Time // when the last run left; zero while runs are under way
	// aside: the sentinel stepped aside (stepAside) when the process had
	// queued asideQueued finalizers; the armed one has not run yet.
	aside       bool
	asideQueued uint64
	// stops counts the stop-the-world pauses seen so far; looked is when
	// the last one that a block may have made was seen (see lookedAt).
	stops  uint64
	looked time.Time
	// wake tells a sentinel that does not tick (calm) that it should.
	wake chan struct{}
	// unlisted: the holding sentinel is not among the goroutines the
	// runtime lists (unlist), and need not step aside for looks.
	unlisted bool
}{wake: make(chan struct{}, 1)}

// calm reports whether a holding sentinel has nothing to tick for: runs are
// under way and every one's block has returned or is paused (a test in
// t.Parallel, waiting for the sequential ones), so none can be waiting for
// a finalizer or looking at every goroutine, and the hold is not let go for
// idleness. The sentinel's ticker would otherwise be the timer that keeps
// their settle windows from ending early (probes' still.go). Called with
// finalizers locked.
func calm() bool {
	for t := range finalizers.runs {
		if t.running && !t.paused {
			return false
		}
	}
	return len(finalizers.runs) > 0
}

// wakeSentinel makes a calm sentinel tick again. Called with finalizers
// locked.
func wakeSentinel() {
	select {
	case finalizers.wake <- struct{}{}:
	default:
	}
}

// holdTicket is one run's part in the hold.
type holdTicket struct {
	run     *probes.Run
	running bool      // the block has not returned
	queued  uint64    // finalizers queued in the process when the block started
	broken  bool      // the queue was let go while the run was under way
	aside   bool      // under way when the sentinel stepped aside
	looked  time.Time // the block's first look at every goroutine (lookedAt)
	paused  bool      // the block waits for other blocks (probes.Run.Pausing)
	// began: the block has started, after stopsOfTheWorld gave
	// beganStops; a later stop is the block's (lookedAt).
	began      bool
	beganStops uint64
}

// joinHold makes sure the finalizer queue is held, and keeps it held until
// the run leaves, unless the block waits for finalizers.
func joinHold(r *probes.Run) *holdTicket {
	// The check that the queue is held and the run's registration happen
	// under one lock: a sentinel that lets go in between (other finalizers
	// waiting with no run registered) is put back first. Clearing idle
	// first keeps a holding sentinel from letting go for idleness while
	// this run is being registered.
	for attempt := 0; ; attempt++ {
		finalizers.Lock()
		finalizers.idle = time.Time{}
		if finalizers.release != nil || finalizers.queued || attempt == 3 {
			if finalizers.runs == nil {
				finalizers.runs = map[*holdTicket]bool{}
			}
			t := &holdTicket{run: r, running: true, queued: queuedFinalizers()}
			finalizers.runs[t] = true
			wakeSentinel()
			finalizers.stops, finalizers.looked = stopsOfTheWorld(), time.Time{} // the probes' own, before the block
			finalizers.Unlock()
			return t
		}
		finalizers.Unlock()
		establishing.Lock()
		finalizers.Lock()
		holding := finalizers.release != nil || finalizers.queued
		finalizers.Unlock()
		if !holding {
			hold()
		}
		establishing.Unlock()
	}
}

// establishing lets one run at a time put a sentinel in place.
var establishing sync.Mutex

// hold puts a sentinel on the finalizer goroutine: it arms one (or uses the
// one armed already) and runs GCs until its finalizer runs. When another
// finalizer keeps it from running (which holds the queue just as well), the
// sentinel stays queued behind it and no run tries again until it has run.
func hold() {
	fingStatus() // found here, not on the finalizer goroutine
	finalizers.Lock()
	started := arm()
	finalizers.Unlock()
	deadline := time.Now().Add(holdFor)
	for time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-started:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	finalizers.Lock()
	finalizers.queued = finalizers.release == nil
	finalizers.Unlock()
}

// arm makes a sentinel unreachable with its finalizer set, for the next GC
// to queue, unless one is armed already; it returns the channel closed
// when the sentinel runs. There is never more than one sentinel armed or
// holding. Called with finalizers locked.
func arm() chan struct{} {
	if finalizers.armed != nil {
		return finalizers.armed
	}
	started := make(chan struct{})
	finalizers.armed = started
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		unlisted := unlist()
		rel := make(chan struct{})
		finalizers.Lock()
		finalizers.release, finalizers.queued, finalizers.armed = rel, false, nil
		finalizers.unlisted = unlisted
		if finalizers.aside {
			back()
		}
		finalizers.stops = stopsOfTheWorld()
		finalizers.Unlock()
		close(started)
		holdQueue(rel)
	})
	return started
}

// holdQueue runs on the finalizer goroutine and blocks it until rel is
// closed, or until finalizers queued since a block started have waited
// heldPatience and the block is blocked (see blockBlocked).
func holdQueue(rel chan struct{}) {
	tick := time.NewTicker(sentinelTick)
	defer tick.Stop()
	var blocked time.Duration
	next := heldPatience
	waited := 0 // checks that found the blocks waiting since the last look
	var idle idleLooks
	for {
		finalizers.Lock()
		ticks := tick.C
		if calm() {
			ticks = nil
		}
		finalizers.Unlock()
		select {
		case <-rel:
			return
		case <-ticks:
		case <-finalizers.wake:
			continue
		}
		finalizers.Lock()
		now := time.Now()
		q, e := readFinalizers()
		if len(finalizers.runs) == 0 && (q > e+1 || !finalizers.idle.IsZero() && time.Since(finalizers.idle) >= idlePatience || idle.looked()) {
			letGo()
			finalizers.Unlock()
			return
		}
		if len(finalizers.runs) > 0 {
			// A look, then the blocks waiting lookedPatience/2 and
			// lookedPatience after it: step aside.
			if stops := stopsOfTheWorld(); stops != finalizers.stops {
				finalizers.stops, waited = stops, 0
				if lookedAt(stops) {
					finalizers.looked = now
					for t := range finalizers.runs {
						if t.looked.IsZero() {
							t.looked = now
						}
					}
				}
			}
			// The looks still count for lookHold; an unlisted sentinel is
			// not what they wait for.
			if looked := finalizers.looked; !finalizers.unlisted && !looked.IsZero() && now.Sub(looked) >= time.Duration(waited+1)*lookedPatience/2 {
				stuck := blockBlocked(slices.Collect(maps.Keys(finalizers.runs)), true)
				finalizers.stops = stopsOfTheWorld() // blockBlocked's own
				switch {
				case !stuck:
					finalizers.looked = time.Time{} // the blocks went on: not a wait
				case waited == 0:
					waited = 1
				case stepAside():
					finalizers.Unlock()
					return
				default:
					finalizers.looked = time.Time{}
				}
			}
		}
		var waiting []*holdTicket
		for t := range finalizers.runs {
			// A block that looked at every goroutine less than lookHold
			// ago waits for goroutines to end, not for its finalizers.
			if t.running && q > t.queued && (t.looked.IsZero() || now.Sub(t.looked) >= lookHold) {
				waiting = append(waiting, t)
			}
		}
		if len(waiting) == 0 {
			blocked, next = 0, heldPatience
		} else if blocked += sentinelTick; blocked >= next {
			stuck := blockBlocked(waiting, false)
			finalizers.stops = stopsOfTheWorld() // blockBlocked's own
			if stuck {
				for t := range finalizers.runs {
					t.broken = true
				}
				letGo()
			} else {
				// A block that keeps running is looked at less and less
				// often: each look stops the world to dump every stack.
				next = min(2*next, blocked+maxLookEvery)
			}
		}
		finalizers.Unlock()
	}
}

// maxLookEvery is the longest time between two looks at whether a block that
// has finalizers waiting behind the hold is blocked.
const maxLookEvery = 100 * time.Millisecond

// blockBlocked reports whether the block of one of the runs given (of every
// one, with every set), all under way, waits for something other than a
// GC: none of its goroutines is running. A block's goroutines are those
// that run it (its runners) and those they started, through creators still
// alive: the tests of a VerifyTestMain run, started by its runner's m.Run,
// and a test's subtests. A goroutine the testing package holds (a test
// paused by t.Parallel until its turn, a test waiting for its subtests,
// m.Run waiting for the tests) waits for other tests, not for a finalizer:
// it is left out, and the tests it waits for, when they are the block's,
// decide. A goroutine that is finishing a run of residue's own (a Check
// nested in the block, settling) counts as running: it waits for no
// finalizer, and it ends by itself. Called with finalizers locked.
func blockBlocked(runs []*holdTicket, every bool) bool {
	all := stack.ParseDump(stack.DumpText())
	byID := make(map[uint64]*stack.Goroutine, len(all))
	for i := range all {
		byID[all[i].ID] = &all[i]
	}
	for _, t := range runs {
		runners := map[uint64]bool{}
		for _, id := range t.run.Runners() {
			runners[id] = true
		}
		// The block's goroutines: a runner, or one whose chain of living
		// creators leads to one.
		of := map[uint64]bool{}
		var inBlock func(id uint64, depth int) bool
		inBlock = func(id uint64, depth int) bool {
			if v, ok := of[id]; ok {
				return v
			}
			g := byID[id]
			v := g != nil && (runners[id] || (depth < len(all) && g.CreatorID != 0 && inBlock(g.CreatorID, depth+1)))
			of[id] = v
			return v
		}
		idle, seen := true, false
		for i := range all {
			if inBlock(all[i].ID, 0) && !waitsForTests(&all[i]) {
				seen = true
				if busy(&all[i]) {
					idle = false
					break
				}
			}
		}
		if (seen && idle) != every {
			return !every
		}
	}
	return every
}

// waitsForTests reports whether a blocked goroutine waits in the testing
// package: its innermost frame outside the runtime and sync is testing's.
func waitsForTests(g *stack.Goroutine) bool { return !busy(g) && g.WaitsInTesting() }

// busy reports whether a goroutine is running, or finishing a run of
// residue's own.
func busy(g *stack.Goroutine) bool {
	switch {
	case g.State == "running", g.State == "runnable", g.State == "syscall", strings.Contains(g.State, "GC"):
		return true
	}
	return strings.Contains(g.Raw, finishFrame)
}

// finishFrame is on the stack of a goroutine that is finishing a run.
const finishFrame = "github.com/residue-go/residue/internal/probes.(*Run).Finish("

// lookedAt reports whether the stops of the world counted, stops, include
// one made since every run's block started (Bracket.Entered) and none has
// returned: a block's look at every goroutine (the probes' own dumps before
// a block, such as the globals probe's, come before it starts). The
// goroutine probe's dumps at the end of a run nested in a block are not
// told apart. Called with finalizers locked.
func lookedAt(stops uint64) bool {
	for t := range finalizers.runs {
		if !t.running || !t.began || stops <= t.beganStops {
			return false
		}
	}
	return true
}

// stepAside lets the sentinel go for a run whose block looks for goroutines
// left running (see the comment at the top), when every run's block is under
// way and no finalizer was queued since any of them started, and arms the
// next sentinel. It runs a GC first, so that a descriptor a block dropped
// before its look has its finalizer queued, behind the sentinel, and the
// sentinel stays. Called with finalizers locked, on the sentinel.
func stepAside() bool {
	runtime.GC()
	q := queuedFinalizers()
	for t := range finalizers.runs {
		if !t.running || t.queued != q {
			return false
		}
	}
	for t := range finalizers.runs {
		t.aside = true
	}
	finalizers.aside, finalizers.asideQueued = true, q
	letGo()
	arm()
	return true
}

// back is the armed sentinel running after stepAside: the runs under way
// then stay held unless a finalizer other than this sentinel was queued in
// between. Called with finalizers locked.
func back() {
	q := queuedFinalizers()
	for t := range finalizers.runs {
		if !t.aside {
			continue
		}
		t.aside = false
		if q == finalizers.asideQueued+1 {
			t.queued = q // the sentinel was the only one queued
		} else {
			t.broken = true
		}
	}
	finalizers.aside, finalizers.looked = false, time.Time{}
}

// stopsOfTheWorld counts the process's stop-the-world pauses other than a
// GC's: runtime.Stack of every goroutine, a goroutine profile,
// runtime.ReadMemStats.
func stopsOfTheWorld() uint64 {
	s := stopsSample[:]
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	var n uint64
	for _, c := range s[0].Value.Float64Histogram().Counts {
		n += c
	}
	return n
}

// stopsSample is read by stopsOfTheWorld, with finalizers locked: its
// histogram is reused from one read to the next.
var stopsSample = [1]metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}

// idleLooks tells a look at every goroutine made while no run is under way,
// as goleak.VerifyTestMain makes once a package's tests are over: the
// sentinel, which it would take for a goroutine left running, then lets go
// at once rather than after idlePatience. A run's own looks are made while
// it is under way.
type idleLooks struct {
	watching bool   // the last call found no run under way
	stops    uint64 // stopsOfTheWorld then
	started  uint64 // runs started then
}

// looked reports whether the world was stopped since a call that found no
// run under way, with none started since. Called with finalizers locked.
func (w *idleLooks) looked() bool {
	underWay, started := probes.Runs()
	if underWay > 0 || len(finalizers.runs) > 0 {
		w.watching = false
		return false
	}
	stops := stopsOfTheWorld()
	if w.watching && started == w.started && stops != w.stops {
		return true
	}
	w.watching, w.stops, w.started = true, stops, started
	return false
}

// letGo releases the sentinel. Called with finalizers locked.
func letGo() {
	if finalizers.release != nil {
		close(finalizers.release)
		finalizers.release = nil
	}
}

// pause records that the run's block waits for other blocks, or no longer
// does.
func (t *holdTicket) pause(paused bool) {
	finalizers.Lock()
	defer finalizers.Unlock()
	t.paused = paused
	if !paused {
		wakeSentinel()
	}
}

// entered records that the run's block has started: the stops of the world
// from now on may be its looks at every goroutine.
func (t *holdTicket) entered() {
	finalizers.Lock()
	defer finalizers.Unlock()
	t.began, t.beganStops = true, stopsOfTheWorld()
}

// returned records that the run's block has returned: it can no longer be
// waiting for a finalizer.
func (t *holdTicket) returned() {
	finalizers.Lock()
	defer finalizers.Unlock()
	t.running = false
}

// leave ends the run's part in the hold. The last run to leave lets the
// queue go when other finalizers wait. It reports whether the queue stayed
// held for the whole run.
func (t *holdTicket) leave() (held bool) {
	finalizers.Lock()
	defer finalizers.Unlock()
	delete(finalizers.runs, t)
	if t.aside && queuedFinalizers() != finalizers.asideQueued {
		t.broken = true // the sentinel stepped aside and has not come back: a finalizer may have run
	}
	finalizers.stops, finalizers.looked = stopsOfTheWorld(), time.Time{} // the probes' own, after the block
	if len(finalizers.runs) == 0 {
		wakeSentinel() // to let go once idle
		finalizers.idle = time.Now()
		if queuedFinalizers() > executedFinalizers()+1 {
			letGo()
		}
	}
	return !t.broken
}

// rehold puts a sentinel back in place once the queue has been let go and
// has run what waited, so that the next run does not pay for it. A run that
// found leftovers calls it: dropped descriptors are what fill the queue.
func rehold() {
	establishing.Lock()
	defer establishing.Unlock()
	deadline := time.Now().Add(50 * time.Millisecond)
	for spins := 0; ; {
		finalizers.Lock()
		// A sentinel queued behind another finalizer that blocks holds
		// the queue as well: putting another one in place would wait
		// holdFor for nothing.
		holding, idle := finalizers.release != nil || finalizers.queued, len(finalizers.runs) == 0
		finalizers.Unlock()
		if holding || !idle {
			return
		}
		if q, e := readFinalizers(); q == e || time.Now().After(deadline) {
			break
		}
		// What waited runs on the finalizer goroutine within
		// microseconds, most often: yield to it, rather than sleep,
		// which lasts a millisecond at the least in an idle process.
		if spins++; spins < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
	hold()
}

var finalizerMetrics = []string{"/gc/finalizers/queued:finalizers", "/gc/finalizers/executed:finalizers"}

func readFinalizers() (queued, executed uint64) {
	s := []metrics.Sample{{Name: finalizerMetrics[0]}, {Name: finalizerMetrics[1]}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 1, 0 // unknown: assume one waits
	}
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

func queuedFinalizers() uint64 {
	q, _ := readFinalizers()
	return q
}

func executedFinalizers() uint64 {
	_, e := readFinalizers()
	return e
}
