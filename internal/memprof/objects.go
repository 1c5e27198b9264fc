package memprof

import (
	"runtime"
	"sync"
)

// Key identifies a recorded stack by a hash of its first 32 return
// addresses (those runtime.MemProfileRecord.Stack0 holds). Stacks deeper
// than 32 frames that differ only below the cut share a key. A map keyed
// by the stack itself would store each 256-byte key in an allocation of
// its own, which, while every allocation is recorded, costs a stack walk
// per entry.
type Key uint64

// KeyOf returns the key of a stack.
func KeyOf(stk []uintptr) Key {
	h := uint64(14695981039346656037) // FNV-1a over the words, zero past the stack
	for i := range 32 {
		var pc uintptr
		if i < len(stk) {
			pc = stk[i]
		}
		h ^= uint64(pc)
		h *= 1099511628211
	}
	return Key(h)
}

// Objects is how many objects each record of the memory profile had
// allocated at one moment, cumulative since the process started: one
// figure per bucket of the runtime's profile, the oldest first. The
// runtime never frees a bucket and puts each new one at the head of its
// list, which runtime.MemProfile reads from the head (with inuseZero, every
// bucket): the records of any later read end with the same buckets in the
// same order. A record's figure is so found by its age (Of), without its
// stack hashed into a map: that map, built at every read after a GC cycle,
// was 40–60 ms of a module's checks.
type Objects []int64

// ObjectsOf returns the records' allocated objects, by bucket.
func ObjectsOf(recs []runtime.MemProfileRecord) Objects {
	out := make(Objects, len(recs))
	for i := range recs {
		out[len(recs)-1-i] = recs[i].AllocObjects
	}
	return out
}

// Of returns o's figure for record i of a read of n records, made when o
// was or later: 0 for a bucket made since.
func (o Objects) Of(n, i int) int64 {
	if age := n - 1 - i; age < len(o) {
		return o[age]
	}
	return 0
}

// Gained returns, by stack key, how many objects the records of recs (a
// read made after o, with stacks cut at 32 frames) allocated since o: for
// looking up records read with whole stacks (FullStackProfile), whose
// first 32 frames are their key.
func (o Objects) Gained(recs []StackRecord) map[Key]int64 {
	out := map[Key]int64{}
	for i := range recs {
		if g := recs[i].AllocObjects - o.Of(len(recs), i); g > 0 {
			out[KeyOf(recs[i].Stack)] += g
		}
	}
	return out
}

// published caches PublishedObjects: the published profile changes only
// when a GC cycle ends, so while the count of ended cycles stays the same
// every caller gets the same (read-only) sums.
var published struct {
	sync.Mutex
	cycles uint64
	objs   Objects
	buf    offHeap[deepRecord] // the last direct read's, for the next
}

// PublishedObjects returns ObjectsOf the profile as the last GC cycles
// published it, without running one; allocations since the last cycle are
// missing. The result is shared: callers must not change it.
func PublishedObjects() Objects {
	// Read the count first: a cycle ending after it makes the next call
	// read the profile again; never the other way round.
	cycles := GCCycles()
	published.Lock()
	defer published.Unlock()
	if published.objs == nil || published.cycles != cycles {
		published.objs, published.cycles = readObjects(&published.buf), cycles
	}
	return published.objs
}

// readObjects is ObjectsOf a read of the published profile: read directly
// into buf when the release allows (the buffer is kept for the next read),
// else through runtime.MemProfile.
func readObjects(buf *offHeap[deepRecord]) Objects {
	if !readsDeep {
		recs, release := PublishedMemProfile()
		defer release()
		return ObjectsOf(recs)
	}
	recs := readDeep(buf)
	out := make(Objects, len(recs))
	for i := range recs {
		out[len(recs)-1-i] = recs[i].AllocObjects
	}
	return out
}
