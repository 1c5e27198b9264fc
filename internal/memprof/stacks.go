package memprof

import (
	"bytes"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/residue-go/residue/internal/stack"
)

// StackRecord is one record of the memory profile with its whole stack.
type StackRecord struct {
	InUseObjects int64
	AllocObjects int64     // since the process started
	Stack        []uintptr // return addresses, innermost first
}

// FullStackProfile returns every record of the memory profile with its stack
// up to the runtime's profiling depth (GODEBUG=profstackdepth, 128 frames by
// default), where runtime.MemProfile keeps only the innermost 32: a block
// that allocates deep in its call tree has its marker frame below the cut.
// It runs no GC: call MemProfile first for current figures.
func FullStackProfile() []StackRecord {
	if !readsDeep {
		return textStackProfile()
	}
	var buf offHeap[deepRecord]
	defer buf.release()
	recs := readDeep(&buf)
	out := make([]StackRecord, len(recs))
	for i := range recs {
		out[i] = recs[i].record()
	}
	return out
}

// textStackProfile is FullStackProfile read from the heap profile's text
// form, whose counts are the runtime's own, unscaled: for a runtime whose
// records readDeep cannot read. Each record's frames are written out
// symbolized, which made it about a hundred milliseconds for a profile of
// forty thousand records.
func textStackProfile() []StackRecord {
	var buf bytes.Buffer
	_ = pprof.Lookup("heap").WriteTo(&buf, 1)
	var out []StackRecord
	for _, line := range strings.Split(buf.String(), "\n") {
		// "1: 112 [3: 336] @ 0x4f3a1 0x4f2b0 …"; the "#\t" lines that follow
		// symbolize the same addresses, which Symbolize does exactly.
		counts, pcs, ok := strings.Cut(line, " @ ")
		if !ok {
			continue
		}
		f := strings.FieldsFunc(counts, func(c rune) bool { return c == ':' || c == ' ' || c == '[' || c == ']' })
		if len(f) != 4 {
			continue
		}
		inUse, err1 := strconv.ParseInt(f[0], 10, 64)
		allocs, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		r := StackRecord{InUseObjects: inUse, AllocObjects: allocs}
		for _, s := range strings.Fields(pcs) {
			pc, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
			if err != nil {
				r.Stack = nil
				break
			}
			r.Stack = append(r.Stack, uintptr(pc))
		}
		if r.Stack != nil {
			out = append(out, r)
		}
	}
	return out
}

// Symbolize returns the frames of a recorded stack (return addresses, up to
// the first zero), inlined calls included, innermost first.
func Symbolize(pcs []uintptr) []stack.Frame {
	n := 0
	for n < len(pcs) && pcs[n] != 0 {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]stack.Frame, 0, n)
	for _, pc := range pcs[:n] {
		out = append(out, FramesAt(pc)...)
	}
	return out
}

// symbols caches FramesAt: a binary's code does not change, and probes
// symbolize the same return addresses check after check — often while
// another check records every allocation, when each allocation FramesAt
// made would cost a stack walk (a map of its own, rather than a sync.Map,
// boxes neither the address nor the frames it stores).
var symbols = struct {
	sync.RWMutex
	frames map[uintptr][]stack.Frame
}{frames: map[uintptr][]stack.Frame{}}

// FramesAt returns the frames of one return address of a recorded stack,
// inlined calls expanded, innermost first. The slice is shared: read only.
func FramesAt(pc uintptr) []stack.Frame {
	symbols.RLock()
	f, ok := symbols.frames[pc]
	symbols.RUnlock()
	if ok {
		return f
	}
	var out []stack.Frame
	frames := runtime.CallersFrames([]uintptr{pc})
	for {
		f, more := frames.Next()
		out = append(out, stack.Frame{Func: f.Function, File: f.File, Line: f.Line})
		if !more {
			break
		}
	}
	out = slices.Clip(out)
	symbols.Lock()
	defer symbols.Unlock()
	if f, ok := symbols.frames[pc]; ok {
		return f
	}
	symbols.frames[pc] = out
	return out
}

// Caller says of recorded stacks whether one of their frames (up to the
// first zero, inlined calls included) is in a function fn says yes to.
// It remembers its answer for each return address: the records of the
// profile share most of theirs, and a probe looking through tens of
// thousands of them asked again for each. Safe for concurrent use.
type Caller struct {
	fn   func(name string) bool
	mu   sync.Mutex
	seen map[uintptr]bool
}

// maxCallerPCs bounds the return addresses a Caller remembers.
const maxCallerPCs = 1 << 18

// CallerOf returns a Caller of the functions fn says yes to.
func CallerOf(fn func(name string) bool) *Caller {
	return &Caller{fn: fn, seen: map[uintptr]bool{}}
}

// In reports whether the stack pcs calls one of the Caller's functions.
func (c *Caller) In(pcs []uintptr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) > maxCallerPCs {
		clear(c.seen)
	}
	for _, pc := range pcs {
		if pc == 0 {
			return false
		}
		is, ok := c.seen[pc]
		if !ok {
			is = slices.ContainsFunc(FramesAt(pc), func(f stack.Frame) bool { return c.fn(f.Func) })
			c.seen[pc] = is
		}
		if is {
			return true
		}
	}
	return false
}

// ReadCutStacks makes the reads of the memory profile go through
// runtime.MemProfile, with stacks cut at 32 frames, and the heap profile's
// text form, as on a release whose records are not read directly, until
// restore is called: for tests of that way, on a release whose records are.
// Not safe while another goroutine reads the profile.
func ReadCutStacks() (restore func()) {
	old := readsDeep
	readsDeep = false
	return func() { readsDeep = old }
}
