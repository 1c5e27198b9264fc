package fds

import (
	"runtime"
	"slices"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/probes"
)

// The constructors whose allocations mark the creation of a descriptor's Go
// object: every net.Conn and net.Listener holds a *net.netFD made by
// net.newFD, every *os.File a *os.file made by os.newFile.
const (
	netConstructor = "net.newFD"
	osConstructor  = "os.newFile"
)

// heapRecord is one record of the memory profile, with its full stack (the
// records runtime.MemProfile returns stop at 32 frames, which a deep test
// stack exceeds before it reaches the block).
type heapRecord struct {
	inUse, allocs int64
	frames        []probes.Frame
	entry         probes.Frame // where the stack's outermost function is declared (memprof.Entry)
}

// runAllocations is what the memory profile says the run allocated.
type runAllocations struct {
	// fds are the records through a descriptor constructor with objects
	// still in use, allocs counting only the run's.
	fds []heapRecord
	// recs is the profile read, valid until release is called; others
	// indexes the run's other allocation records in it, unsymbolized (see
	// startedFrom). With tests running in parallel they were thousands,
	// and a copy of each made a third of an attribution's time.
	recs    []memprof.StackRecord
	others  []int32
	release func()
}

// runHeapRecords flushes the memory profile and returns what was allocated
// since the baseline; the caller must call its release. The records' stacks
// are whole where the runtime's records are read directly; where they are
// runtime.MemProfile's, cut at 32 frames, and a descriptor's is cut there,
// the records with whole stacks are read from the heap profile's text form
// instead.
//
// With cycled, the first of the two GC cycles that flush the profile ran
// after the descriptors were seen open (see cycleFrom): one more runs.
func runHeapRecords(baseline memprof.Objects, cycled bool) runAllocations {
	var out runAllocations
	cut := false
	var recs []memprof.StackRecord
	var whole bool
	var release func()
	if cycled {
		runtime.GC()
		recs, whole, release = memprof.PublishedRecords()
	} else {
		recs, whole, release = memprof.FlushedRecords()
	}
	out.recs, out.release = recs, release
	// By index: a copy of each record would escape (r.Stack), one heap
	// allocation per record of the profile, each of them recorded in turn.
	for i := range recs {
		r := &recs[i]
		delta := r.AllocObjects - baseline.Of(len(recs), i)
		if delta <= 0 {
			continue
		}
		if !constructors.In(r.Stack[:min(4, len(r.Stack))]) {
			out.others = append(out.others, int32(i))
			continue
		}
		if r.InUseObjects == 0 {
			continue
		}
		if !whole && len(r.Stack) == 32 {
			cut = true
			continue
		}
		out.fds = append(out.fds, heapRecord{inUse: r.InUseObjects, allocs: delta, frames: memprof.Symbolize(r.Stack), entry: memprof.Entry(r.Stack)})
	}
	if cut {
		// What a key gained is known from the records above (keys are
		// shared by stacks deeper than 32 frames that differ only below
		// the cut); the full stacks sharing it are kept while still in
		// use (attribution then keeps those whose full stack holds the
		// run's marker).
		gained := baseline.Gained(recs)
		out.fds = out.fds[:0]
		for _, r := range memprof.FullStackProfile() {
			if !constructors.In(r.Stack[:min(4, len(r.Stack))]) {
				continue
			}
			if g := gained[memprof.KeyOf(r.Stack)]; g > 0 && r.InUseObjects > 0 {
				out.fds = append(out.fds, heapRecord{inUse: r.InUseObjects, allocs: min(r.AllocObjects, g), frames: memprof.Symbolize(r.Stack), entry: memprof.Entry(r.Stack)})
			}
		}
	}
	return out
}

// startedFrom looks, among the run's allocations, for one made in the
// function that declares the closure entry (a goroutine's entry function)
// on the stack of the block's own goroutine, and returns that stack from
// there out to the block. A go statement allocates the closure it starts,
// at the line the closure is declared on, so this is the path from the
// block to the go statement; an allocation of that function at another
// line is taken only when none is at that line. It finds nothing for a run
// that shares its marker frame.
func (a *runAllocations) startedFrom(entry probes.Frame, r *probes.Run) []probes.Frame {
	fn := closureParent(entry.Func)
	if fn == "" || !r.Exclusive() {
		return nil
	}
	calls := memprof.CallerOf(func(name string) bool { return name == fn })
	var other []probes.Frame
	for _, i := range a.others {
		stk := a.recs[i].Stack
		if !calls.In(stk) {
			continue
		}
		frames := memprof.Symbolize(stk)
		at := slices.IndexFunc(frames, func(f probes.Frame) bool { return f.Func == fn })
		if end, _, ok := ownedEnd(frames, r); ok && at >= 0 && end > at {
			if frames[at].File == entry.File && frames[at].Line == entry.Line {
				return frames[at:end]
			}
			if other == nil {
				other = frames[at:end]
			}
		}
	}
	return other
}

// constructors says whether a recorded stack's allocation was made in a
// descriptor constructor (given its innermost frames).
var constructors = memprof.CallerOf(func(name string) bool { return name == netConstructor || name == osConstructor })
