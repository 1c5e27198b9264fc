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
	// callers are the callers recording stacks only.
	callers map[*stackCaller]struct{}
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

func init() { StackBudget.Store(1 << 16) }

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
	release, _ = record(true, nil)
	return release
}

// RecordStacks is RecordAllocations for callers that want the stacks of
// what is allocated, not every allocation counted: the recording stops once
// StackBudget allocations have been recorded (unless a caller of
// RecordAllocations is recording). stopped reports whether it stopped at
// any moment since the call.
func RecordStacks() (release func(), stopped func() bool) {
	return record(false, nil)
}

// RecordStacksFor is RecordStacks for a caller that records on behalf of
// owner: while Waiting reports owner waiting, what the process allocates
// is not its, and its budget starts again.
func RecordStacksFor(owner any) (release func(), stopped func() bool) {
	return record(false, owner)
}

// Waiting, when set, reports for each of owners (as given to
// RecordStacksFor) whether it is waiting rather than running: a test
// paused in t.Parallel until its turn, whose check started before the
// pause. Its budget is not spent by what others allocate meanwhile: once
// every caller is past its budget, those found waiting start theirs again
// and the recording goes on; a caller found waiting then and running at
// the next such look starts its budget once more, so that the block has a
// whole budget from when it runs. It is asked with the recording's lock held, at
// most once per budget's worth of allocations. Package probes sets it.
var Waiting func(owners []any) []bool

// stackCaller is one caller of RecordStacks: the count of heap
// allocations when its budget began, and whom it records for.
type stackCaller struct {
	start  uint64
	owner  any
	waited bool // found waiting when its budget last started again
}

func record(exact bool, owner any) (release func(), stopped func() bool) {
	var caller *stackCaller
	if !exact {
		caller = &stackCaller{start: heapAllocs(), owner: owner} // read before the rate is 1, and outside the lock
	}
	recording.Lock()
	if recording.users == 0 {
		recording.saved = runtime.MemProfileRate
		runtime.MemProfileRate = 1
		watchBudget()
	} else if recording.stopped {
		recording.stopped = false
		runtime.MemProfileRate = 1
	}
	recording.users++
	if exact {
		recording.exact++
	} else {
		if recording.callers == nil {
			recording.callers = map[*stackCaller]struct{}{}
		}
		recording.callers[caller] = struct{}{}
	}
	stops := recording.stops
	recording.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			recording.Lock()
			defer recording.Unlock()
			if exact {
				recording.exact--
			} else {
				delete(recording.callers, caller)
			}
			if recording.users--; recording.users == 0 {
				runtime.MemProfileRate = recording.saved
				recording.stopped = false
			}
		})
	}
	stopped = func() bool {
		recording.Lock()
		defer recording.Unlock()
		return recording.stops != stops
	}
	return release, stopped
}

// spent reports whether every caller recording is past its stack budget,
// once those found waiting (Waiting) have started theirs again.
// recording is held.
func spent() bool {
	if recording.exact > 0 {
		return false
	}
	now, budget := heapAllocs(), StackBudget.Load()
	var owned []*stackCaller
	for c := range recording.callers {
		if now-c.start <= budget {
			return false
		}
		if c.owner != nil {
			owned = append(owned, c)
		}
	}
	if len(owned) == 0 || Waiting == nil {
		return true
	}
	owners := make([]any, len(owned))
	for i, c := range owned {
		owners[i] = c.owner
	}
	again := false
	for i, waiting := range Waiting(owners) {
		if i >= len(owned) {
			break
		}
		// One found waiting before and running now began to run since
		// its budget started again, perhaps just before this look: its
		// budget starts once more, from a moment it runs.
		if c := owned[i]; waiting || c.waited {
			c.start, c.waited, again = now, waiting, true
		}
	}
	return !again
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
// profile only when a GC cycle ends, so it runs two first.
func MemProfile() []runtime.MemProfileRecord {
	runtime.GC()
	runtime.GC()
	return PublishedMemProfile()
}

// PublishedMemProfile returns the memory profile as the last GC cycles
// published it, without running one: cheap, but allocations since the last
// cycle are missing.
func PublishedMemProfile() []runtime.MemProfileRecord {
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs := make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			return recs[:n]
		}
	}
}
