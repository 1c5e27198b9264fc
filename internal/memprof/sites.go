package memprof

import (
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"

	"github.com/residue-go/residue/internal/stack"
)

// Sites is the memory profile flushed once, to be searched for the stacks
// that allocated at a given place: a go statement allocates the closure it
// starts (or the wrapper holding its arguments) on the stack of the goroutine
// that runs it, so these stacks tell how a goroutine's creation was reached.
// Records are symbolized only as far as a search needs.
type Sites struct {
	recs      []StackRecord
	whole     bool // the records' stacks are whole (see PublishedRecords)
	release   func()
	published Objects       // the profile as published before the flush
	recent    map[Key]bool  // stacks that allocated since then (see recentKey)
	recentSet bool          // recent is computed
	full      []StackRecord // read when a matching record is cut at 32 frames
	fullT     bool
}

// FlushSites runs the two GC cycles that publish every allocation made so
// far and returns the profile to search, which holds a read of the profile
// until Release is called. It notes which stacks allocated since the
// profile was last published: the runtime publishes allocations when a GC
// cycle ends (its sweep done), so when no cycle ended since some moment
// (see GCCycles), every allocation made after it is recent (see
// Stack.Recent).
func FlushSites() *Sites {
	published := PublishedObjects()
	recs, whole, release := FlushedRecords()
	return &Sites{recs: recs, whole: whole, release: release, published: published}
}

// PublishedSites is FlushSites without GC cycles, for a caller that knows
// the profile as last published holds what it looks for
// (probes.Run.ProfileHoldsBlock). Every stack is then Recent: nothing
// tells.
func PublishedSites() *Sites {
	recs, whole, release := PublishedRecords()
	return &Sites{recs: recs, whole: whole, release: release, recentSet: true}
}

// Release lets the next read of the profile reuse the records (see
// PublishedRecords); s must not be searched after.
func (s *Sites) Release() { s.release() }

// recentKey reports whether the stack of key k allocated since the profile
// was last published before the flush; every stack is when nothing tells
// (until a GC cycle has published something, runtime.MemProfile shows every
// allocation). Worked out on first use: a search that finds nothing needs
// no sums of the profile's records.
func (s *Sites) recentKey(k Key) bool {
	if !s.recentSet {
		s.recentSet = true
		s.recent = map[Key]bool{}
		for i := range s.recs {
			if s.recs[i].AllocObjects > s.published.Of(len(s.recs), i) {
				s.recent[KeyOf(s.recs[i].Stack)] = true
			}
		}
		if len(s.recent) == 0 {
			s.recent = nil
		}
	}
	return s.recent == nil || s.recent[k]
}

// GCCycles returns how many GC cycles have ended since the process started,
// cheaply: no GC, no stop of the world, no allocation.
func GCCycles() uint64 { return counter("/gc/cycles/total:gc-cycles") }

// counter reads a runtime/metrics counter, 0 when the runtime has none by
// that name. It reads into a sample kept for it: a fresh one escapes to the
// heap, and counters are read as every block returns (probes.Run keeps the
// GC cycles then) and as a recording's budget is checked, while the
// block's allocations are recorded with their stacks.
func counter(name string) uint64 {
	counterSample.Lock()
	defer counterSample.Unlock()
	s := counterSample.s[:]
	s[0].Name = name
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

var counterSample struct {
	sync.Mutex
	s [1]metrics.Sample
}

// site returns the innermost frame of pcs outside the runtime: the code
// that allocated.
func (s *Sites) site(pcs []uintptr) (stack.Frame, bool) {
	for _, pc := range pcs {
		if pc == 0 {
			break
		}
		for _, f := range FramesAt(pc) {
			if !stack.IsRuntime(f.Func) {
				return f, true
			}
		}
	}
	return stack.Frame{}, false
}

// Stack is the whole stack of an allocation, innermost first.
type Stack struct {
	Frames []stack.Frame
	// Entry is where the outermost function outside the runtime (the
	// goroutine's entry) is declared: for a closure or a go statement's
	// wrapper, the line of the go statement that started it, when the go
	// statement and its func literal start on one line.
	Entry stack.Frame
	// Recent is set when the stack allocated since the profile was last
	// published, before FlushSites ran its GC cycles; on every stack when the
	// profile cannot tell.
	Recent bool
}

// At returns the whole stacks of the allocations made in function fn (at
// line of file, when line is not 0), each stack once. Objects freed since
// count: what matters is where they were allocated.
func (s *Sites) At(fn, file string, line int) []Stack {
	at := sitesIndex.records(s, fn, file, line)
	var out []Stack
	for _, i := range at {
		r := &s.recs[i]
		stacks := [][]uintptr{r.Stack}
		if s.cut(r.Stack) {
			stacks = s.wholeOf(r.Stack)
		}
		for _, pcs := range stacks {
			st := Stack{Frames: Symbolize(pcs), Entry: Entry(pcs), Recent: s.recentKey(KeyOf(r.Stack))}
			if !slices.ContainsFunc(out, func(o Stack) bool { return slices.Equal(o.Frames, st.Frames) }) {
				out = append(out, st)
			}
		}
	}
	return out
}

// sitesIndex lists, for each allocation site, the buckets of the memory
// profile that allocated there, by age (see Objects): a bucket's stack
// never changes and the runtime never frees one, so each is looked at once
// in the process's life, not at every search of every read. Indexing the
// whole profile (tens of thousands of records) took 10–15 ms a search in
// echo's tests that leave goroutines.
var sitesIndex = siteIndex{byFrame: map[stack.Frame][]int{}}

type siteIndex struct {
	sync.Mutex
	ages    int                   // the buckets indexed: ages 0 to ages-1
	byFrame map[stack.Frame][]int // ages, oldest first
}

// records returns the indexes in s.recs, in order, of the records that
// allocated in fn (at line of file, when line is not 0), indexing first the
// buckets of s no earlier search has.
func (x *siteIndex) records(s *Sites, fn, file string, line int) []int {
	n := len(s.recs)
	x.Lock()
	defer x.Unlock()
	for ; x.ages < n; x.ages++ {
		if f, ok := s.site(s.recs[n-1-x.ages].Stack); ok {
			x.byFrame[f] = append(x.byFrame[f], x.ages)
		}
	}
	var at []int
	add := func(ages []int) {
		for _, age := range ages {
			if age < n { // a bucket made since s was read is not in it
				at = append(at, n-1-age)
			}
		}
	}
	if line != 0 {
		add(x.byFrame[stack.Frame{Func: fn, File: file, Line: line}])
	} else {
		for f, ages := range x.byFrame {
			if f.Func == fn {
				add(ages)
			}
		}
	}
	slices.Sort(at)
	return at
}

// cut reports whether a record's stack may be cut at runtime.MemProfile's
// 32 frames.
func (s *Sites) cut(stk []uintptr) bool { return !s.whole && len(stk) == 32 }

// wholeOf returns the full stacks of the records that runtime.MemProfile cut
// at 32 frames into cut, from the heap profile's text form; cut itself when
// no record there starts with it.
func (s *Sites) wholeOf(cut []uintptr) [][]uintptr {
	if !s.fullT {
		s.full, s.fullT = FullStackProfile(), true
	}
	var out [][]uintptr
	for _, r := range s.full {
		if len(r.Stack) > len(cut) && slices.Equal(r.Stack[:len(cut)], cut) {
			out = append(out, r.Stack)
		}
	}
	if len(out) == 0 {
		out = append(out, cut)
	}
	return out
}

// Entry returns where the outermost function of pcs outside the runtime is
// declared: for a goroutine's stack whose entry is a closure, the line of
// the go statement that started it.
func Entry(pcs []uintptr) stack.Frame {
	for i := len(pcs) - 1; i >= 0; i-- {
		f := runtime.FuncForPC(pcs[i] - 1)
		if pcs[i] == 0 || f == nil || stack.IsRuntime(f.Name()) {
			continue
		}
		file, line := f.FileLine(f.Entry())
		return stack.Frame{Func: f.Name(), File: file, Line: line}
	}
	return stack.Frame{}
}
