package memprof

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

var recording struct {
	sync.Mutex
	users int // callers recording, of either kind
	exact int // those of them that count every allocation
	saved int // the rate before the first caller
	// starts holds, for each caller recording stacks only, the count of
	// heap allocations when it began (a multiset: one entry per caller).
	starts map[uint64]int
	// stopped is set while every caller is past its stack budget: the
	// rate is the saved one until a new caller comes or the last one
	// releases.
	stopped bool
	// stops counts the times the recording stopped.
	stops uint64
	// ticking is set while watchBudget's cleanup is armed.
	ticking bool
}

// StackBudget is how many heap allocations a caller of RecordStacks has
// recorded with their stacks before it no longer needs the recording: a
// stack walk per allocation costs about a microsecond, and tens where the
// stack is deep (a recursive parser's), so a test allocating millions of
// objects would run many times slower than without. The recording stops
// once every caller is past its budget (and none counts allocations); it
// starts again for a new caller. What is allocated while it is stopped has
// no stack, and what a probe finds of it has no creation stack.
var StackBudget atomic.Uint64

func init() { StackBudget.Store(1 << 18) }

// BudgetNote says why what a block made after its recording stopped has no
// stack, for reports.
func BudgetNote() string {
	return "over " + strconv.FormatUint(StackBudget.Load(), 10) +
		" heap allocations were made while the block ran (by it or by goroutines left running before it), and their stacks are recorded for that many only, to keep the check's cost bounded"
}

// RecordAllocations makes the runtime record every heap allocation with its
// stack (runtime.MemProfileRate = 1) until release is called, for callers
// that count them: the stack budget does not apply while one records. Calls
// may nest and overlap across goroutines (with RecordStacks too): the rate
// the process had before the first call is restored when the last caller
// releases. release is idempotent.
func RecordAllocations() (release func()) {
	// The closure is made before the rate is 1: each allocation made
	// after costs a stack walk.
	var once sync.Once
	release = func() {
		once.Do(func() {
			recording.Lock()
			defer recording.Unlock()
			recording.exact--
			removeUser()
		})
	}
	recording.Lock()
	defer recording.Unlock()
	recording.exact++
	addUser()
	return release
}

// RecordStacks is RecordAllocations for callers that want the stacks of
// what is allocated, not every allocation counted: the recording stops once
// StackBudget allocations have been recorded (unless a caller of
// RecordAllocations is recording). See Stacks for what the caller can do
// with it.
func RecordStacks() *Stacks {
	s := &Stacks{start: heapAllocs()} // read before the rate is 1
	recording.Lock()
	defer recording.Unlock()
	s.join()
	return s
}

// Stacks is one caller's recording of allocation stacks (RecordStacks).
// Its methods are safe for concurrent use.
type Stacks struct {
	// Under recording's lock.
	start    uint64 // heap allocations when its budget began
	stops    uint64 // recording.stops when it began or was renewed
	paused   bool   // Pause was called, Renew was not since
	released bool
}

// join makes s one of the recording's users, with its budget counted from
// s.start. recording is held.
func (s *Stacks) join() {
	if recording.starts == nil {
		recording.starts = map[uint64]int{}
	}
	recording.starts[s.start]++
	addUser()
	s.stops = recording.stops
}

// leave takes s out of the recording's users; the rate the process had
// is back once no user is left. recording is held.
func (s *Stacks) leave() {
	forgetStart(s.start)
	removeUser()
}

// addUser counts one more caller recording, and sets the rate to 1 unless
// it is already. recording is held.
func addUser() {
	if recording.users == 0 {
		watchBudget()
		recording.saved = runtime.MemProfileRate
		runtime.MemProfileRate = 1
	} else if recording.stopped {
		recording.stopped = false
		runtime.MemProfileRate = 1
	}
	recording.users++
}

// removeUser counts one caller fewer, and puts back the rate the process
// had once none is left. recording is held.
func removeUser() {
	if recording.users--; recording.users == 0 {
		runtime.MemProfileRate = recording.saved
		recording.stopped = false
	}
}

// Release ends the caller's recording; idempotent.
func (s *Stacks) Release() {
	recording.Lock()
	defer recording.Unlock()
	if s.released {
		return
	}
	s.released = true
	if !s.paused {
		s.leave()
	}
}

// Stopped reports whether the recording stopped at any moment since the
// caller began it, or last renewed it.
func (s *Stacks) Stopped() bool {
	recording.Lock()
	defer recording.Unlock()
	return recording.stops != s.stops
}

// Pause lets the recording stop for the caller until Renew: for a caller
// that waits while others run (a test paused in t.Parallel until the
// sequential tests end). Were it still recording, every allocation of the
// others, and of their checks, would cost a stack walk, all of them
// recorded for nothing: Renew starts its budget again anyway. What its own
// goroutines allocate meanwhile (those it started before pausing) has no
// stack unless another caller records.
func (s *Stacks) Pause() {
	recording.Lock()
	defer recording.Unlock()
	if s.released || s.paused {
		return
	}
	s.paused = true
	s.leave()
}

// Renew starts the caller's budget again from now, and the recording if it
// had stopped or was paused: for a caller that was paused while others
// allocated, whose budget those allocations spent. Stopped then counts from
// the renewal: what stopped the recording before is the pause's, not the
// caller's (but for goroutines it started before pausing).
func (s *Stacks) Renew() {
	now := heapAllocs()
	recording.Lock()
	defer recording.Unlock()
	if s.released {
		return
	}
	if s.paused {
		s.paused = false
		s.start = now
		s.join()
		return
	}
	forgetStart(s.start)
	s.start = now
	recording.starts[s.start]++
	s.stops = recording.stops
	if recording.stopped {
		recording.stopped = false
		runtime.MemProfileRate = 1
	}
}

// forgetStart takes one caller's start out of recording.starts. recording
// is held.
func forgetStart(start uint64) {
	if recording.starts[start]--; recording.starts[start] == 0 {
		delete(recording.starts, start)
	}
}

// spent reports whether every caller recording is past its stack budget.
// recording is held.
func spent() bool {
	if recording.exact > 0 {
		return false
	}
	now, budget := heapAllocs(), StackBudget.Load()
	for start := range recording.starts {
		if now-start <= budget {
			return false
		}
	}
	return true
}

// watchBudget checks the stack budget at the end of every GC cycle while a
// recording lasts: an allocation-heavy block runs GC cycles often. It uses
// a cleanup, which runs on one of the runtime's cleanup goroutines: a
// goroutine of residue's own, started in a block, would be taken for the
// block's, and the finalizer goroutine is held while a descriptor probe's
// block runs. recording is held.
func watchBudget() {
	if recording.ticking {
		return
	}
	recording.ticking = true
	runtime.AddCleanup(&gcTick{}, func(struct{}) {
		recording.Lock()
		defer recording.Unlock()
		recording.ticking = false
		if recording.users == 0 {
			return
		}
		if !recording.stopped && spent() {
			recording.stopped = true
			recording.stops++
			runtime.MemProfileRate = recording.saved
		}
		watchBudget()
	}, struct{}{})
}

// gcTick is what watchBudget's cleanup is attached to: large enough not to
// share a block of the tiny allocator, whose objects are freed together.
type gcTick struct {
	_ *gcTick
	_ [3]uintptr
}

// heapAllocs returns the count of heap allocations the process has made.
func heapAllocs() uint64 { return counter("/gc/heap/allocs:objects") }

// UserRate returns runtime.MemProfileRate as the process has it apart from
// residue: the rate saved while allocations are recorded, the current one
// otherwise. The globals probe compares it, so that one check's recording
// is never taken for a change by a block checked at the same time.
func UserRate() int {
	recording.Lock()
	defer recording.Unlock()
	if recording.users > 0 {
		return recording.saved
	}
	return runtime.MemProfileRate
}

// MemProfile returns every record of the memory profile, with in-use and
// cumulative figures current: the runtime publishes allocations to the
// profile only when a GC cycle ends, so it runs two first. The records are
// valid until release is called (see PublishedMemProfile).
func MemProfile() (recs []runtime.MemProfileRecord, release func()) {
	publish()
	return PublishedMemProfile()
}

// publish runs the two GC cycles after which every allocation made before
// is in the published profile, and what is no longer reachable is freed.
// One runtime.GC publishes every allocation made before it, but not every
// free: what a cleanup's argument holds (a closed socket's) is freed only
// by the cycle after the one that queued the cleanup. With one cycle, the
// descriptor probe counted a closed listener's objects in use, and a test
// that dropped fifteen UDP connections had them attributed to one of two
// places, its window waited, instead of reported dropped at once.
func publish() {
	runtime.GC()
	runtime.GC()
}

// FlushedRecords is PublishedRecords with every allocation made before the
// call published (two GC cycles, as MemProfile runs).
func FlushedRecords() (recs []StackRecord, whole bool, release func()) {
	publish()
	return PublishedRecords()
}

// recordsBuffer holds the buffers of the last PublishedRecords read, for
// the next (see profileBuffer).
var recordsBuffer struct {
	sync.Mutex
	deep offHeap[deepRecord]
	recs offHeap[StackRecord]
}

// PublishedRecords returns every record of the memory profile as the last
// GC cycles published it, in runtime.MemProfile's order. Where the
// release's records are read directly (whole), each has its whole stack,
// up to the runtime's profiling depth; else the records are
// runtime.MemProfile's, with stacks cut at 32 frames. The records and
// their stacks are valid until release is called, which must be called (a
// second call does nothing).
func PublishedRecords() (recs []StackRecord, whole bool, release func()) {
	if !readsDeep {
		mrecs, release := PublishedMemProfile()
		recs = make([]StackRecord, len(mrecs))
		for i := range mrecs {
			r := &mrecs[i]
			recs[i] = StackRecord{InUseObjects: r.InUseObjects(), AllocObjects: r.AllocObjects, Stack: r.Stack()}
		}
		return recs, false, release
	}
	// A read while another holds the buffers has buffers of its own.
	shared := recordsBuffer.TryLock()
	deepBuf, recsBuf := &recordsBuffer.deep, &recordsBuffer.recs
	if !shared {
		deepBuf, recsBuf = new(offHeap[deepRecord]), new(offHeap[StackRecord])
	}
	deep := readDeep(deepBuf)
	if len(recsBuf.s) < len(deep) {
		recsBuf.grow(len(deep) + len(deep)/8 + 64)
	}
	recs = recsBuf.s[:len(deep)]
	for i := range deep {
		recs[i] = deep[i].record()
	}
	return recs, true, sync.OnceFunc(func() {
		if !shared {
			deepBuf.release()
			recsBuf.release()
			return
		}
		recordsBuffer.Unlock()
	})
}

// profileBuffer holds the records of the last profile read for the next:
// while allocations are recorded the profile has tens of thousands of
// records, a few megabytes, and a fresh slice for each read was enough to
// start a GC cycle in a test binary with a small heap (miekg/dns: about one
// cycle in every two tests), after which PublishedObjects has to read the
// profile again.
var profileBuffer struct {
	sync.Mutex
	recs []runtime.MemProfileRecord
}

// PublishedMemProfile returns the memory profile as the last GC cycles
// published it, without running one: cheap, but allocations since the last
// cycle are missing. The records are in a buffer the next read reuses:
// they are valid until release is called, which must be called (a second
// call does nothing). A read while another holds the buffer gets a slice
// of its own.
func PublishedMemProfile() (recs []runtime.MemProfileRecord, release func()) {
	shared := profileBuffer.TryLock()
	if shared {
		recs = profileBuffer.recs
	}
	// Into the buffer as it is first: each call walks every record, and
	// the buffer is most often large enough already.
	for {
		n, ok := runtime.MemProfile(recs[:cap(recs)], true)
		if ok {
			recs = recs[:n]
			break
		}
		recs = make([]runtime.MemProfileRecord, n+n/8+64)
	}
	if !shared {
		return recs, func() {}
	}
	return recs, sync.OnceFunc(func() {
		profileBuffer.recs = recs[:0]
		profileBuffer.Unlock()
	})
}
