package fds

import (
	"runtime"
	"runtime/metrics"
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
//     whose checks are over has no goroutine of residue's left;
//   - when finalizers queued since a block started have waited heldPatience
//     and the block is blocked: it may be waiting for one of its own. The
//     runs then under way are told (Report.Held false), since a descriptor
//     the block dropped may then be closed.
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
)

var finalizers struct {
	sync.Mutex
	release chan struct{} // closed to let go; nil when no sentinel holds
	queued  bool          // a sentinel is queued behind another finalizer
	runs    map[*holdTicket]bool
	idle    time.Time // when the last run left; zero while runs are under way
}

// holdTicket is one run's part in the hold.
type holdTicket struct {
	run     *probes.Run
	running bool   // the block has not returned
	queued  uint64 // finalizers queued in the process when the block started
	broken  bool   // the queue was let go while the run was under way
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

// hold puts a sentinel on the finalizer goroutine: it makes one unreachable
// and runs GCs until its finalizer runs. When another finalizer keeps it
// from running (which holds the queue just as well), the sentinel stays
// queued behind it and no run tries again until it has run.
func hold() {
	started := make(chan struct{})
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		rel := make(chan struct{})
		finalizers.Lock()
		finalizers.release, finalizers.queued = rel, false
		finalizers.Unlock()
		close(started)
		holdQueue(rel)
	})
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

// holdQueue runs on the finalizer goroutine and blocks it until rel is
// closed, or until finalizers queued since a block started have waited
// heldPatience and the block is blocked (see blockBlocked).
func holdQueue(rel chan struct{}) {
	tick := time.NewTicker(sentinelTick)
	defer tick.Stop()
	var blocked time.Duration
	next := heldPatience
	for {
		select {
		case <-rel:
			return
		case <-tick.C:
		}
		finalizers.Lock()
		q, e := readFinalizers()
		if len(finalizers.runs) == 0 && (q > e+1 || !finalizers.idle.IsZero() && time.Since(finalizers.idle) >= idlePatience) {
			letGo()
			finalizers.Unlock()
			return
		}
		var waiting []*holdTicket
		for t := range finalizers.runs {
			if t.running && q > t.queued {
				waiting = append(waiting, t)
			}
		}
		if len(waiting) == 0 {
			blocked, next = 0, heldPatience
		} else if blocked += sentinelTick; blocked >= next {
			if blockBlocked(waiting) {
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

// blockBlocked reports whether the block of one of the runs given, all under
// way, waits for something other than a GC: none of its goroutines is
// running. A block's goroutines are those that run it (its runners) and
// those they started, through creators still alive: the tests of a
// VerifyTestMain run, started by its runner's m.Run, and a test's subtests.
// A goroutine the testing package holds (a test paused by t.Parallel until
// its turn, a test waiting for its subtests, m.Run waiting for the tests)
// waits for other tests, not for a finalizer: it is left out, and the tests
// it waits for, when they are the block's, decide. A goroutine that is
// finishing a run of residue's own (a Check nested in
// the block, settling) counts as running: it waits for no finalizer, and it
// ends by itself. Called with finalizers locked.
func blockBlocked(runs []*holdTicket) bool {
	all := stack.ParseDump(string(stack.FullDump(nil)))
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
		if seen && idle {
			return true
		}
	}
	return false
}

// waitsForTests reports whether a blocked goroutine waits in the testing
// package: its innermost frame outside the runtime and sync is testing's.
func waitsForTests(g *stack.Goroutine) bool {
	if busy(g) || !strings.Contains(g.Raw, "testing.") {
		return false
	}
	g.ParseFrames()
	for _, f := range g.Frames {
		if stack.IsRuntime(f.Func) || strings.HasPrefix(f.Func, "sync.") || strings.HasPrefix(f.Func, "internal/sync.") {
			continue
		}
		return strings.HasPrefix(f.Func, "testing.")
	}
	return false
}

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

// letGo releases the sentinel. Called with finalizers locked.
func letGo() {
	if finalizers.release != nil {
		close(finalizers.release)
		finalizers.release = nil
	}
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
	if len(finalizers.runs) == 0 {
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
	for {
		finalizers.Lock()
		holding, idle := finalizers.release != nil, len(finalizers.runs) == 0
		finalizers.Unlock()
		if holding || !idle {
			return
		}
		if q, e := readFinalizers(); q == e || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Microsecond)
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
