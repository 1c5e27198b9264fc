package fds

import (
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/probes"
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
	finalizers.Lock()
	holding := finalizers.release != nil || finalizers.queued
	finalizers.Unlock()
	if !holding {
		establishing.Lock()
		finalizers.Lock()
		holding = finalizers.release != nil || finalizers.queued
		finalizers.Unlock()
		if !holding {
			hold()
		}
		establishing.Unlock()
	}
	finalizers.Lock()
	defer finalizers.Unlock()
	if finalizers.runs == nil {
		finalizers.runs = map[*holdTicket]bool{}
	}
	t := &holdTicket{run: r, running: true, queued: queuedFinalizers()}
	finalizers.runs[t] = true
	finalizers.idle = time.Time{}
	return t
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
// heldPatience and the block is blocked (not running, and not in a GC).
func holdQueue(rel chan struct{}) {
	tick := time.NewTicker(sentinelTick)
	defer tick.Stop()
	var blocked time.Duration
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
		waiting := false
		for t := range finalizers.runs {
			waiting = waiting || (t.running && q > t.queued)
		}
		if !waiting {
			blocked = 0
		} else if blocked += sentinelTick; blocked >= heldPatience && runnerBlocked() {
			for t := range finalizers.runs {
				t.broken = true
			}
			letGo()
		}
		finalizers.Unlock()
	}
}

// runnerBlocked reports whether a goroutine running a block that has not
// returned waits for something other than a GC. Called with finalizers
// locked.
func runnerBlocked() bool {
	ids := map[uint64]bool{}
	for t := range finalizers.runs {
		if t.running {
			for _, id := range t.run.Runners() {
				ids[id] = true
			}
		}
	}
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range stack.ParseDump(string(buf)) {
		if !ids[g.ID] || inNestedRun(&g) {
			continue
		}
		switch {
		case g.State == "running", g.State == "runnable", g.State == "syscall", strings.Contains(g.State, "GC"):
		default:
			return true
		}
	}
	return false
}

// inNestedRun reports whether a runner is starting, running or finishing a
// run nested in its block (a check inside a checked test): it waits for
// residue's probes or for the nested block, which has its own part in the
// hold, not for a finalizer.
func inNestedRun(g *stack.Goroutine) bool {
	g.ParseFrames()
	for _, f := range g.Frames {
		switch f.Func {
		case "github.com/residue-go/residue/probes.Start",
			"github.com/residue-go/residue/probes.(*Run).execute",
			"github.com/residue-go/residue/probes.(*Run).Finish":
			return true
		}
	}
	return false
}

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
