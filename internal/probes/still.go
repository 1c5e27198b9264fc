package probes

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/residue-go/residue/internal/debuginfo"
	"github.com/residue-go/residue/internal/osproc"
	"github.com/residue-go/residue/internal/stack"
)

// A run's leftovers get the settle window to go away: a goroutine about to
// return, a socket a goroutine is about to close, a child about to exit.
// For any of that to happen something must run: a goroutine, a timer's
// function or the goroutine a timer wakes, a goroutine that I/O wakes, a
// child process. When nothing of the process can run before the window
// ends, waiting it out changes nothing the probes could find, and Settle
// ends it early ("still"). That is proven by two looks, stillGap or more
// apart, each finding
//   - every goroutine but the looking one parked on something that only
//     another goroutine, a timer or I/O can end (stillStates), or waiting
//     for a signal (os/signal's receiver), with the same goroutines in the
//     same states at both looks;
//   - no timer of the runtime's due before the window ends (the earliest
//     time any P's timers may fire, nextTimer): a sleep, a timer or ticker
//     a goroutine waits for, an AfterFunc, a deadline on a socket; the
//     background scavenger's timer, which wakes only the runtime's own
//     goroutine, is passed over (heapNext);
//   - no child process (osproc.Childless).
// Between the looks the checking goroutine sleeps, so the scheduler polls
// the network: I/O that was ready at the first look has woken its goroutine
// by the second. What the proof cannot see is the world outside the process:
// a server that closes a connection or a signal sent within the window is
// not waited for. Where the runtime's timers cannot be read (no debug info,
// another Go release), nothing is proven and windows are waited out.

// stillGap is the least time between the two looks of the proof.
const stillGap = time.Millisecond

// stillFrom is the first attempt of Settle's at which the proof is tried:
// after 1.5ms of looks and sleeps, by which a goroutine that was about to
// return has, and the fds probe's sentinel (which ticks while blocks run)
// has stopped ticking.
const stillFrom = 5

// stillStates are the wait states of a goroutine that cannot end by
// themselves: only another goroutine, a timer (seen in the timers) or I/O
// (polled between the looks) can end them.
var stillStates = map[string]bool{
	"IO wait": true, "chan receive": true, "chan send": true,
	"chan receive (nil chan)": true, "chan send (nil chan)": true,
	"select": true, "select (no cases)": true, "semacquire": true,
	"sync.Cond.Wait": true, "sync.Mutex.Lock": true, "sync.RWMutex.RLock": true,
	"sync.RWMutex.Lock": true, "sync.WaitGroup.Wait": true,
	"finalizer wait": true, "cleanup wait": true, "force gc (idle)": true,
	"GC sweep wait": true, "GC scavenge wait": true, "GC worker (idle)": true,
}

// signalFrame is the innermost frame of os/signal's receiving goroutine,
// which only a signal wakes.
const signalFrame = "\nos/signal.signal_recv("

type stillLook struct {
	at         time.Time
	goroutines string // every other goroutine's ID and state
}

// still tries the proof at the end of a window that ends at deadline: it
// looks, and reports whether this look and the run's last one both found
// nothing that can run before then.
func (r *Run) still(deadline time.Time) bool {
	at := time.Now()
	gs, ok := lookStill(deadline)
	prev := r.stillLast
	if !ok {
		r.stillLast = stillLook{}
		return false
	}
	r.stillLast = stillLook{at, gs}
	return !prev.at.IsZero() && at.Sub(prev.at) >= stillGap && prev.goroutines == gs
}

// lookStill looks once: it returns the other goroutines' IDs and states, and
// whether nothing can run before deadline.
func lookStill(deadline time.Time) (string, bool) {
	if !osproc.Childless() || !noTimerBefore(deadline) {
		return "", false
	}
	dump := stack.DumpText()
	var b strings.Builder
	for i, g := range stack.ParseDump(dump) {
		if i == 0 {
			continue // the looking goroutine, which runtime.Stack puts first
		}
		if !stillStates[g.State] && !(g.State == "syscall" && strings.Contains(g.Raw, signalFrame)) {
			return "", false
		}
		b.WriteString(strconv.FormatUint(g.ID, 10))
		b.WriteByte(' ')
		b.WriteString(g.State)
		b.WriteByte('\n')
	}
	return b.String(), noTimerBefore(deadline) // again: the dump took time
}

// noTimerBefore reports whether no timer of the process can fire before
// deadline; false when the timers cannot be read.
func noTimerBefore(deadline time.Time) bool {
	when, now, ok := nextTimer()
	return ok && (when == 0 || when >= now+int64(time.Until(deadline)))
}

//go:linkname nanotime runtime.nanotime
func nanotime() int64

// timerOffsets locate, for each P, the earliest time a timer of its may
// fire: runtime.allp is a slice of *runtime.p, each holding a runtime.timers
// whose minWhenHeap and minWhenModified are the bounds the scheduler itself
// reads (timers.wakeTime), in nanotime's clock.
type timerOffsets struct {
	allp           unsafe.Pointer
	heap, modified uintptr
	// The background scavenger's own timer (runtime.scavenger.timer),
	// where a P's heap of timers is (timers.heap, a slice of
	// timerWhen{timer *timer, when int64}), and where a timer keeps its
	// time and its state: see heapNext.
	scavenger              unsafe.Pointer // the variable runtime.scavenger
	scavTimer              uintptr        // the offset of its timer field
	heapSlice              uintptr        // the offset of a P's timers.heap
	timerWhen, timerAstate uintptr        // a timer's when and astate fields
}

// heapElemSize is the size of an element of a P's heap of timers,
// timerWhen{timer *timer, when int64}, as timerLayout checks it.
const heapElemSize = 16

// timerReleases are the Go releases whose scheduler keeps those bounds.
var timerReleases = []string{"go1.26", "go1.27"}

var timerLayout = sync.OnceValues(func() (l timerOffsets, ok bool) {
	if !debuginfo.Running(timerReleases...) {
		return l, false
	}
	allp, found := debuginfo.Variable("runtime.allp")
	heap, okH := debuginfo.Offsets("runtime.allp", "timers", "minWhenHeap", "value")
	mod, okM := debuginfo.Offsets("runtime.allp", "timers", "minWhenModified", "value")
	if !found || !okH || !okM {
		return l, false
	}
	l = timerOffsets{allp: allp, heap: uintptr(heap[0] + heap[1] + heap[2]), modified: uintptr(mod[0] + mod[1] + mod[2])}
	if !(l.heap%8 == 0 && l.modified%8 == 0) {
		return l, false
	}
	scav, okS := debuginfo.Variable("runtime.scavenger")
	st, okT := debuginfo.Offsets("runtime.scavenger", "timer")
	hs, okH := debuginfo.Offsets("runtime.allp", "timers", "heap")
	et, okE := debuginfo.Offsets("runtime.allp", "timers", "heap", "timer")
	ew, okW := debuginfo.Offsets("runtime.allp", "timers", "heap", "when")
	tw, okTW := debuginfo.Offsets("runtime.allp", "timers", "heap", "timer", "when")
	ta, okTA := debuginfo.Offsets("runtime.allp", "timers", "heap", "timer", "astate")
	if okS && okT && okH && okE && okW && okTW && okTA && len(st) == 1 && len(hs) == 2 &&
		len(et) == 3 && et[2] == 0 && len(ew) == 3 && ew[2] == heapElemSize/2 && len(tw) == 4 && tw[3]%8 == 0 && len(ta) == 4 {
		l.scavenger, l.scavTimer = scav, uintptr(st[0])
		l.heapSlice = uintptr(hs[0] + hs[1])
		l.timerWhen, l.timerAstate = uintptr(tw[3]), uintptr(ta[3])
	}
	return l, true
})

// timerAt reads the timer at t: when it fires, 0 for a stopped one
// (timerZombie), which waits to be taken out of its heap and fires never.
// Read without the timer's lock.
//
//go:nocheckptr
//go:norace
func (l *timerOffsets) timerAt(t unsafe.Pointer) int64 {
	if *(*uint8)(unsafe.Add(t, l.timerAstate))&timerZombie != 0 {
		return 0
	}
	return atomic.LoadInt64((*int64)(unsafe.Add(t, l.timerWhen)))
}

// scavengerTimer returns the background scavenger's timer, nil when it
// has none or its place is not known.
//
//go:nocheckptr
func (l *timerOffsets) scavengerTimer() unsafe.Pointer {
	if l.scavenger == nil {
		return nil
	}
	return atomic.LoadPointer((*unsafe.Pointer)(unsafe.Add(l.scavenger, l.scavTimer)))
}

// maxHeapScan is the most timers heapNext reads of one P's heap.
const maxHeapScan = 64

// The runtime's timer states (runtime/time.go): a stopped timer waiting
// to be taken out of its heap fires never.
const timerZombie = 1 << 2

// heapNext is, for the P at p, the earliest time a timer of its heap will
// fire, 0 when none will, read from the timers themselves: a timer moved
// (timerModified) keeps its old place in the heap until the P can lock it,
// and the bound the runtime keeps for such timers (minWhenModified) can
// stay earlier than any timer left; a stopped one (timerZombie) waits to be
// taken out. The background scavenger's timer is left out: it wakes only
// the runtime's own goroutine, which returns memory to the system, pacing
// itself by sleeps up to a second long, and would keep every window from
// ending early. The heap is read without its lock, twice: ok is false when
// anything read changed between the two reads, or the heap holds more than
// maxHeapScan timers.
//
//go:nocheckptr
//go:norace
func (l *timerOffsets) heapNext(p unsafe.Pointer) (next int64, ok bool) {
	if l.scavenger == nil {
		return 0, false
	}
	type look struct {
		elems  unsafe.Pointer
		n      int
		timers [maxHeapScan]unsafe.Pointer
		whens  [maxHeapScan]int64
	}
	read := func(lk *look) bool {
		slice := (*struct {
			ptr unsafe.Pointer
			n   int
		})(unsafe.Add(p, l.heapSlice))
		lk.elems, lk.n = atomic.LoadPointer(&slice.ptr), int(atomic.LoadInt64((*int64)(unsafe.Pointer(&slice.n))))
		if lk.n > maxHeapScan || lk.n < 0 || (lk.n > 0 && lk.elems == nil) {
			return false
		}
		for i := range lk.n {
			t := atomic.LoadPointer((*unsafe.Pointer)(unsafe.Add(lk.elems, uintptr(i)*heapElemSize)))
			if t == nil {
				return false
			}
			lk.timers[i], lk.whens[i] = t, l.timerAt(t)
		}
		return true
	}
	var a, b look
	if !read(&a) || !read(&b) || a != b {
		return 0, false
	}
	scav := l.scavengerTimer()
	for i := range a.n {
		if a.timers[i] == scav || a.whens[i] == 0 {
			continue
		}
		if next == 0 || a.whens[i] < next {
			next = a.whens[i]
		}
	}
	return next, true
}

// nextTimer returns when, in nanotime's clock, the earliest timer of the
// process may fire (0 when none is set), and nanotime now; ok is false when
// the timers cannot be read here. The bounds are atomics the runtime keeps
// for readers without its locks; allp changes only when GOMAXPROCS does, and
// a read that faults all the same ends the proof, not the process.
//
//go:nocheckptr
func nextTimer() (when, now int64, ok bool) {
	l, ok := timerLayout()
	if !ok {
		return 0, 0, false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			when, ok = 0, false
		}
	}()
	now = nanotime()
	slice := (*struct {
		ptr unsafe.Pointer
		n   int
	})(l.allp)
	ps, n := atomic.LoadPointer(&slice.ptr), slice.n
	if n != runtime.GOMAXPROCS(0) {
		return 0, now, false
	}
	for i := range n {
		p := atomic.LoadPointer((*unsafe.Pointer)(unsafe.Add(ps, uintptr(i)*unsafe.Sizeof(uintptr(0)))))
		if p == nil {
			return 0, now, false
		}
		if w, ok := l.heapNext(p); ok {
			if w != 0 && (when == 0 || w < when) {
				when = w
			}
			continue
		}
		for _, off := range [...]uintptr{l.modified, l.heap} {
			if w := atomic.LoadInt64((*int64)(unsafe.Add(p, off))); w != 0 && (when == 0 || w < when) {
				when = w
			}
		}
	}
	return when, now, true
}
